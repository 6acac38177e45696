#!/usr/bin/env node
// PX360 console browser tests.
//
//   node tests/browser/run.mjs [path/to/px360]      (or PX360_BIN=…)
//
// Starts `px360 serve --demo` on a fresh SQLite file and a free port, drives Debian's chromium
// (/usr/bin/chromium, through playwright-core: no browser is downloaded) through the console's main
// journeys in English and Arabic, on a desktop and a 390×844 phone viewport, runs axe-core on a login,
// list, form and detail page of each, and writes screenshots to target/browser/. Exits non-zero on any
// failure. `cargo test --test browser` runs it (tests/browser.rs).
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { axeCheck, formatViolations } from "./lib/axe.mjs";
import { Harness } from "./lib/harness.mjs";
import { startServer } from "./lib/server.mjs";
import * as s from "./scenarios.mjs";
import { randomBytes } from "node:crypto";
import { publicForm } from "./surveys.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..", "..");
const CHROMIUM = process.env.PX360_CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const VARIANTS = [
  { name: "desktop-en", lang: "en", phone: false },
  { name: "desktop-ar", lang: "ar", phone: false },
  { name: "phone-en", lang: "en", phone: true },
  { name: "phone-ar", lang: "ar", phone: true },
].filter((v) => !process.env.PX360_BROWSER_ONLY || v.name.includes(process.env.PX360_BROWSER_ONLY));

function contextOptions(v, extra = {}) {
  const base = v.phone
    ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 }
    : { viewport: { width: 1366, height: 900 }, deviceScaleFactor: 1 };
  return {
    ...base,
    locale: v.lang === "ar" ? "ar-SA" : "en-US",
    timezoneId: "Asia/Riyadh",
    acceptDownloads: true,
    ...extra,
  };
}

