/**
 * The Nix literal printer, checked against the real Nix evaluator: whatever we print must
 * read back as exactly the value we meant, for every string a profile could carry.
 */
import { describe, expect, it } from "vitest";
import { InternalError } from "../../src/errors.js";
import {
  compareCodePoints,
  isNixExpr,
  nixAttrName,
  nixAttrPath,
  nixComment,
  nixExpr,
  nixString,
  RenderError,
  toNix,
  type NixInput,
} from "../../src/render/nix.js";
import { nixEvalJson, nixUnavailable, skipNix } from "../helpers/nix.js";

if (skipNix) console.warn(`skipping Nix round-trip tests: ${nixUnavailable}`);

/** Strings that break naive escapers, by name. */
const NASTY: ReadonlyArray<readonly [string, string]> = [
  ["empty", ""],
  ["double quote", 'say "hi"'],
  ["backslash", "C:\\models\\x"],
  ["trailing backslash", "ends with \\"],
  ["interpolation", "${builtins.readFile /etc/passwd}"],
  ["escaped interpolation attempt", "\\${x}"],
  ["lone dollar", "$"],
  ["dollar dollar brace", "$${x}"],
  ["dollar at end", "price: 5$"],
  ["two single quotes", "''"],
  ["indented-string escape", "''${x}"],
  ["indented-string dollar", "''$"],
  ["newline", "line1\nline2"],
  ["tab", "a\tb"],
  ["carriage return", "a\r\nb"],
  ["control char U+0001", "a\u0001b"],
  ["escape char U+001B", "\u001b[31mred"],
  ["DEL", "a\u007fb"],
  ["json-style escape text", "\\u0041"],
  ["utf-8", "Grüße, 日本語"],
  ["emoji", "🦙 llama 🚀"],
  ["line separator", "a\u2028b"],
  ["mixed", "x\"; ${builtins.exec [\"rm\"]} \\ '' $ \n"],
];

describe("nixString", () => {
  it.each(NASTY)("quotes %s as one literal with every $ escaped", (_name, s) => {
    const lit = nixString(s);
    expect(lit.startsWith('"') && lit.endsWith('"')).toBe(true);
    // No unescaped `$` anywhere: each `$` is preceded by an odd run of backslashes.
    for (const m of lit.matchAll(/(\\*)\$/g)) expect((m[1] ?? "").length % 2).toBe(1);
    expect(lit).not.toContain("\n");
  });

  it("refuses NUL, which Nix strings cannot hold", () => {
    expect(() => nixString("a\0b")).toThrow(RenderError);
  });

  it("does not use JSON's \\u escapes (Nix would read them as a plain u)", () => {
    expect(nixString("a\u0001b")).toBe('"a\u0001b"');
  });

  describe.skipIf(skipNix)("round-trips through nix-instantiate", () => {
    it.each(NASTY)("%s", (_name, s) => {
      expect(nixEvalJson(nixString(s))).toBe(s);
    });

    it("all at once inside a list (no literal leaks into the next)", () => {
      const all = NASTY.map(([, s]) => s);
      expect(nixEvalJson(toNix(all))).toEqual(all);
    });
  });
});

/** Attribute names and whether they may be written bare. */
const ATTR_NAMES: ReadonlyArray<readonly [string, boolean]> = [
  ["llama-cpp-rocm", true],
  ["_private", true],
  ["x'", true],
  ["a_b-c'd", true],
  ["true", true],
  ["false", true],
  ["null", true],
  ["assert", false],
  ["else", false],
  ["if", false],
  ["in", false],
  ["inherit", false],
  ["let", false],
  ["or", false],
  ["rec", false],
  ["then", false],
  ["with", false],
  ["9lives", false],
  ["-dash", false],
  ["'quote", false],
  ["has space", false],
  ["has.dot", false],
  ['has"quote', false],
  ["${x}", false],
  ["", false],
  ["ümlaut", false],
];

describe("nixAttrName", () => {
  it.each(ATTR_NAMES)("%j is bare: %s", (name, bare) => {
    expect(nixAttrName(name)).toBe(bare ? name : nixString(name));
  });

  it("joins paths, quoting only the parts that need it", () => {
    expect(nixAttrPath(["pkgs", "hwflake", "llama-cpp-rocm"])).toBe("pkgs.hwflake.llama-cpp-rocm");
    expect(nixAttrPath(["services", "hwflake", "my model"])).toBe('services.hwflake."my model"');
    expect(() => nixAttrPath([])).toThrow(InternalError);
  });

  describe.skipIf(skipNix)("round-trips through builtins.attrNames", () => {
    it("every name, as one attribute set", () => {
      const names = ATTR_NAMES.map(([n]) => n);
      const set = `{ ${names.map((n, i) => `${nixAttrName(n)} = ${i};`).join(" ")} }`;
      const got = nixEvalJson(`builtins.attrNames ${set}`) as string[];
      expect([...got].sort()).toEqual([...names].sort());
    });

    it.each(ATTR_NAMES)("%j selects back its own value", (name) => {
      expect(nixEvalJson(`{ ${nixAttrName(name)} = 42; }.${nixAttrName(name)}`)).toBe(42);
    });
  });
});

