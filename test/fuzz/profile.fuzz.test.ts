/**
 * Issue #9, fuzzing the profile door: mutated profiles (structure and text) through
 * parse → plan → render, in-process. Every case must end as a Profile (then planned and, unless
 * refused, rendered) or as a UserError (exit 2) whose issues name a path; any other exception
 * is an exit 3 and fails the test, as does a case slower than MAX_CASE_MS.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { ProfileError, UserError } from "../../src/errors.js";
import { parseProfileText } from "../../src/profile/index.js";
import { planHost } from "../../src/plan/index.js";
import { DEFAULT_NIXPKGS_URL, renderFiles } from "../../src/render/render.js";
import { FIXED_SEED, HOSTILE_STRINGS, MAX_CASE_MS, RANDOM_SEED, YAML_SNIPPETS, announceRandomSeed, hostileValue, runs } from "./support.js";

const ROOT = join(import.meta.dirname, "..", "..");
const EXAMPLES = readdirSync(join(ROOT, "examples"))
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => readFileSync(join(ROOT, "examples", f), "utf8"));
/**
 * The examples, and the examples with only the CPU flags hwflake acts on: a full flags list is
 * most of a profile's text and parse time, and the short forms make room for more cases.
 */
const SEEDS: unknown[] = EXAMPLES.flatMap((t) => {
  const p = parseProfileText(t, "seed");
  return [p, { ...p, cpu: { ...p.cpu, flags: p.cpu.flags?.filter((f) => /^(avx|amx|sse4|fma|f16c|bmi|asimd|sve|vsx)/.test(f)) } }];
});
const TEXTS = [...EXAMPLES, ...SEEDS.map((s) => JSON.stringify(s)), ...SEEDS.filter((_, i) => i % 2).map((s) => stringify(s))];

/** Issues with no path are about the whole document; only these kinds may lack one. */
const DOCUMENT_LEVEL = /^(not valid YAML\/JSON|is nested too deeply|nests \[ \]|expands YAML aliases|uses an alias|is \d+ characters|a profile is a mapping|… and \d+ more problem)/;

type Outcome = "rendered" | "refused-plan" | "rejected";

/** One case: the text through parse, plan and render. Throws on anything that is not exit 0/1/2. */
function runCase(text: string): Outcome {
  const t0 = performance.now();
  try {
    const profile = parseProfileText(text, "fuzz.yaml");
    const plan = planHost(profile);
    if (plan.refused) return "refused-plan";
    renderFiles(plan, { nixpkgsUrl: DEFAULT_NIXPKGS_URL });
    return "rendered";
  } catch (e) {
    if (e instanceof ProfileError) {
      for (const i of e.issues) if (i.path === "" && !DOCUMENT_LEVEL.test(i.message)) throw new Error(`an issue names no path: ${i.message}`);
      return "rejected";
    }
    if (e instanceof UserError) return "rejected";
    throw e;
  } finally {
    const ms = performance.now() - t0;
    if (ms > MAX_CASE_MS) throw new Error(`case took ${Math.round(ms)} ms (a hang)`);
  }
}

type Path = ReadonlyArray<string | number>;

/** Every path to a value inside `v` (objects and arrays), the root included. */
function paths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

type Mutation =
  | { op: "set"; pick: number; value: unknown }
  | { op: "delete"; pick: number }
  | { op: "addKey"; pick: number; key: string; value: unknown }
  | { op: "dup"; pick: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), pick: fc.nat(), value: hostileValue }),
  fc.record({ op: fc.constant("delete" as const), pick: fc.nat() }),
  fc.record({ op: fc.constant("addKey" as const), pick: fc.nat(), key: fc.constantFrom("x", "Host", "severs", "__proto__", "$schema", ...HOSTILE_STRINGS.slice(0, 12)), value: hostileValue }),
  fc.record({ op: fc.constant("dup" as const), pick: fc.nat() }),
);

/** Apply mutations to a deep copy of `seed`. */
function mutate(seed: unknown, muts: readonly Mutation[]): unknown {
  let doc = structuredClone(seed);
  for (const m of muts) {
    const all = paths(doc);
    const path = all[m.pick % all.length]!;
    const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], doc) as Record<string | number, unknown> | unknown[] | undefined;
    const key = path.at(-1);
    if (m.op === "set") {
      if (key === undefined) doc = m.value;
      else if (parent) (parent as Record<string | number, unknown>)[key] = m.value;
    } else if (m.op === "delete") {
      if (Array.isArray(parent) && typeof key === "number") parent.splice(key, 1);
      else if (parent && key !== undefined) delete (parent as Record<string | number, unknown>)[key];
    } else if (m.op === "addKey") {
      const target = path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], doc);
      if (target && typeof target === "object" && !Array.isArray(target)) Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    } else {
      const target = path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], doc);
      if (Array.isArray(target) && target.length) target.push(structuredClone(target[0]));
    }
  }
  return doc;
}

/** A profile text made by mutating a seed's structure, written as YAML or JSON. */
const structural: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([seed, muts, asJson]) => {
    const doc = mutate(seed, muts);
    return asJson ? JSON.stringify(doc) ?? "null" : stringify(doc, { lineWidth: 0 });
  });

type Edit = { at: number; del: number; insert: string };

/** A profile text made by editing a seed's text: insertions of YAML syntax, deletions, truncation. */
const textual: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...TEXTS),
    fc.array(
      fc.record({
        at: fc.nat(),
        del: fc.oneof(fc.constant(0), fc.nat({ max: 40 })),
        insert: fc.oneof(fc.constantFrom(...YAML_SNIPPETS), fc.constantFrom(...HOSTILE_STRINGS), fc.string({ unit: "binary", maxLength: 8 })),
      }),
      { minLength: 1, maxLength: 6 },
    ),
    fc.option(fc.nat(), { freq: 8 }),
  )
  .map(([text, edits, cut]) => {
    let t = text;
    for (const e of edits as Edit[]) {
      const at = e.at % (t.length + 1);
      t = t.slice(0, at) + e.insert + t.slice(at + e.del);
    }
    return cut === null ? t : t.slice(0, cut % (t.length + 1));
  });

const anyProfile = fc.oneof(structural, textual);

/** Run `n` cases with `seed`; returns the outcome counts (so the report can show coverage). */
function fuzz(seed: number, n: number): Record<Outcome, number> {
  const counts: Record<Outcome, number> = { rendered: 0, "refused-plan": 0, rejected: 0 };
  fc.assert(
    fc.property(anyProfile, (text) => {
      counts[runCase(text)]++;
    }),
    { seed, numRuns: n, endOnFailure: true },
  );
  return counts;
}

describe("profile fuzz: parse → plan → render never crashes or hangs", () => {
  it(`fixed seed ${FIXED_SEED}`, () => {
    const counts = fuzz(FIXED_SEED, runs(5000));
    console.log(`profile fuzz, seed ${FIXED_SEED}:`, counts);
    // The mutations must reach every stage, not only the parser.
    expect(counts.rendered).toBeGreaterThan(100);
    expect(counts.rejected).toBeGreaterThan(100);
  }, 120_000);

  it(`random seed ${RANDOM_SEED} (replay with FUZZ_SEED=${RANDOM_SEED})`, () => {
    announceRandomSeed("profile fuzz");
    const counts = fuzz(RANDOM_SEED, runs(5000));
    console.log(`profile fuzz, seed ${RANDOM_SEED}:`, counts);
  }, 120_000);
});
