/**
 * Template loading: the AST lint that keeps unescaped values out of generated files, the
 * compile options, and the helpers' refusal of undefined arguments.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { InternalError } from "../../src/errors.js";
import { helpers, HELPER_NAMES, TemplateArgumentError } from "../../src/render/helpers.js";
import { nixExpr } from "../../src/render/nix.js";
import {
  compiledTemplatesModule,
  compileTemplate,
  lintTemplate,
  listTemplates,
  loadTemplates,
  packageRoot,
  TemplateLintError,
  templatesDir,
} from "../../src/render/templates.js";
import { REPO_ROOT } from "../helpers/nix.js";

describe("shipped templates", () => {
  const files = listTemplates();

  it("exist", () => {
    expect(files).toEqual(expect.arrayContaining(["README.md.hbs", "flake.nix.hbs", "build-sets.nix.hbs", "host.nix.hbs"]));
  });

  it.each(files)("%s passes the lint", (rel) => {
    expect(lintTemplate(readFileSync(join(templatesDir(), rel), "utf8"), rel)).toEqual([]);
  });

  it("all load and compile", () => {
    expect([...loadTemplates().keys()].sort()).toEqual(files.map((f) => f.replace(/\.hbs$/, "")).sort());
  });
});

describe("precompiled templates (npm run build)", () => {
  const tmp = () => mkdtempSync(join(tmpdir(), "hwflake-templates-"));

  it("render what the sources compile to", async () => {
    const dir = tmp();
    try {
      const compiled = join(dir, "templates.compiled.cjs");
      writeFileSync(compiled, compiledTemplatesModule());
      const built = loadTemplates(templatesDir(), compiled);
      const fromSource = loadTemplates(templatesDir(), join(dir, "absent.cjs"));
      expect([...built.keys()].sort()).toEqual([...fromSource.keys()].sort());
      // A real context: the README of a two-host fleet, through each path.
      const { fleetOfPlans } = await import("../../src/plan/fleet-merge.js");
      const { readmeContext } = await import("../../src/render/readme.js");
      const { cpuVllmPlan, rocmLlamaPlan } = await import("./fixtures.js");
      const context = readmeContext(fleetOfPlans("lab", [rocmLlamaPlan(), { ...cpuVllmPlan(), host: "other" }]), null);
      expect(built.get("README.md")!(context)).toBe(fromSource.get("README.md")!(context));
      // Every shipped template, byte for byte, is checked through the built CLI in test/golden.test.ts.
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a template edited after the build is compiled from its source, and linted", () => {
    const dir = tmp();
    try {
      writeFileSync(join(dir, "a.txt.hbs"), "old {{nixStr s}}");
      const compiled = join(dir, "templates.compiled.cjs");
      writeFileSync(compiled, compiledTemplatesModule(dir));
      expect(loadTemplates(dir, compiled).get("a.txt")!({ s: "x" })).toBe('old "x"');
      writeFileSync(join(dir, "a.txt.hbs"), "new {{nixStr s}}");
      const fresh = mkdtempSync(join(dir, "again-"));
      // Another folder name: loadTemplates caches per (folder, compiled file).
      writeFileSync(join(fresh, "a.txt.hbs"), "new {{nixStr s}}");
      expect(loadTemplates(fresh, compiled).get("a.txt")!({ s: "x" })).toBe('new "x"');
      const other = mkdtempSync(join(dir, "bad-"));
      writeFileSync(join(other, "a.txt.hbs"), "{{bare}}");
      expect(() => loadTemplates(other, compiled)).toThrow(TemplateLintError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a build made with other lint rules, compile options, helpers or Handlebars is not used", () => {
    const dir = tmp();
    try {
      writeFileSync(join(dir, "a.txt.hbs"), "hello {{nixStr s}}");
      // The build's code for this very source, altered so that running it shows.
      const tampered = compiledTemplatesModule(dir).replace('"hello "', '"HACKED "');
      expect(tampered).toContain("HACKED");
      const same = join(dir, "same.cjs");
      writeFileSync(same, tampered);
      expect(loadTemplates(dir, same).get("a.txt")!({ s: "x" })).toBe('HACKED "x"');
      const other = join(dir, "other.cjs");
      writeFileSync(other, tampered.replace(/toolchain: "[0-9a-f]{64}"/, `toolchain: "${"0".repeat(64)}"`));
      expect(loadTemplates(dir, other).get("a.txt")!({ s: "x" })).toBe('hello "x"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the build refuses a template that breaks the lint", () => {
    const dir = tmp();
    try {
      writeFileSync(join(dir, "bad.nix.hbs"), "x = {{value}};");
      expect(() => compiledTemplatesModule(dir)).toThrow(/bad\.nix\.hbs:1: bare \{\{value\}\}/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("packageRoot", () => {
  it.each([
    ["src/render (vitest, tsx)", "src/render/templates.ts"],
    ["dist/render (compiled)", "dist/render/templates.js"],
  ])("is the repository root from %s", (_name, rel) => {
    expect(packageRoot(pathToFileURL(join(REPO_ROOT, rel)).href)).toBe(REPO_ROOT);
  });
});

describe("lint", () => {
  const BAD: ReadonlyArray<readonly [string, string, RegExp]> = [
    ["bare mustache", "a\nb {{x}}", /^t\.hbs:2: bare \{\{x\}\}/],
    ["bare this", "{{#each xs}}\n{{this}}\n{{/each}}", /^t\.hbs:2: bare \{\{this\}\}/],
    ["bare data variable", "{{#each xs}}{{@index}}{{/each}}", /^t\.hbs:1: bare \{\{@index\}\}/],
    ["triple-stash", "\n\n{{{nixStr x}}}", /^t\.hbs:3: triple-stash/],
    ["triple-stash without helper", "{{{x}}}", /^t\.hbs:1: triple-stash/],
    ["ampersand unescape", "{{& x}}", /^t\.hbs:1: triple-stash/],
    ["unknown helper", "x = {{shout x}};", /^t\.hbs:1: unknown helper "shout"/],
    ["built-in lookup", "{{lookup xs 0}}", /^t\.hbs:1: unknown helper "lookup"/],
    ["unknown block", "{{#with x}}{{nixStr y}}{{/with}}", /^t\.hbs:1: block helper "#with"/],
    ["unknown subexpression", "{{nixStr (concat a b)}}", /^t\.hbs:1: unknown helper "concat" in a subexpression/],
    ["partial", "\n{{> header}}", /^t\.hbs:2: partials are not allowed/],
    ["literal in helper position", '{{"x" y}}', /^t\.hbs:1: unknown helper/],
  ];

  it.each(BAD)("rejects %s with file:line", (_name, source, want) => {
    const problems = lintTemplate(source, "t.hbs");
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(want);
    expect(() => compileTemplate(source, "t.hbs")).toThrow(TemplateLintError);
  });

  it("reports every problem, not only the first", () => {
    const problems = lintTemplate("{{a}}\n{{{b}}}\n{{nope c}}", "t.hbs");
    expect(problems.map((p) => p.split(":")[1])).toEqual(["1", "2", "3"]);
  });

  it("accepts allowlisted helpers, blocks and comments", () => {
    const ok = '{{!-- note --}}{{#if a}}{{nixStr s}}{{else}}{{nixValue v indent=2}}{{/if}}{{#each xs}}{{nixAttr this}}{{/each}}{{#unless @last}}{{mdBlock t lang="sh"}}{{/unless}}';
    expect(lintTemplate(ok, "t.hbs")).toEqual([]);
  });

  it("turns a Handlebars syntax error into a lint error naming the file", () => {
    expect(() => lintTemplate("{{#if x}}", "broken.hbs")).toThrow(/broken\.hbs/);
  });

  it("every allowlisted name is a registered helper", () => {
    expect(HELPER_NAMES).toEqual(Object.keys(helpers).sort());
  });
});

describe("compiled templates", () => {
  it("do not HTML-escape", () => {
    const t = compileTemplate("x = {{nixStr s}};", "t.hbs");
    expect(t({ s: `a"b'c<d>&` })).toBe(`x = "a\\"b'c<d>&";`);
  });

  it("throw when a helper is given an undefined value (strict mode does not check these)", () => {
    const t = compileTemplate("x = {{nixStr missing}};", "t.hbs");
    expect(() => t({})).toThrow(TemplateArgumentError);
    expect(() => t({})).toThrow(/line 1/);
  });

  it.each(HELPER_NAMES)("%s throws on undefined", (name) => {
    const t = compileTemplate(`{{${name} nothing}}`, "t.hbs");
    expect(() => t({})).toThrow(InternalError);
  });

  it.each(["each", "if", "unless"])("#%s throws on an undefined argument but accepts null", (block) => {
    const t = compileTemplate(`{{#${block} xs}}{{nixStr "y"}}{{/${block}}}`, "t.hbs");
    expect(() => t({})).toThrow(TemplateArgumentError);
    expect(() => t({ xs: null })).not.toThrow();
  });

  it("nixExpr refuses plain strings, so user text cannot be spliced as code", () => {
    const t = compileTemplate("p = {{nixExpr e}};", "t.hbs");
    expect(t({ e: nixExpr("pkgs.hwflake.x") })).toBe("p = pkgs.hwflake.x;");
    expect(() => t({ e: "builtins.abort 1" })).toThrow(TemplateArgumentError);
  });

  it("nixValue honours indent=", () => {
    const t = compileTemplate("  a = {{nixValue v indent=2}};", "t.hbs");
    expect(t({ v: ["x", "y"] })).toBe('  a = [\n    "x"\n    "y"\n  ];');
  });

  it("string helpers refuse non-strings", () => {
    expect(() => compileTemplate("{{nixStr n}}", "t.hbs")({ n: 5 })).toThrow(TemplateArgumentError);
    expect(() => compileTemplate("{{nixComment n}}", "t.hbs")({ n: null })).toThrow(TemplateArgumentError);
  });
});

describe("markdown helpers", () => {
  const cell = compileTemplate("| {{mdCell t}} |", "t.hbs");
  const code = compileTemplate("{{mdCode t}}", "t.hbs");
  const codeCell = compileTemplate("{{mdCode t cell=true}}", "t.hbs");
  const block = compileTemplate('{{mdBlock t lang="sh"}}', "t.hbs");

  it.each([
    ["pipe", "a | b", "| a \\| b |"],
    ["newline", "a\nb\r\nc", "| a b c |"],
    ["backtick", "use `x`", "| use \\`x\\` |"],
    ["html", "<script>&", "| &lt;script&gt;&amp; |"],
    ["emphasis", "*a* _b_ [l]", "| \\*a\\* \\_b\\_ \\[l\\] |"],
  ])("mdCell escapes %s", (_name, t, want) => {
    expect(cell({ t })).toBe(want);
  });

  it.each([
    ["plain", "abc", "`abc`"],
    ["with backticks", "a`b", "``a`b``"],
    ["starting with backtick", "`x", "`` `x ``"],
    ["newline", "a\nb", "`a b`"],
  ])("mdCode fences %s", (_name, t, want) => {
    expect(code({ t })).toBe(want);
  });

  it("mdCode cell=true escapes pipes", () => {
    expect(codeCell({ t: "a|b" })).toBe("`a\\|b`");
  });

  it("mdBlock fence outgrows any backtick run inside", () => {
    expect(block({ t: "echo hi" })).toBe("```sh\necho hi\n```");
    expect(block({ t: "```\nx" })).toBe("````sh\n```\nx\n````");
  });
});
