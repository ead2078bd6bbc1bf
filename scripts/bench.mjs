#!/usr/bin/env node
// Benchmark: how long detection of each fixture capture folder and plan+render of each example
// take, as medians over repeated runs. Performance is measured here, never asserted in tests.
// Usage: npm run build && npm run bench [-- --runs N]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
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
    await median(() => renderFiles(planHost(parseProfileText(text, f)), { nixpkgsUrl: "github:NixOS/nixpkgs/nixos-unstable" })),
  ]);
}
const w = Math.max(...rows.map((r) => r[1].length));
console.log(`median of ${runs} runs, node ${process.version}`);
for (const [what, name, ms] of rows) console.log(`${what.padEnd(18)} ${name.padEnd(w)} ${ms.toFixed(2).padStart(8)} ms`);
console.log(`slowest detect: ${Math.max(...rows.filter((r) => r[0] === "detect --from").map((r) => r[2])).toFixed(2)} ms`);

// Whole processes, as a user runs them: one host, and fleets of 1,000 and 10,000 generated
// profiles (the examples with distinct host names and GPU UUIDs, so no two profiles are alike).
const bin = join(root, "bin", "hwflake.js");
const work = mkdtempSync(join(tmpdir(), "hwflake-bench-"));
/** CPU seconds of this process's finished children, user and system (Linux /proc; USER_HZ is 100). */
const childCpu = () => {
  try {
    const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
    return { user: Number(f[13]) / 100, sys: Number(f[14]) / 100 };
  } catch {
    return null;
  }
};
let lastCpu = "";
const wall = (args) => {
  const before = childCpu();
  const t = performance.now();
  execFileSync(process.execPath, [bin, ...args], { stdio: "ignore" });
  const ms = performance.now() - t;
  const after = childCpu();
  // System time shows what the file system cost (creating 10,000 files is mostly kernel work).
  lastCpu = before && after ? `user ${(after.user - before.user).toFixed(2)} s, sys ${(after.sys - before.sys).toFixed(2)} s` : "";
  return ms;
};
const fleetSeeds = readdirSync(join(root, "examples")).filter((x) => x.endsWith(".yaml") && !/tpu|spyre/.test(x)).sort().map((f) => readFileSync(join(root, "examples", f), "utf8"));
const fleetRows = [["generate, 1 host (mi50-desktop)", wall(["generate", "--profile", join(root, "examples", "mi50-desktop.yaml"), "--out", join(work, "one")]), 1, lastCpu]];
for (const n of [1000, 10000]) {
  const dir = join(work, `f${n}`);
  mkdirSync(dir);
  for (let i = 0; i < n; i++) {
    const name = `h${String(i).padStart(5, "0")}`;
    let k = 0;
    // A host's own devices keep distinct UUIDs: host number and device number.
    const hex = () => `${i.toString(16).padStart(10, "0")}${(k++).toString(16).padStart(2, "0")}`;
    const text = fleetSeeds[i % fleetSeeds.length]
      .replace(/^host: .*$/m, `host: ${name}`)
      .replace(/uuid: GPU-[0-9a-f]{16}$/gm, () => `uuid: GPU-${hex().padStart(16, "0")}`)
      .replace(/uuid: GPU-([0-9a-f]{8})-([0-9a-f-]+)$/gm, (_m, a, b) => `uuid: GPU-${a}-${b.slice(0, -12)}${hex()}`);
    writeFileSync(join(dir, `${name}.yaml`), text);
  }
  // Flush the profiles just written, so their writeback does not land inside the timed run.
  try {
    execFileSync("sync", [], { stdio: "ignore" });
  } catch {
    /* no sync command: the figures may include some of that writeback */
  }
  fleetRows.push([`generate --fleet, ${n} hosts`, wall(["generate", "--fleet", dir, "--out", join(work, `o${n}`)]), n, lastCpu]);
  fleetRows.push([`generate --fleet, ${n} hosts, again (nothing changes)`, wall(["generate", "--fleet", dir, "--out", join(work, `o${n}`)]), n, lastCpu]);
}
rmSync(work, { recursive: true, force: true });
console.log("whole process (wall clock, one run each):");
for (const [what, ms, n, cpu] of fleetRows) console.log(`  ${what.padEnd(48)} ${(ms / 1000).toFixed(2).padStart(7)} s  ${(ms / n).toFixed(3).padStart(8)} ms/host  ${cpu}`);
