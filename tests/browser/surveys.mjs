// The patient's survey form in a real browser: a demo survey's link (derived from the server's
// secret exactly as the invitation message's link is) opened on a 390×844 phone in Arabic — RTL, the
// NPS scale reading right-to-left, branch logic live, friendly validation, submit, thank-you — and the
// pages for an already answered and an invalid link. Also the survey analytics dashboard's charts.
import { createHash, createHmac } from "node:crypto";

import { assert, assertEq } from "./lib/harness.mjs";
import { assertLanguage, ensureLanguage, signIn, watchErrors } from "./scenarios.mjs";

/** The link token of an instance: HMAC-SHA256 under sha256("px360-survey-links\0" + secret). */
export function surveyToken(secret, instanceId) {
  const key = createHash("sha256").update("px360-survey-links\0").update(secret).digest();
  const mac = createHmac("sha256", key).update(Buffer.from(instanceId.replace(/-/g, ""), "hex")).digest();
  return mac.subarray(0, 16).toString("base64url");
}

async function api(base, path, token) {
  const r = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  if (!r.ok) throw new Error(`${path} → ${r.status}`);
  return r.json();
}

async function pick(base, password, stage) {
  const r = await fetch(`${base}/api/auth/token/`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: "px.admin@demo.px360.sa", password }),
  });
  const { access } = await r.json();
  const list = await api(base, `/api/surveys/instances/?status=SENT&stage_code=${stage}&page_size=50`, access);
  const arabic = list.results.filter((i) => i.language === "ar");
  assert(arabic.length > 0, `the demo has an unanswered ${stage} survey for an Arabic-speaking patient`);
  return arabic[0];
}

export async function publicForm(browser, env, contextOptions) {
  const { h, base, password, secret } = env;
  const v = { name: "phone-ar", lang: "ar", phone: true };
  const ctx = await browser.newContext(contextOptions(v));
  ctx.setDefaultTimeout(15_000);
  const page = await ctx.newPage();
  const errors = await watchErrors(page);
  const shot = (n) => h.shot(page, `survey-${n}`);

  await h.test("survey form (phone, Arabic): branch logic, validation, submit, thank-you", async () => {
    const inst = await pick(base, password, "OPD_MD_CONSULT");
    const token = surveyToken(secret, inst.id);
    assert(token.length <= 24, "token fits an SMS");
    const resp = await page.goto(`${base}/s/${token}`);
    assertEq(resp.status(), 200, "form status");
    await assertLanguage(page, "ar");
    const qs = page.locator("fieldset.question");
    const n = await qs.count();
    assert(n >= 4, `questions shown (${n})`);
    // The follow-up text question is hidden until a low rating is chosen.
    const followUp = page.locator("fieldset.question[data-branch]:not([data-branch=''])").first();
    assert(await followUp.isHidden(), "follow-up hidden before any answer");
    await shot("1-opened");
    // Submitting at once: friendly messages per question, in Arabic.
    await page.locator('[data-testid="submit"]').click();
    await page.waitForSelector("#form-error:not(.d-none)");
    const firstError = await page.locator(".question.has-error .question-error").first().textContent();
    assert(/يرجى/.test(firstError || ""), `Arabic validation message (${firstError})`);
    await shot("2-validation");
    // A rating of 1 shows the follow-up; answer everything visible.
    const rating = qs.nth(0);
    await rating.locator("label.scale-1").click();
    await followUp.waitFor({ state: "visible" });
    for (let i = 1; i < n; i++) {
      const fs = qs.nth(i);
      if (await fs.isHidden()) continue;
      const type = await fs.getAttribute("data-type");
      if (type === "TEXT") await fs.locator("textarea").fill("كان الانتظار طويلًا جدًا.");
      else if (type === "MULTIPLE_CHOICE") await fs.locator("label").first().click();
      else await fs.locator("label").first().click();
    }
    const progress = await page.locator("#survey-progress").evaluate((el) => el.value);
    assertEq(progress, 100, "progress complete");
    await shot("3-answered");
    await page.locator('[data-testid="submit"]').click();
    await page.locator('[data-testid="thanks"]').waitFor({ state: "visible" });
    await shot("4-thanks");
    // The same link again: the friendly "already answered" page (HTTP 410).
    const again = await page.goto(`${base}/s/${token}`);
    assertEq(again.status(), 410, "answered link status");
    await page.locator('[data-testid="state-answered"]').waitFor();
    await shot("5-already-answered");
  }, page);

  await h.test("survey form (phone, Arabic): an NPS scale reads right-to-left", async () => {
    const inst = await pick(base, password, "PHARMACY");
    await page.goto(`${base}/s/${surveyToken(secret, inst.id)}`);
    const zero = await page.locator("label.scale-0").first().boundingBox();
    const ten = await page.locator("label.scale-10").first().boundingBox();
    assert(zero && ten && zero.x > ten.x, `0 is on the right in Arabic (0 at ${zero && zero.x}, 10 at ${ten && ten.x})`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(width <= 390, `no horizontal scrolling on a phone (${width}px)`);
    await shot("6-nps");
  }, page);

  await h.test("survey form: an altered link gets the invalid page (404) and reveals nothing", async () => {
    const r = await page.goto(`${base}/s/AAAAAAAAAAAAAAAAAAAAAA`);
    assertEq(r.status(), 404, "invalid link status");
    await page.locator('[data-testid="state-invalid"]').waitFor();
    const text = await page.locator("main").textContent();
    assert(!/مستشفى|Hospital/.test(text || ""), "no hospital named on the invalid page");
    await shot("7-invalid");
  }, page);

  await h.test("survey form: no script errors or CSP violations", async () => {
    if (errors.length) throw new Error(`${errors.length} error(s):\n${[...new Set(errors)].join("\n")}`);
  });
  await ctx.close();

  const d = await browser.newContext(contextOptions({ name: "desktop-ar", lang: "ar", phone: false }));
  d.setDefaultTimeout(15_000);
  const dp = await d.newPage();
  const derrors = await watchErrors(dp);
  await h.test("survey analytics dashboard draws its charts and heatmap (desktop, Arabic)", async () => {
    await signIn({ base, password, page: dp }, "px.admin@demo.px360.sa");
    await dp.goto(`${base}/surveys/analytics/`);
    await ensureLanguage(dp, "ar");
    await dp.locator('[data-testid="heatmap"]').waitFor();
    await dp.waitForFunction(() => [...document.querySelectorAll("canvas[data-chart]")].filter((c) => c.width > 0 && window.Chart && window.Chart.getChart(c)).length >= 4);
    await h.shot(dp, "survey-8-analytics");
    if (derrors.length) throw new Error(derrors.join("\n"));
  }, dp);
  await d.close();
}
