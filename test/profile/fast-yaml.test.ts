/**
 * The fast reader of plain YAML either declines (undefined) or gives exactly what the `yaml`
 * package gives: on every example and fixture profile, in both the hand-written flow style and
 * the block style `hwflake detect` writes, and on thousands of mutations of them.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { parsePlainYaml } from "../../src/profile/fast-yaml.js";
import { REPO_ROOT } from "../helpers/nix.js";

function files(dir: string, re: RegExp): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p, re) : re.test(e) ? [p] : [];
  });
}

const texts = [
  ...files(join(REPO_ROOT, "examples"), /\.ya?ml$/).map((f) => readFileSync(f, "utf8")),
  // Fixture profiles as `hwflake detect` writes them (block style, one flag per line).
  ...files(join(REPO_ROOT, "test", "fixtures", "machines"), /^expected-profile\.json$/).map((f) =>
    stringify(JSON.parse(readFileSync(f, "utf8")), { lineWidth: 100 }),
  ),
];

/** The full parser's value, or a marker when it refuses the text. */
function full(text: string): unknown {
  try {
    return parse(text, { uniqueKeys: true });
  } catch {
    return Symbol.for("refused");
  }
}

describe("parsePlainYaml", () => {
  it.each(texts.map((t, i) => [i, t] as const))("profile %i: read here, and the same as the yaml package", (_i, text) => {
    const got = parsePlainYaml(text);
    expect(got, "the fast path should read every profile hwflake writes or ships").not.toBeUndefined();
    expect(got).toEqual(full(text));
  });

  it.each([
    ["an anchor and alias", "a: &x 1\nb: *x\n"],
    ["a tag", "a: !!str 1\n"],
    ["a block scalar", "a: |\n  x\n"],
    ["a flow mapping", "a: {b: 1}\n"],
    ["a float", "a: 1.5\n"],
    ["a signed number", "a: -3\n"],
    ["a hex number", "a: 0x1f\n"],
    ["an escape", 'a: "x\\ny"\n'],
    ["a duplicate key", "a: 1\na: 2\n"],
    ["a continued plain scalar", "a: b\n  c\n"],
    ["a tab", "a:\tb\n"],
    ["a document marker", "---\na: 1\n"],
    ["'.inf'", "a: .inf\n"],
    ["a nested sequence on one line", "a:\n  - - 1\n"],
  ])("declines %s (the full parser reads or refuses it)", (_n, text) => {
    expect(parsePlainYaml(text)).toBeUndefined();
  });

  it("a list read before (a fleet's repeated CPU flags) comes back equal, as a list of its own", () => {
    const doc = "flags: [avx2, fma, 'x y', 7]\n";
    const first = parsePlainYaml(doc) as { flags: unknown[] };
    first.flags.push("changed");
    const second = parsePlainYaml(doc) as { flags: unknown[] };
    expect(second).toEqual(parse(doc));
    expect(second.flags).not.toBe(first.flags);
  });

  it("reads strings that look like numbers only as YAML does", () => {
    expect(parsePlainYaml('a: 0-63\nb: "9.0"\nc: 8\nd: 9.0a\ne: null\nf: ~\ng: True\n')).toEqual({ a: "0-63", b: "9.0", c: 8, d: "9.0a", e: null, f: null, g: true });
  });

  it("on 3,000 mutations of real profiles: declines or agrees with the yaml package", () => {
    const edits = "\n :-#[],'\"&*!|>{}0a\t.-";
    fc.assert(
      fc.property(
        fc.constantFrom(...texts),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...edits.split("")), fc.boolean()), { minLength: 1, maxLength: 4 }),
        (text, muts) => {
          let t = text;
          for (const [at, ch, insert] of muts) {
            const i = at % (t.length + 1);
            t = insert ? t.slice(0, i) + ch + t.slice(i) : t.slice(0, i) + t.slice(i + 1);
          }
          const got = parsePlainYaml(t);
          if (got !== undefined) expect(got).toEqual(full(t));
        },
      ),
      { numRuns: 3000, seed: 20261129 },
    );
  });
});
