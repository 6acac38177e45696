// The console's journeys. Each takes `t`: { base, password, v (variant), page, shot(name) }.
import { readFileSync } from "node:fs";

import { unzipSync, strFromU8 } from "fflate";

import { assert, assertEq, parseNumber } from "./lib/harness.mjs";

const ADMIN = "px.admin@demo.px360.sa";
let serial = 0;

/** Collects uncaught page errors and CSP violations (the console must run without inline script). */
export async function watchErrors(page) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(`page error on ${page.url()}: ${e.message}`));
  // The browser's own console message does not say which element broke the policy; the DOM event does.
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      const what = e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 160) : String(e.target);
      console.warn(`px360-csp-violation: ${e.violatedDirective} ${e.sourceFile || ""}:${e.lineNumber}:${e.columnNumber} sample=${JSON.stringify(e.sample)} at ${what}`);
    });
  });
  page.on("console", (m) => {
    if (m.text().startsWith("px360-csp-violation:")) errors.push(`CSP on ${page.url()}: ${m.text()}`);
  });
  return errors;
}

/** `<html lang dir>` and the matching Bootstrap stylesheet, actually loaded. */
export async function assertLanguage(page, lang) {
  const got = await page.evaluate(() => {
    const sheets = [...document.styleSheets].filter((x) => x.href && /\/bootstrap(\.rtl)?\.min\./.test(x.href));
    let rules = 0;
    for (const sh of sheets) {
      try { rules += sh.cssRules.length; } catch { /* cross-origin: not here */ }
    }
    return {
      lang: document.documentElement.getAttribute("lang"),
      dir: document.documentElement.getAttribute("dir"),
      computedDir: getComputedStyle(document.body).direction,
      bootstrap: sheets.map((x) => x.href),
      rules,
    };
  });
  const rtl = lang === "ar";
  assertEq(got.lang, lang, "html lang");
  assertEq(got.dir, rtl ? "rtl" : "ltr", "html dir");
  assertEq(got.computedDir, rtl ? "rtl" : "ltr", "computed direction of body");
  assertEq(got.bootstrap.length, 1, `one Bootstrap stylesheet (${got.bootstrap.join(", ")})`);
  assertEq(/bootstrap\.rtl\.min\./.test(got.bootstrap[0]), rtl, `RTL Bootstrap loaded for ${lang} (${got.bootstrap[0]})`);
  assert(got.rules > 100, `Bootstrap stylesheet has rules (${got.rules})`);
}

/** Signed-in users keep their own language: switch with the topbar button when it differs. */
export async function ensureLanguage(page, lang) {
  const current = await page.evaluate(() => document.documentElement.getAttribute("lang"));
  if (current !== lang) {
    await Promise.all([page.waitForNavigation(), page.locator('header [data-testid="lang-switch"]').click()]);
  }
  await assertLanguage(page, lang);
}

export async function signIn(t, email) {
  const { page, base, password } = t;
  await page.goto(`${base}/login/`);
  await page.fill("#email", email);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(`${base}/`), page.locator('[data-testid="login-form"] button[type="submit"]').click()]);
}

async function openSidebarIfPhone(t) {
  if (!t.v.phone) return;
  await t.page.locator('button[aria-controls="sidebar"]').click();
  await t.page.locator("#sidebar.show").waitFor();
}

async function closeSidebarIfPhone(t) {
  if (!t.v.phone) return;
  await t.page.locator("#sidebar .btn-close").click();
  await t.page.locator("#sidebar").waitFor({ state: "hidden" });
}

// 1 ---------------------------------------------------------------------------------------------------
export async function login(t) {
  const { page, base, v } = t;
  await page.goto(`${base}/login/`);
  await assertLanguage(page, v.lang);
  await t.shot("01-login");
  await page.fill("#email", ADMIN);
  await page.fill("#password", "not-the-password");
  await Promise.all([page.waitForLoadState("load"), page.locator('[data-testid="login-form"] button[type="submit"]').click()]);
  const err = page.locator('[data-testid="login-error"]');
  await err.waitFor();
  assert((await err.innerText()).trim().length > 0, "the login error has text");
  assertEq(await page.inputValue("#email"), ADMIN, "email kept after a wrong password");
  await assertLanguage(page, v.lang);
  await t.shot("01-login-error");

  await page.fill("#password", t.password);
  await Promise.all([page.waitForURL(`${base}/`), page.locator('[data-testid="login-form"] button[type="submit"]').click()]);
  await ensureLanguage(page, v.lang);
  const cards = page.locator('[data-testid="stat-cards"] .stat-card');
  await cards.first().waitFor();
  assert((await cards.count()) >= 3, `dashboard shows stat cards (${await cards.count()})`);
  const first = (await cards.first().locator(".stat-value").innerText()).trim();
  assert(parseNumber(first) >= 0, `a stat card shows a number (${first})`);
  await t.shot("02-dashboard");
}

