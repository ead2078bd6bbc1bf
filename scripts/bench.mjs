#!/usr/bin/env node
// Benchmark: how long detection of each fixture capture folder and plan+render of each example
// take, as medians over repeated runs. Performance is measured here, never asserted in tests.
// Usage: npm run build && npm run bench [-- --runs N]
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { detectFromDir, parseProfileText, planHost, renderFiles } from "../dist/index.js";

const root = join(import.meta.dirname, "..");
const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 20;

async function median(fn) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const rows = [];
const machines = join(root, "test", "fixtures", "machines");
for (const m of readdirSync(machines).sort()) {
  rows.push(["detect --from", m, await median(() => detectFromDir(join(machines, m)))]);
}
const examples = join(root, "examples");
for (const f of readdirSync(examples).filter((x) => x.endsWith(".yaml")).sort()) {
  const text = readFileSync(join(examples, f), "utf8");
  rows.push([
    "parse+plan+render",
    f,
    await median(() => renderFiles(planHost(parseProfileText(text, f)), { hwflakeUrl: "github:hwflake/hwflake", nixpkgsUrl: "github:NixOS/nixpkgs/nixos-unstable" })),
  ]);
}
const w = Math.max(...rows.map((r) => r[1].length));
console.log(`median of ${runs} runs, node ${process.version}`);
for (const [what, name, ms] of rows) console.log(`${what.padEnd(18)} ${name.padEnd(w)} ${ms.toFixed(2).padStart(8)} ms`);
console.log(`slowest detect: ${Math.max(...rows.filter((r) => r[0] === "detect --from").map((r) => r[2])).toFixed(2)} ms`);