async function main() {
  const bin = process.argv[2] || process.env.PX360_BIN;
  if (!bin) {
    console.error("usage: node tests/browser/run.mjs <path to px360 binary>   (or set PX360_BIN)");
    process.exit(2);
  }
  const h = new Harness(path.join(repoRoot, "target", "browser"));
  // A known secret lets the survey test derive a demo survey's link as the invitation would carry it.
  const secret = randomBytes(32).toString("hex");
  const server = await startServer(path.resolve(bin), { env: { PX360_SECRET_KEY: secret } });
  console.log(`px360 demo server at ${server.base}`);
  let browser;
  try {
    // launch() gives chromium a fresh, empty profile directory of its own (and removes it on close);
    // every variant and role then gets an isolated context with its own viewport and cookies.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const env = { base: server.base, password: server.password, h };
    for (const v of VARIANTS) {
      await runVariant(browser, env, v);
    }
    if (!process.env.PX360_BROWSER_ONLY || process.env.PX360_BROWSER_ONLY === "survey") {
      await publicForm(browser, { ...env, secret }, contextOptions);
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
    await server.stop();
  }
  const ok = h.summary();
  if (!ok && process.env.PX360_BROWSER_VERBOSE) console.log(server.logs().slice(-4000));
  process.exit(ok ? 0 : 1);
}

async function runVariant(browser, env, v) {
  const { h } = env;
  console.log(`\n== ${v.name}`);
  const ctx = await browser.newContext(contextOptions(v));
  ctx.setDefaultTimeout(15_000);
  const page = await ctx.newPage();
  const errors = await s.watchErrors(page);
  const t = { ...env, v, page, errors, shot: (name) => h.shot(page, `${v.name}-${name}`) };

  await h.test(`${v.name}: login (wrong password, then the dashboard)`, () => s.login(t), page);
  await h.test(`${v.name}: layout (language, direction, sidebar)`, () => s.layout(t), page);
  await h.test(`${v.name}: create a department (invalid first, Tom Select hospital)`, () => s.createDepartment(t), page);
  await h.test(`${v.name}: filter and paginate patients with htmx`, () => s.filterAndPaginate(t), page);
  await h.test(`${v.name}: export CSV and XLSX`, () => s.exportList(t), page);
  await h.test(`${v.name}: switch language from the topbar and back`, () => s.switchLanguage(t), page);
  await h.test(`${v.name}: journey builder (reorder, test panel), stepper, events console`, () => s.journeyBuilder(t), page);
  await h.test(`${v.name}: no script errors or CSP violations`, async () => {
    if (errors.length) throw new Error(`${errors.length} error(s):\n${[...new Set(errors)].join("\n")}`);
  });
  await ctx.close();

  for (const [role, email] of [
    ["viewer", "viewer@demo.px360.sa"],
    ["hospital-admin", "hospital.admin@demo.px360.sa"],
  ]) {
    const c = await browser.newContext(contextOptions(v));
    c.setDefaultTimeout(15_000);
    const p = await c.newPage();
    const tt = { ...t, page: p, shot: (name) => h.shot(p, `${v.name}-${name}`) };
    if (role === "viewer") {
      await h.test(`${v.name}: a viewer sees no Users/API keys/Audit and gets 403 on /accounts/users/`, () => s.viewerLimits(tt, email), p);
    } else {
      await h.test(`${v.name}: a hospital admin sees only its hospital`, () => s.hospitalAdminScope(tt, email), p);
    }
    await c.close();
  }

  // axe needs its source injected, which the console's CSP forbids; only this context bypasses it.
  const axeCtx = await browser.newContext(contextOptions(v, { bypassCSP: true }));
  axeCtx.setDefaultTimeout(15_000);
  const ap = await axeCtx.newPage();
  const at = { ...env, v, page: ap };
  const audit = async (label) => {
    const r = await axeCheck(ap);
    const minor = r.all.length - r.blocking.length;
    if (r.blocking.length) {
      throw new Error(`axe: ${r.blocking.length} serious/critical violation(s) on ${label} (${ap.url()}):\n${formatViolations(r.blocking)}`);
    }
    if (minor) console.log(`     axe: ${minor} moderate/minor finding(s) on ${label}: ${r.all.filter((x) => !r.blocking.includes(x)).map((x) => x.id).join(", ")}`);
  };
  await h.test(`${v.name}: axe on the login page`, async () => {
    await ap.goto(`${env.base}/login/`);
    await s.assertLanguage(ap, v.lang);
    await audit("login");
  });
  await h.test(`${v.name}: axe on the patients list`, async () => {
    await s.signIn(at, "px.admin@demo.px360.sa");
    await s.ensureLanguage(ap, v.lang);
    await ap.goto(`${env.base}/organizations/patients/`);
    await audit("patients list");
  });
  await h.test(`${v.name}: axe on the new department form`, async () => {
    await ap.goto(`${env.base}/organizations/departments/new/`);
    await ap.waitForSelector("#id_hospital.tomselected", { state: "attached" });
    await audit("new department form");
  });
  await h.test(`${v.name}: axe on a patient's detail page`, async () => {
    await ap.goto(`${env.base}/organizations/patients/`);
    await ap.locator("#list tbody tr a").first().click();
    await ap.waitForURL(/\/organizations\/patients\/[0-9a-f-]{36}\/$/);
    await audit("patient detail");
  });
  await h.test(`${v.name}: axe on a journey template's builder`, async () => {
    await ap.goto(`${env.base}/journeys/templates/`);
    await ap.locator("#list tbody tr a").first().click();
    await ap.waitForURL(/\/journeys\/templates\/[0-9a-f-]{36}\/$/);
    await audit("journey builder");
  });
  await h.test(`${v.name}: axe on a journey's page`, async () => {
    await ap.goto(`${env.base}/journeys/instances/`);
    await ap.locator("#list tbody tr a").first().click();
    await ap.waitForURL(/\/journeys\/instances\/[0-9a-f-]{36}\/$/);
    await audit("journey");
  });
  await axeCtx.close();
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