// layout: sidebar as a column on desktop, an offcanvas behind the hamburger on the phone ------------------
export async function layout(t) {
  const { page, v } = t;
  await assertLanguage(page, v.lang);
  const burger = page.locator('button[aria-controls="sidebar"]');
  const sidebar = page.locator("#sidebar");
  const width = page.viewportSize().width;
  if (!v.phone) {
    assert(!(await burger.isVisible()), "no hamburger on the desktop");
    assert(await sidebar.isVisible(), "sidebar visible on the desktop");
    const box = await sidebar.boundingBox();
    if (v.lang === "ar") assert(box.x + box.width > width - 5, `RTL: sidebar on the right (x=${box.x}, w=${box.width})`);
    else assert(box.x < 5, `LTR: sidebar on the left (x=${box.x})`);
    return;
  }
  assert(await burger.isVisible(), "hamburger visible on the phone");
  assert(!(await sidebar.isVisible()), "sidebar hidden until the hamburger is pressed");
  const noOverflow = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
  assert(noOverflow, "the dashboard does not scroll sideways on the phone");
  await burger.click();
  await page.locator("#sidebar.show").waitFor();
  await page.waitForTimeout(400); // the slide-in transition, for the screenshot and the position
  const box = await sidebar.boundingBox();
  if (v.lang === "ar") assert(box.x + box.width > width - 5 && box.x > 0, `RTL: offcanvas slides in from the right (x=${box.x}, w=${box.width})`);
  else assert(box.x < 5, `LTR: offcanvas slides in from the left (x=${box.x})`);
  assert(await page.locator('#sidebar a[href="/organizations/patients/"]').isVisible(), "sidebar links visible in the offcanvas");
  await t.shot("03-offcanvas");
  await closeSidebarIfPhone(t);
}

// 2 ---------------------------------------------------------------------------------------------------
export async function createDepartment(t) {
  const { page, base, v } = t;
  serial += 1;
  const code = `BT${serial}${Date.now() % 10000}`;
  const nameEn = `Browser Test ${v.name} ${serial}`;
  const nameAr = `قسم اختبار المتصفح ${serial}`;
  await page.goto(`${base}/organizations/departments/new/`);
  await assertLanguage(page, v.lang);
  await page.waitForSelector("#id_hospital.tomselected", { state: "attached" });

  // Invalid: no hospital, no Arabic name, no category.
  await page.fill("#id_code", code);
  await page.fill("#id_name_en", nameEn);
  await Promise.all([page.waitForLoadState("load"), page.locator('[data-testid="save"]').click()]);
  await page.waitForSelector("#err_name_ar");
  for (const key of ["hospital", "name_ar", "category"]) {
    const err = page.locator(`#err_${key}`);
    assert(await err.isVisible(), `error shown for ${key}`);
    assert((await err.innerText()).trim().length > 0, `error for ${key} has text`);
    // Beside the field: the message sits in the same form column as its input and is described by it.
    const sameColumn = await page.evaluate((k) => {
      const input = document.getElementById(`id_${k}`);
      const e = document.getElementById(`err_${k}`);
      return !!input && !!e && input.closest(".col-md-6, .col-12") === e.closest(".col-md-6, .col-12");
    }, key);
    assert(sameColumn, `error for ${key} sits beside its field`);
  }
  assertEq(await page.getAttribute("#id_name_ar", "aria-describedby"), "err_name_ar", "name_ar is described by its error");
  assertEq(await page.getAttribute("#id_name_ar", "aria-invalid"), "true", "name_ar is marked invalid");
  assertEq(await page.inputValue("#id_code"), code, "typed code kept");
  assertEq(await page.inputValue("#id_name_en"), nameEn, "typed English name kept");
  await page.waitForSelector("#id_hospital.tomselected", { state: "attached" });
  await t.shot("04-department-invalid");

  // Tom Select remote search for the hospital.
  // A single select with its placeholder item shown hides the input: click the control, then type.
  await page.locator("#id_hospital + .ts-wrapper .ts-control").click();
  await page.locator("#id_hospital-ts-control").waitFor();
  const query = v.lang === "ar" ? "النور" : "Noor";
  await page.keyboard.type(query, { delay: 60 });
  // Every throttled remote search has answered (none still in flight when the form is posted).
  await page.waitForFunction((q) => {
    const ts = document.getElementById("id_hospital").tomselect;
    return ts && ts.loadedSearches[q] && ts.loading === 0 && ts.isOpen;
  }, query);
  const options = page.locator("#id_hospital-ts-dropdown .option");
  assertEq(await options.count(), 1, "the search narrows the hospitals to one");
  const option = options.filter({ hasText: v.lang === "ar" ? "الرياض" : "Riyadh" });
  await t.shot("05-department-tomselect");
  await option.click();
  await page.waitForFunction(() => !document.getElementById("id_hospital").tomselect.isOpen);
  const hospital = await page.inputValue("#id_hospital");
  assert(/^[0-9a-f-]{36}$/.test(hospital), `hospital picked (${hospital})`);

  await page.fill("#id_name_ar", nameAr);
  const categories = await page.locator("#id_category option").evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
  await page.selectOption("#id_category", categories[0]);
  await Promise.all([
    page.waitForURL(/\/organizations\/departments\/[0-9a-f-]{36}\/$/),
    page.locator('[data-testid="save"]').click(),
  ]);
  const flash = page.locator("main .alert-success");
  await flash.waitFor();
  assert(await flash.isVisible(), "success flash shown");
  const detail = await page.locator("main .detail-list").innerText();
  assert(detail.includes(code), `detail page shows the code ${code}`);
  assert(detail.includes(nameAr), "detail page shows the Arabic name");
  await t.shot("06-department-created");
}

