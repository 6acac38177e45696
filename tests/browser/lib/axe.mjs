// axe-core in the page. The console's CSP forbids inline script, so axe runs only in contexts
// created with bypassCSP (see run.mjs), never in the contexts that drive the scenarios.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** Runs axe on the current page; returns the violations whose impact is serious or critical. */
export async function axeCheck(page) {
  await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
      resultTypes: ["violations"],
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target.join(" "), html: n.html, summary: n.failureSummary, impact: n.impact })),
    }));
  });
  return {
    all: results,
    blocking: results.filter((v) => v.impact === "serious" || v.impact === "critical"),
  };
}

export function formatViolations(violations) {
  const lines = [];
  for (const v of violations) {
    lines.push(`  [${v.impact}] ${v.id}: ${v.help} (${v.nodes.length} node(s)) ${v.helpUrl}`);
    for (const n of v.nodes.slice(0, 6)) {
      lines.push(`      at ${n.target}`);
      lines.push(`         ${n.html.replace(/\s+/g, " ").slice(0, 200)}`);
      if (n.summary) lines.push(`         ${n.summary.replace(/\n\s*/g, " | ").slice(0, 300)}`);
    }
    if (v.nodes.length > 6) lines.push(`      … and ${v.nodes.length - 6} more`);
  }
  return lines.join("\n");
}
