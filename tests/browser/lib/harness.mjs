// A tiny test harness: named checks that record failures and carry on, and a closing tally.
import { mkdirSync } from "node:fs";
import path from "node:path";

export class Harness {
  constructor(shotsDir) {
    this.shotsDir = shotsDir;
    mkdirSync(shotsDir, { recursive: true });
    this.passed = 0;
    this.failed = [];
  }

  /** Runs one check; on failure, `page` (when given) is captured as FAILED-<name>.png. */
  async test(name, fn, page) {
    const t0 = Date.now();
    try {
      await fn();
      this.passed += 1;
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      this.failed.push({ name, error: e });
      if (page) {
        const file = `FAILED-${name.replace(/[^A-Za-z0-9]+/g, "-").replace(/-+$/, "")}`;
        await this.shot(page, file).catch(() => {});
      }
      console.log(`FAIL ${name} (${Date.now() - t0} ms)\n     ${String(e && e.stack ? e.stack : e).split("\n").join("\n     ")}`);
    }
  }

  async shot(page, name) {
    const file = path.join(this.shotsDir, `${name}.png`);
    // From the top, so the sticky topbar is drawn where a person sees it.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }

  summary() {
    console.log("");
    for (const f of this.failed) console.log(`failed: ${f.name}: ${String(f.error && f.error.message ? f.error.message : f.error).split("\n")[0]}`);
    console.log(`${this.passed} passed, ${this.failed.length} failed`);
    return this.failed.length === 0;
  }
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

export function assertEq(actual, expected, message) {
  if (actual !== expected) throw new Error(`${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** "١٬٢٣٤" or "1,234" → 1234 */
export function parseNumber(s) {
  const western = s.replace(/[\u0660-\u0669]/g, (d) => String(d.charCodeAt(0) - 0x0660)).replace(/[,\u066C\s]/g, "");
  const n = Number.parseInt(western, 10);
  if (Number.isNaN(n)) throw new Error(`not a number: ${JSON.stringify(s)}`);
  return n;
}
