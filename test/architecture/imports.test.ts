/**
 * The stage boundaries, enforced: which src/ folder may import which, and who may touch the
 * disk. Reads import lines as text; no extra tooling.
 */
import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const SRC = join(import.meta.dirname, "..", "..", "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Top-level unit a file belongs to: its first folder under src/, or the file name. */
const unitOf = (rel: string) => rel.split("/")[0]!.replace(/\.ts$/, "");

/** What each unit may import from the others (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  errors: [],
  knowledge: ["profile", "plan/types"],
  profile: ["errors", "knowledge"],
  detect: ["errors", "profile", "knowledge"],
  plan: ["errors", "profile", "knowledge"],
  // doctor compares two profiles; the CLI detects the host and hands the result in.
  doctor: ["profile", "knowledge"],
  // render writes files as data; the marker text and the file type live with the writer. A
  // single host renders as a fleet of one, merged by the plan stage's pure fleet-merge.
  render: ["errors", "plan/types", "plan/fleet-merge", "write/marker", "write/write"],
  write: ["errors"],
  cli: ["errors", "profile", "detect", "doctor", "plan", "render", "write", "knowledge"],
  index: ["errors", "profile", "detect", "doctor", "plan", "render", "write", "cli"],
};

/** Files that may touch the disk or run processes. */
const IO_ALLOWED = [/^detect\/io\.ts$/, /^render\/templates\.ts$/, /^write\//, /^cli\//];

const all = files(SRC).map((p) => ({ rel: relative(SRC, p).split("\\").join("/"), text: readFileSync(p, "utf8") }));

describe("stage boundaries", () => {
  it("sees the whole source tree", () => expect(all.length).toBeGreaterThan(20));

  it.each(all.map((f) => [f.rel, f] as const))("%s imports only what its stage may", (_rel, f) => {
    const unit = unitOf(f.rel);
    const allowed = ALLOWED[unit];
    expect(allowed, `no rule for ${unit}`).toBeDefined();
    const specs = [...f.text.matchAll(/(?:^|\n)\s*(?:import|export)[^"';]*?from\s+"([^"]+)"/g)].map((m) => m[1]!);
    for (const spec of specs.filter((s) => s.startsWith("."))) {
      const target = join(f.rel, "..", spec).split("\\").join("/").replace(/\.js$/, "");
      const targetUnit = unitOf(target);
      if (targetUnit === unit) continue;
      const ok = allowed!.some((a) => target === a || target.startsWith(`${a}/`) || unitOf(a) === target || a === targetUnit);
      expect(ok, `${f.rel} imports ${spec} (${target}); ${unit} may import only ${allowed!.join(", ") || "nothing"}`).toBe(true);
    }
  });

  it("only io.ts, the template loader, the writer and the CLI touch the disk or run processes", () => {
    const offenders = all
      .filter((f) => /from\s+"node:(fs|fs\/promises|child_process)"/.test(f.text))
      .map((f) => f.rel)
      .filter((rel) => !IO_ALLOWED.some((re) => re.test(rel)));
    expect(offenders).toEqual([]);
  });

  it("every accelerator family's knowledge file has its detector beside it in detect/accelerators/", () => {
    const families = (dir: string) =>
      readdirSync(join(SRC, dir))
        .filter((f) => f.endsWith(".ts") && f !== "index.ts")
        .map((f) => f.replace(/\.ts$/, ""));
    const knowledge = families("knowledge/accelerators");
    expect(knowledge.length).toBeGreaterThan(0);
    expect(families("detect/accelerators")).toEqual(expect.arrayContaining(knowledge));
  });

  it("a family detector imports no other family's detector, and parsers import only parsers", () => {
    const families = new Set(all.filter((f) => f.rel.startsWith("knowledge/accelerators/") && !f.rel.endsWith("/index.ts")).map((f) => f.rel.split("/").pop()!));
    for (const f of all.filter((x) => x.rel.startsWith("detect/accelerators/") && families.has(x.rel.split("/").pop()!))) {
      const siblings = [...f.text.matchAll(/(?:^|\n)\s*(?:import|export)[^"';]*?from\s+"\.\/([^"]+)\.js"/g)].map((m) => `${m[1]}.ts`);
      expect(siblings.filter((s) => families.has(s)), `${f.rel} imports another family's detector`).toEqual([]);
    }
    for (const f of all.filter((x) => x.rel.startsWith("detect/parsers/"))) {
      const specs = [...f.text.matchAll(/(?:^|\n)\s*(?:import|export)[^"';]*?from\s+"([^"]+)"/g)].map((m) => m[1]!);
      expect(specs.filter((s) => !s.startsWith("./")), `${f.rel} imports outside the parsers`).toEqual([]);
    }
  });

  it("nothing but the library entry imports the CLI", () => {
    const importers = all.filter((f) => !f.rel.startsWith("cli/") && /from\s+"[./]*cli\//.test(f.text)).map((f) => f.rel);
    expect(importers).toEqual(["index.ts"]);
  });
});