// 3 ---------------------------------------------------------------------------------------------------
async function summaryNumbers(page) {
  const text = (await page.locator('[data-testid="list-summary"]').innerText()).trim();
  const nums = text.match(/[\d\u0660-\u0669][\d\u0660-\u0669,\u066C]*/g) || [];
  assertEq(nums.length, 3, `summary has from, to and count (${text})`);
  const [from, to, count] = nums.map(parseNumber);
  return { from, to, count, text };
}

export async function filterAndPaginate(t) {
  const { page, base, v } = t;
  await page.goto(`${base}/organizations/patients/`);
  await assertLanguage(page, v.lang);
  const all = await summaryNumbers(page);
  assert(all.count >= 100, `demo has patients (${all.text})`);
  // A full page load would drop this marker; htmx swaps keep it.
  await page.evaluate(() => { window.__pxNoReload = "kept"; });

  if (v.phone) {
    const toggle = page.locator('button[aria-controls="filters-panel"]');
    assert(await toggle.isVisible(), "filters toggle visible on the phone");
    await toggle.click();
    await page.locator("#filters-panel.show").waitFor();
  }
  const swapped = () => page.waitForResponse((r) => r.url().includes("/organizations/patients/") && r.request().headers()["hx-request"] === "true");

  await Promise.all([swapped(), page.locator("#f-search").pressSequentially("RUH", { delay: 50 })]);
  await page.waitForURL(/[?&]search=RUH/);
  await page.waitForFunction((before) => {
    const el = document.querySelector('[data-testid="list-summary"]');
    return el && el.textContent.trim() !== before;
  }, all.text);
  const searched = await summaryNumbers(page);
  assert(searched.count < all.count && searched.count > 0, `search narrows the list (${searched.text})`);

  await Promise.all([swapped(), page.selectOption("#f-gender", "FEMALE")]);
  await page.waitForURL(/[?&]gender=FEMALE/);
  await page.waitForFunction((before) => document.querySelector('[data-testid="list-summary"]').textContent.trim() !== before, searched.text);
  const filtered = await summaryNumbers(page);
  assert(filtered.count < searched.count && filtered.count > 25, `gender filter narrows the list, still two pages (${filtered.text})`);
  assert(page.url().includes("search=RUH"), "search kept in the URL with the filter");
  if (v.phone) {
    await page.locator("#list").scrollIntoViewIfNeeded();
  }
  await t.shot("07-patients-filtered");

  const next = page.locator('[data-testid="next-page"]');
  await next.scrollIntoViewIfNeeded();
  await Promise.all([swapped(), next.click()]);
  await page.waitForURL(/[?&]page=2/);
  await page.waitForFunction((before) => document.querySelector('[data-testid="list-summary"]').textContent.trim() !== before, filtered.text);
  const second = await summaryNumbers(page);
  assertEq(second.from, 26, `second page starts at 26 (${second.text})`);
  assertEq(second.count, filtered.count, "the count stays the same on page 2");
  const url = new URL(page.url());
  assertEq(url.searchParams.get("gender"), "FEMALE", "gender kept in the pushed URL");
  assertEq(url.searchParams.get("search"), "RUH", "search kept in the pushed URL");
  const rows = await page.locator("#list tbody tr").count();
  assertEq(rows, second.to - second.from + 1, "rows on page 2");
  assertEq(await page.evaluate(() => window.__pxNoReload), "kept", "no full page reload (htmx swapped #list)");
  // The page's chrome was not swapped into #list.
  assertEq(await page.locator("#list header, #list #sidebar").count(), 0, "#list holds only the table");
  if (v.phone) {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, `the page does not scroll sideways on the phone (${overflow}px); tables scroll in their own box`);
  }
  await t.shot("08-patients-page2");
  t.filteredCount = filtered.count;
}

