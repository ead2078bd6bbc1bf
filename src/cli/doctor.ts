/** Text output of `hwflake doctor`. */
import type { DoctorReport } from "../doctor/index.js";
import type { Paint } from "./color.js";

/** The report as lines: one per drift with its code and path, then a verdict. */
export function formatDoctor(r: DoctorReport, source: string, p: Paint): string {
  const out: string[] = [];
  if (r.ok) {
    out.push(`${p.green("✓")} host "${r.host}" matches ${source} (${r.compared} facts compared)`);
  } else {
    out.push(`${p.red("✘")} host "${r.host}" differs from ${source} in ${r.drift.length} fact(s):`);
    const width = Math.max(...r.drift.map((d) => d.code.length));
    for (const d of r.drift) out.push(`  ${p.red(d.code.padEnd(width))}  ${d.path}: ${d.message}`);
  }
  if (r.unchecked.length) out.push(p.dim(`  not checked (the host side is unknown): ${r.unchecked.join(", ")}`));
  return `${out.join("\n")}\n`;
}
