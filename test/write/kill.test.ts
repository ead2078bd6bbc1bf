/**
 * Issue #9, the writer under failure: the built CLI's `generate` is killed with SIGKILL at random
 * moments while it switches a folder between two profiles. After every kill: no file is partial
 * (each is exactly one run's version), `--check` names every file that does not match the
 * manifest and every temporary file left behind, and the next complete run repairs the folder.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { parseProfileText } from "../../src/profile/index.js";
import { planHost } from "../../src/plan/index.js";
import { DEFAULT_NIXPKGS_URL, renderFiles } from "../../src/render/render.js";
import { MANIFEST_PATH, manifestText, writeFiles, type RenderedFile } from "../../src/write/write.js";
import { FIXED_SEED, RANDOM_SEED } from "../fuzz/support.js";

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "hwflake.js");
const RUNS = process.env.KILL_RUNS ? Number(process.env.KILL_RUNS) : 30;

const work = mkdtempSync(join(tmpdir(), "hwflake-kill-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Two generations of host "l" that differ in every file: the MI50 desktop and the NVIDIA workstation. */
const textA = readFileSync(join(ROOT, "examples", "mi50-desktop.yaml"), "utf8");
const textB = readFileSync(join(ROOT, "examples", "nvidia-workstation.yaml"), "utf8").replace(/^host: .*$/m, "host: l");
const profiles = [textA, textB].map((t, i) => {
  const file = join(work, `p${i}.yaml`);
  writeFileSync(file, t);
  const files = renderFiles(planHost(parseProfileText(t, file)), { nixpkgsUrl: DEFAULT_NIXPKGS_URL });
  const all: RenderedFile[] = [...files, { path: MANIFEST_PATH, contents: manifestText(files) }];
  return { file, files, byPath: new Map(all.map((f) => [f.path, f.contents])) };
});

/** Every file under `dir`, relative. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/**
 * Spawn `generate` and SIGKILL it `delayMs` after its first write shows in the output folder
 * (Node's start-up takes ~20 times longer than the writes, so a delay from the spawn would
 * almost never land inside them). Resolves to how the run ended and how long it wrote.
 */
function generateKilledWhileWriting(profile: string, out: string, delayMs: number): Promise<{ end: "killed" | "finished"; writeMs: number }> {
  mkdirSync(out, { recursive: true });
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, "generate", "--profile", profile, "--out", out], { stdio: "ignore" });
    let firstWrite = 0;
    let timer: NodeJS.Timeout | undefined;
    const watcher = watch(out, () => {
      if (firstWrite) return;
      firstWrite = performance.now();
      timer = setTimeout(() => child.kill("SIGKILL"), delayMs);
    });
    child.on("error", fail);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      watcher.close();
      const writeMs = firstWrite ? performance.now() - firstWrite : 0;
      if (signal === "SIGKILL") done({ end: "killed", writeMs });
      else if (code === 0) done({ end: "finished", writeMs });
      else fail(new Error(`generate exited ${code}`));
    });
  });
}

/** How long a complete run spends writing here (switching generations), so kills land inside it. */
let measured: number | undefined;
async function writeTime(): Promise<number> {
  if (measured === undefined) {
    const out = join(work, "calibrate");
    await generateKilledWhileWriting(profiles[0]!.file, out, 60_000);
    measured = (await generateKilledWhileWriting(profiles[1]!.file, out, 60_000)).writeMs;
  }
  return measured;
}

describe("generate killed at random moments", () => {
  it.each([
    ["fixed", FIXED_SEED],
    ["random", RANDOM_SEED],
  ])(`%s seed %i: never a partial file; --check sees every mix and leftover; the next run repairs`, async (_label, seed) => {
    const out = join(work, `out-${seed}`);
    const window = await writeTime();
    // Uniform over the write phase and a little beyond (noBias: fast-check otherwise favours the ends).
    const fracs = fc.sample(fc.noBias(fc.integer({ min: 0, max: 1200 })), { numRuns: RUNS / 2, seed }).map((n) => n / 1000);
    const stats = { killed: 0, finished: 0, leftTemps: 0, leftMix: 0 };

    for (const [i, frac] of fracs.entries()) {
      // Switch generation on every run so that every run has files to write.
      const p = profiles[i % 2]!;
      stats[(await generateKilledWhileWriting(p.file, out, frac * window)).end]++;

      const files = tree(out);
      const temps = files.filter((f) => /\.hwflake-\d+-[0-9a-f]{12}\.tmp$/.test(f));
      // Never a partial file: every generated file is exactly one of the two runs' versions.
      for (const f of files.filter((x) => !temps.includes(x))) {
        const text = readFileSync(join(out, f), "utf8");
        expect([profiles[0]!.byPath.get(f), profiles[1]!.byPath.get(f)], f).toContain(text);
      }
      // What the folder really holds, against its manifest.
      const manifest = existsSync(join(out, MANIFEST_PATH)) ? readFileSync(join(out, MANIFEST_PATH), "utf8") : "";
      const mismatched = [...manifest.matchAll(/^([0-9a-f]{64}) {2}(.+)$/gm)]
        .filter(([, hash, rel]) => existsSync(join(out, rel!)) && createHash("sha256").update(readFileSync(join(out, rel!), "utf8")).digest("hex") !== hash)
        .map(([, , rel]) => rel!)
        .sort();
      if (temps.length) stats.leftTemps++;
      if (mismatched.length) stats.leftMix++;

      const check = await writeFiles(p.files, { outDir: out, check: true });
      expect(check.interrupted).toEqual(mismatched);
      expect(check.leftovers).toEqual(temps);
      if (mismatched.length || temps.length) expect(check.stale.length + check.interrupted.length + check.leftovers.length).toBeGreaterThan(0);
    }

    // The next complete run repairs whatever the last kill left.
    expect((await generateKilledWhileWriting(profiles[1]!.file, out, 60_000)).end).toBe("finished");
    expect(tree(out).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    const after = await writeFiles(profiles[1]!.files, { outDir: out, check: true });
    expect(after.stale.length + after.interrupted.length + after.leftovers.length).toBe(0);
    console.log(`kill test, seed ${seed}: ${RUNS / 2} runs, writes take ${window.toFixed(1)} ms`, stats);
  }, 120_000);
});