// 4 ---------------------------------------------------------------------------------------------------
export async function exportList(t) {
  const { page, base } = t;
  if (!page.url().includes("gender=FEMALE")) {
    await page.goto(`${base}/organizations/patients/?search=RUH&gender=FEMALE`);
  }
  const { count } = await summaryNumbers(page);
  const toggle = page.locator("#list .dropdown-toggle", { has: page.locator(".bi-download") });

  const download = async (testid) => {
    await toggle.click();
    const link = page.locator(`[data-testid="${testid}"]`);
    await link.waitFor();
    const [dl] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const failure = await dl.failure();
    assert(!failure, `${testid} download failed: ${failure}`);
    return { name: dl.suggestedFilename(), bytes: readFileSync(await dl.path()) };
  };

  const csv = await download("export-csv");
  assert(csv.name.endsWith(".csv"), `CSV file name (${csv.name})`);
  assert(csv.bytes[0] === 0xef && csv.bytes[1] === 0xbb && csv.bytes[2] === 0xbf, "CSV starts with the UTF-8 BOM");
  const lines = csv.bytes.toString("utf8").slice(1).split(/\r?\n/).filter((l) => l.trim() !== "");
  assertEq(lines.length - 1, count, "CSV data rows = the list's total");

  const xlsx = await download("export-xlsx");
  assert(xlsx.name.endsWith(".xlsx"), `XLSX file name (${xlsx.name})`);
  const files = unzipSync(new Uint8Array(xlsx.bytes));
  const sheetName = Object.keys(files).filter((n) => /^xl\/worksheets\/sheet\d+\.xml$/.test(n)).sort()[0];
  assert(sheetName, `XLSX has a worksheet (${Object.keys(files).join(", ")})`);
  const sheet = strFromU8(files[sheetName]);
  const rows = (sheet.match(/<row[\s>]/g) || []).length;
  assertEq(rows - 1, count, "XLSX data rows (after the header) = the list's total");
}

// 5 ---------------------------------------------------------------------------------------------------
export async function switchLanguage(t) {
  const { page, base, v } = t;
  await page.goto(`${base}/organizations/patients/?search=RUH`);
  const other = v.lang === "ar" ? "en" : "ar";
  const button = page.locator('header [data-testid="lang-switch"]');
  assert(await button.isVisible(), "language button visible in the topbar");
  assertEq(await button.getAttribute("lang"), other, "the button is labelled in the other language");
  await Promise.all([page.waitForNavigation(), button.click()]);
  await assertLanguage(page, other);
  assert(page.url().endsWith("/organizations/patients/?search=RUH"), `stays on the same page (${page.url()})`);
  await t.shot("09-switched");
  await Promise.all([page.waitForNavigation(), page.locator('header [data-testid="lang-switch"]').click()]);
  await assertLanguage(page, v.lang);
}

