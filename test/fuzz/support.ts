/**
 * Shared pieces of the fuzz tests: the run budget, seeds, and the hostile values mutations draw
 * from. Every fuzz test runs twice: with FIXED_SEED (reproducible in CI) and with a fresh seed
 * that fast-check prints with any counterexample (re-run it with FUZZ_SEED=<seed>).
 */
import { writeSync } from "node:fs";
import fc from "fast-check";

/** The fixed seed; the random run's seed comes from FUZZ_SEED or the clock. */
export const FIXED_SEED = 20_260_901;

/** The second run's seed: FUZZ_SEED when set (to replay a failure), else a fresh one. */
export const RANDOM_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2_147_483_647;

/**
 * Writes the random seed straight to stderr before a run starts: if a case takes the worker
 * down (out of memory, a native crash), vitest's buffered console output is lost, and this line
 * is what lets the failure be replayed.
 */
export function announceRandomSeed(name: string): void {
  writeSync(2, `${name}: random seed ${RANDOM_SEED} (replay with FUZZ_SEED=${RANDOM_SEED})\n`);
}

/** Cases per run, overridable for a longer local soak (FUZZ_RUNS=100000). */
export function runs(ci: number): number {
  return process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : ci;
}

/** Any one case slower than this counts as a hang. */
export const MAX_CASE_MS = 2000;

/** Strings that have broken parsers, unit files, command lines, Nix and terminals. */
export const HOSTILE_STRINGS = [
  "",
  " ",
  "\n",
  "a\nb",
  "x\r\n[Service]\r\nUser=root",
  "\0",
  "\t",
  "\u001b[31m",
  "\u007f",
  "\u0085",
  "\u2028",
  "\ud800",
  "\udc00x",
  "\ufeff",
  "\ud83d\ude00",
  "-",
  "--help",
  "-x",
  "%h",
  "%%",
  "fe80::1%eth0",
  "${x}",
  "''${x}",
  '"',
  "\\",
  "..",
  "/..",
  "/a/../b",
  "/run/secrets/k ",
  "/",
  "//",
  "__proto__",
  "constructor",
  "toString",
  "9007199254740993",
  "0-99999999999999999999",
  "1e400",
  "NaN",
  "null",
  "~",
  "yes",
  "0x1F",
  "0o17",
  ".inf",
  "gfx906",
  "8.6",
  "GPU-0e54792172da5eeb",
  "x".repeat(300),
  "ü".repeat(100),
] as const;

/** Numbers at the edges: huge, negative, fractional, unsafe integers, -0. */
export const HOSTILE_NUMBERS = [0, -0, -1, 1, 0.5, 65535, 65536, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e300, -1e300, Number.MAX_VALUE, Number.MIN_VALUE] as const;

/** Snippets inserted into profile text: YAML syntax that has tripped parsers before. */
export const YAML_SNIPPETS = [
  "&a ",
  "*a",
  "*b",
  "<<: *a\n",
  "!!binary ",
  "!!set ",
  "!!omap\n",
  "!!js/function ",
  "? ",
  "- ",
  ": ",
  "{",
  "}",
  "[",
  "]",
  ",",
  "'",
  '"',
  "#",
  "|\n",
  ">-\n",
  "---\n",
  "...\n",
  "%YAML 1.1\n",
  "%TAG ! tag:x,2000:\n",
  "\0",
  "\t",
  "\r",
  "\ufeff",
  "\ud800",
  "1e400",
  "99999999999999999999",
  "\n  - x: &b [*a, *a, *a, *a, *a, *a]\n",
] as const;

/** Any JSON-ish value, weighted towards hostile leaves, at most a few levels deep. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { maxDepth: 3 },
    { weight: 6, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
    { weight: 1, arbitrary: fc.constantFrom(true, false, null) },
    { weight: 1, arbitrary: fc.array(tie("value"), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.constantFrom("id", "kind", "vendor", "arch", "name", "x", "__proto__"), tie("value"), { maxKeys: 3 }) },
  ),
})).value;