describe("toNix", () => {
  it("prints the nixfmt-like shape", () => {
    const v: NixInput = {
      zeta: [],
      alpha: { b: true, a: null },
      list: ["one"],
      many: ["a", "b"],
      nested: [["x"]],
      empty: {},
      n: -3,
      neg: [-1],
    };
    expect(toNix(v)).toBe(
      [
        "{",
        "  alpha = {",
        "    a = null;",
        "    b = true;",
        "  };",
        "  empty = { };",
        "  list = [ \"one\" ];",
        "  many = [",
        '    "a"',
        '    "b"',
        "  ];",
        "  n = -3;",
        "  neg = [ (-1) ];",
        "  nested = [",
        '    [ "x" ]',
        "  ];",
        "  zeta = [ ];",
        "}",
      ].join("\n"),
    );
  });

  it("indents continuation lines from the given column", () => {
    expect(toNix({ a: 1 }, 4)).toBe("{\n      a = 1;\n    }");
  });

  it("sorts keys by code point, independent of locale", () => {
    const keys = ["b", "B", "a", "_", "Z", "é", "e", "10", "9"];
    const obj = Object.fromEntries(keys.map((k) => [k, 0]));
    const printed = toNix(obj)
      .split("\n")
      .slice(1, -1)
      .map((l) => l.trim().split(" = ")[0]);
    expect(printed).toEqual(['"10"', '"9"', "B", "Z", "_", "a", "b", "e", '"é"']);
    expect(compareCodePoints("\u{1F999}", "\uFFFD")).toBe(1); // astral after BMP, as in UTF-8
  });

  it("orders like UTF-8 bytes (Nix's order) on strings mixing ASCII, BMP, private-use and astral characters", () => {
    expect(compareCodePoints("\uD83D\uDE00", "\uD83D\uE000")).toBe(1); // U+1F600 after a lone U+D83D
    const alphabet = ["a", "b", "é", "\uE000", "\uFFFD", "\u{10000}", "\u{1F999}", "\uD800", "\uDC00", "\uD83D", "\uDE00", ""];
    // Deterministic pseudo-random strings of up to 4 pieces.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const strings = Array.from({ length: 300 }, () => Array.from({ length: next() % 5 }, () => alphabet[next() % alphabet.length]).join(""));
    const utf8 = (s: string) => Buffer.from(s, "utf8");
    for (const a of strings)
      for (const b of strings.slice(0, 60)) {
        // Lone surrogates have no UTF-8 form; compare code points for those pairs.
        const lone = /[\uD800-\uDFFF]/u;
        const want = lone.test(a) || lone.test(b) ? Math.sign(cmpByCodePoint(a, b)) : Math.sign(Buffer.compare(utf8(a), utf8(b)));
        expect([a, b, compareCodePoints(a, b)]).toEqual([a, b, want]);
      }
  });

  it.each([
    ["a float", 1.5],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["an unsafe integer", 2 ** 60],
  ])("refuses %s", (_name, n) => {
    expect(() => toNix(n)).toThrow(InternalError);
  });

  it("refuses undefined inside a value", () => {
    expect(() => toNix({ a: undefined } as unknown as NixInput)).toThrow(InternalError);
    expect(() => toNix([undefined] as unknown as NixInput)).toThrow(InternalError);
  });

  it("prints trusted expressions verbatim, parenthesised in lists unless a plain path", () => {
    expect(toNix({ p: nixExpr("pkgs.hwflake.x") })).toBe("{\n  p = pkgs.hwflake.x;\n}");
    expect(toNix([nixExpr("import ./x.nix"), nixExpr("a.b")])).toBe("[\n  (import ./x.nix)\n  a.b\n]");
  });

  it("never trusts a look-alike object from data", () => {
    const fake = { nix: "builtins.exec" };
    expect(isNixExpr(fake)).toBe(false);
    expect(toNix({ x: fake })).toBe('{\n  x = {\n    nix = "builtins.exec";\n  };\n}');
  });

  describe.skipIf(skipNix)("evaluates back to the same JSON", () => {
    const VALUES: ReadonlyArray<readonly [string, NixInput]> = [
      ["scalars", { s: "x", i: 7, neg: -7, t: true, f: false, n: null }],
      ["nested lists", [[1, -2], [], [["deep"]], [{ a: [] }]]],
      ["nasty keys and values", Object.fromEntries(NASTY.map(([k, v], i) => [`${k} ${i}`, v]))],
      ["keyword keys", { if: 1, or: 2, inherit: { with: [3] }, true: 4 }],
      ["empty containers", { a: {}, b: [], c: [{}] }],
      ["plan-like", { rocmSupport: true, rocmGpuTargets: ["gfx906", "gfx1100"], env: { A: "${B}" } }],
    ];
    it.each(VALUES)("%s", (_name, v) => {
      expect(nixEvalJson(toNix(v, 2))).toEqual(v);
    });
  });
});

describe("nixComment", () => {
  it.each([
    ["plain", "why this", "# why this"],
    ["newlines flattened", "line1\nline2\r\nline3", "# line1 line2 line3"],
    ["control chars", "a\u0000b\u0007c", "# a b c"],
    ["empty", "", "#"],
    ["only whitespace", " \n ", "#"],
  ])("%s", (_name, input, want) => {
    expect(nixComment(input)).toBe(want);
  });

  it.skipIf(skipNix)("user text cannot escape the comment", () => {
    const evil = "innocent\n}; x = builtins.abort \"pwned\"; y = {";
    expect(nixEvalJson(`{\n  ${nixComment(evil)}\n  a = 1;\n}`)).toEqual({ a: 1 });
  });
});

/** Reference order: code point by code point. */
function cmpByCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}