// 6 ---------------------------------------------------------------------------------------------------
export async function viewerLimits(t, email) {
  const { page, base, v } = t;
  await signIn(t, email);
  await ensureLanguage(page, v.lang);
  const hrefs = await page.locator("#sidebar nav a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  assert(hrefs.includes("/organizations/patients/"), `viewer sees patients in the sidebar (${hrefs.join(" ")})`);
  // SPEC "Roles and scope": a viewer may view users, not API keys, the audit log or the settings.
  assert(hrefs.includes("/accounts/users/"), "viewer sees users (read-only)");
  for (const hidden of ["/accounts/api-keys/", "/audit/log/", "/config/"]) {
    assert(!hrefs.includes(hidden), `viewer's sidebar hides ${hidden}`);
  }
  await openSidebarIfPhone(t);
  if (v.phone) await page.waitForTimeout(400);
  await t.shot("10-viewer-sidebar");
  await closeSidebarIfPhone(t);
  const res = await page.goto(`${base}/accounts/api-keys/`);
  assertEq(res.status(), 403, "viewer typing /accounts/api-keys/");
  await assertLanguage(page, v.lang);
  await t.shot("11-viewer-403");
}

export async function hospitalAdminScope(t, email) {
  const { page, base, v } = t;
  await signIn(t, email);
  await ensureLanguage(page, v.lang);
  await page.goto(`${base}/organizations/hospitals/`);
  const rows = page.locator("#list tbody tr");
  assertEq(await rows.count(), 1, "hospital admin sees one hospital");
  const text = await rows.first().innerText();
  assert(/Riyadh|الرياض/.test(text), `it is the Riyadh hospital (${text.replace(/\s+/g, " ")})`);
  assert(!/Jeddah|جدة/.test(await page.locator("#list").innerText()), "Jeddah is not listed");
  await t.shot("12-hospital-admin-hospitals");
}

// journeys: the template builder (reorder with htmx, the test panel), a journey's stepper, the events console
export async function journeyBuilder(t) {
  const { page, base, v } = t;
  await page.goto(`${base}/journeys/templates/?journey_type=OPD&active=true`);
  await ensureLanguage(page, v.lang);
  await Promise.all([page.waitForURL(/\/journeys\/templates\/[0-9a-f-]{36}\/$/), page.locator("#list tbody tr a").first().click()]);
  const rows = page.locator('#stages [data-testid="stage-row"]');
  await rows.first().waitFor();
  const codes = async () => rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-code")));
  const before = await codes();
  assert(before.length >= 3, `the builder lists the stages (${before.join(", ")})`);
  const noOverflow = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
  assert(noOverflow, "the builder does not scroll sideways");
  await t.shot("20-builder");
  // Move the first stage down (an htmx POST through the service), then back up.
  await rows.first().locator('[data-testid="move-down"]').click();
  await page.waitForFunction((first) => document.querySelector('#stages [data-testid="stage-row"]').getAttribute("data-code") !== first, before[0]);
  const moved = await codes();
  assertEq(moved.slice(0, 2).join(","), [before[1], before[0]].join(","), "the first two stages swapped");
  await rows.nth(1).locator('[data-testid="move-up"]').click();
  await page.waitForFunction((first) => document.querySelector('#stages [data-testid="stage-row"]').getAttribute("data-code") === first, before[0]);
  assertEq((await codes()).join(","), before.join(","), "the order is back");
  // The test panel: the first stage's trigger completes the first stage; nothing is saved.
  const trigger = (await rows.first().locator("code").nth(1).innerText()).trim();
  await page.fill("#test-code", trigger);
  await page.locator('[data-testid="run-test"]').click();
  const result = page.locator('#test-result [data-testid="test-result"]');
  await result.waitFor();
  assertEq(await result.getAttribute("data-stage"), before[0], "the test panel names the first stage");
  await result.scrollIntoViewIfNeeded();
  await t.shot("21-builder-test");

  // A journey with a skipped stage: the stepper reads in the page's direction (stacked on a phone).
  await page.goto(`${base}/journeys/instances/?stage_status=SKIPPED`);
  await Promise.all([page.waitForURL(/\/journeys\/instances\/[0-9a-f-]{36}\/$/), page.locator("#list tbody tr a").first().click()]);
  const steps = page.locator('[data-testid="stepper"] .stepper-step');
  await steps.first().waitFor();
  const first = await steps.first().boundingBox();
  const last = await steps.last().boundingBox();
  if (v.phone) assert(first.y < last.y && Math.abs(first.x - last.x) < 2, "phone: the stepper is stacked");
  else if (v.lang === "ar") assert(first.x > last.x, `RTL: the first stage is on the right (${first.x} > ${last.x})`);
  else assert(first.x < last.x, `LTR: the first stage is on the left (${first.x} < ${last.x})`);
  assert(await page.locator(".stepper-skipped").count() >= 1, "a skipped stage is shown as such");
  assert(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), "the journey page does not scroll sideways");
  await t.shot("22-journey");
  await page.locator('[data-testid="timeline"]').scrollIntoViewIfNeeded();
  await t.shot("23-journey-timeline");

  // The events console, dead events first.
  await page.goto(`${base}/integrations/events/?status=DEAD`);
  await page.locator("#list tbody tr").first().waitFor();
  await t.shot("24-events-dead");
  await Promise.all([page.waitForURL(/\/integrations\/events\/[0-9a-f-]{36}\/$/), page.locator("#list tbody tr a").first().click()]);
  await page.locator('[data-testid="reprocess"]').waitFor();
  await t.shot("25-event-detail");
}
