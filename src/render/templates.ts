/**
 * Load, lint and compile `templates/**\/*.hbs`.
 *
 * Handlebars' defaults are wrong for Nix: it HTML-escapes (`"` becomes `&quot;`) while
 * letting `${` and `\` through. So templates are compiled with escaping off and must route
 * every value through an allowlisted helper that returns a complete Nix literal. The AST lint
 * below makes that a load-time error instead of a code-review rule: a bare `{{x}}`, a
 * triple-stash, a partial or an unknown helper is rejected with `file:line`.
 *
 * `npm run build` lints and precompiles the templates into `templates.compiled.cjs` beside the
 * built module, with each source's SHA-256; a run whose templates still have those hashes
 * executes the precompiled code on Handlebars' runtime and never loads the compiler (about
 * 100 ms of a one-host run). Any other template is linted and compiled when loaded.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type HandlebarsModule from "handlebars";
import { InternalError } from "../errors.js";
import { BLOCK_HELPER_NAMES, HELPER_NAMES, helpers, TemplateArgumentError } from "./helpers.js";

/** A compiled template: context in, text out. */
export type TemplateFn = (context: object) => string;

/** A template that breaks the lint rules (a hwflake bug: templates ship with the package). */
export class TemplateLintError extends InternalError {
  override name = "TemplateLintError";
  constructor(readonly problems: readonly string[]) {
    super(`template lint failed:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  }
}

/**
 * The folder holding hwflake's package.json, found by walking up from this module. The same
 * code runs from `src/render/` (vitest, tsx) and from `dist/render/` (the published build),
 * so no fixed number of `..` would be right for both.
 */
export function packageRoot(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      const name = (JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name;
      if (name === "hwflake") return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new InternalError(`cannot find hwflake's package.json above ${fileURLToPath(from)}`);
    dir = up;
  }
}

/** The shipped `templates/` folder. */
export function templatesDir(): string {
  return join(packageRoot(), "templates");
}

type Handlebars = typeof HandlebarsModule;
const require = createRequire(import.meta.url);
// The runtime executes every template; the compiler is loaded only to compile one.
const runtime = require("handlebars/runtime") as Handlebars;
let compilerModule: Handlebars | undefined;
const compiler = (): Handlebars => (compilerModule ??= require("handlebars") as Handlebars);

const ALLOWED_HELPERS = new Set(HELPER_NAMES);
const ALLOWED_BLOCKS = new Set(BLOCK_HELPER_NAMES);

type AST = hbs.AST.Program;

function pathName(node: hbs.AST.PathExpression | hbs.AST.Literal | hbs.AST.Expression): string {
  return (node as hbs.AST.PathExpression).original ?? String((node as { value?: unknown }).value ?? node.type);
}

interface Lint {
  readonly problems: string[];
  accept(node: hbs.AST.Node): void;
}

let LintClass: (new (file: string) => Lint) | undefined;

/** A visitor that collects every rule violation (its base class comes with the compiler). */
function newLint(file: string): Lint {
  LintClass ??= class TemplateLint extends compiler().Visitor {
    readonly problems: string[] = [];

    constructor(private readonly file: string) {
      super();
    }

    private report(node: hbs.AST.Node, message: string): void {
      this.problems.push(`${this.file}:${node.loc?.start.line ?? "?"}: ${message}`);
    }

    override MustacheStatement(node: hbs.AST.MustacheStatement): void {
      const name = pathName(node.path);
      if (!node.escaped) {
        this.report(node, `triple-stash {{{${name}}}} is not allowed; use a helper such as nixStr or nixValue`);
      } else if (node.params.length === 0) {
        this.report(node, `bare {{${name}}} is not allowed; every value goes through a helper (${HELPER_NAMES.join(", ")})`);
      } else if (node.path.type !== "PathExpression" || !ALLOWED_HELPERS.has(name)) {
        this.report(node, `unknown helper "${name}"; allowed: ${HELPER_NAMES.join(", ")}`);
      }
      super.MustacheStatement(node);
    }

    override SubExpression(node: hbs.AST.SubExpression): void {
      const name = pathName(node.path);
      if (!ALLOWED_HELPERS.has(name)) this.report(node, `unknown helper "${name}" in a subexpression`);
      super.SubExpression(node);
    }

    override BlockStatement(node: hbs.AST.BlockStatement): void {
      const name = pathName(node.path);
      if (!ALLOWED_BLOCKS.has(name)) {
        this.report(node, `block helper "#${name}" is not allowed; use ${BLOCK_HELPER_NAMES.map((b) => `#${b}`).join(", ")}`);
      }
      super.BlockStatement(node);
    }

    override PartialStatement(node: hbs.AST.PartialStatement): void {
      this.report(node, "partials are not allowed: each template is self-contained");
      super.PartialStatement(node);
    }

    override PartialBlockStatement(node: hbs.AST.PartialBlockStatement): void {
      this.report(node, "partial blocks are not allowed");
      super.PartialBlockStatement(node);
    }

    override DecoratorBlock(node: hbs.AST.DecoratorBlock): void {
      this.report(node, "decorators are not allowed");
      super.DecoratorBlock(node);
    }

    // Inline decorators ({{* foo}}) arrive here rather than at MustacheStatement.
    override Decorator(node: hbs.AST.MustacheStatement): void {
      this.report(node, "decorators are not allowed");
    }
  };
  return new LintClass(file);
}

function parse(source: string, file: string): AST {
  try {
    return compiler().parse(source);
  } catch (err) {
    throw new TemplateLintError([`${file}: ${(err as Error).message.split("\n")[0]}`]);
  }
}

function lintAst(ast: AST, file: string): string[] {
  const lint = newLint(file);
  lint.accept(ast);
  return lint.problems;
}

/** Every rule violation in `source`, each as `file:line: message`; empty when clean. */
export function lintTemplate(source: string, file: string): string[] {
  return lintAst(parse(source, file), file);
}

// A private environment: helpers registered here cannot leak into, or be replaced by, other
// users of the global Handlebars instance.
const env = runtime.create();
for (const [name, fn] of Object.entries(helpers)) env.registerHelper(name, fn);

// Strict mode does not apply to block helper arguments either: `{{#if apiKeyFlie}}` would be
// silently false and drop a setting. Wrap the built-ins so an undefined argument throws; a
// present-but-null value (how contexts say "not set") still works as usual.
for (const name of BLOCK_HELPER_NAMES) {
  const builtin = env.helpers[name] as (this: unknown, ...a: unknown[]) => unknown;
  env.registerHelper(name, function (this: unknown, ...args: unknown[]) {
    const options = args[args.length - 1] as { loc?: { start: { line: number } } };
    if (args.length !== 2 || args[0] === undefined) {
      const where = options?.loc ? ` (template line ${options.loc.start.line})` : "";
      throw new TemplateArgumentError(`#${name} needs exactly one defined argument${where}`);
    }
    return builtin.apply(this, args);
  });
}

/** How every template is compiled: no HTML escaping, strict lookups, only our helpers. */
const COMPILE_OPTIONS = {
  noEscape: true,
  strict: true,
  knownHelpersOnly: true,
  knownHelpers: Object.fromEntries(HELPER_NAMES.map((n) => [n, true])) as Record<string, true>,
};

/** Lint then precompile one template: the JavaScript source of its template spec. */
function precompile(source: string, file: string): string {
  return precompileChecked(checked([{ source, file }])[0]!);
}

/** Parse every template, then throw one TemplateLintError listing every problem of all of them. */
function checked(templates: readonly { source: string; file: string }[]): AST[] {
  const asts = templates.map(({ source, file }) => parse(source, file));
  const problems = asts.flatMap((ast, i) => lintAst(ast, templates[i]!.file));
  if (problems.length > 0) throw new TemplateLintError(problems);
  return asts;
}

function precompileChecked(ast: AST): string {
  return compiler().precompile(ast, COMPILE_OPTIONS) as string;
}

function specOf(js: string): object {
  // The compiler's own output for a linted template; evaluating it is what Handlebars.compile
  // does internally.
  return new Function(`return ${js};`)() as object;
}

/** A template spec (precompiled JavaScript, as an object) bound to the helpers, as a function. */
function fromSpec(spec: object): TemplateFn {
  const template = env.template(spec as Parameters<typeof env.template>[0]);
  return (context: object) => template(context);
}

/** Lint then compile one template source. Throws TemplateLintError listing every problem. */
export function compileTemplate(source: string, file: string): TemplateFn {
  return fromSpec(specOf(precompile(source, file)));
}

/** Relative POSIX paths of every `.hbs` file under `dir`, sorted. */
export function listTemplates(dir: string = templatesDir()): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith(".hbs")) out.push(relative(dir, full).split(sep).join("/"));
    }
  };
  walk(dir);
  return out.sort();
}

/** Where `npm run build` puts the precompiled templates: beside the built module. */
export const COMPILED_TEMPLATES = fileURLToPath(new URL("./templates.compiled.cjs", import.meta.url));

/** A precompiled template as the build stores it. */
interface CompiledTemplate {
  readonly sha256: string;
  readonly spec: object;
}

/** What the build stores: the toolchain it compiled with, and each template. */
interface CompiledTemplates {
  readonly toolchain: string;
  readonly templates: Readonly<Record<string, CompiledTemplate>>;
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/**
 * What precompiled code depends on besides each source: the lint rules and compile options
 * (this module), the helper allowlist (helpers), and the Handlebars release. A build made with
 * any other is not used.
 */
function toolchain(): string {
  const own = (url: URL) => (existsSync(fileURLToPath(url)) ? readFileSync(fileURLToPath(url), "utf8") : "");
  return sha256([own(new URL(import.meta.url)), own(new URL("./helpers.js", import.meta.url)), own(new URL("./helpers.ts", import.meta.url)), runtime.VERSION].join("\u0000"));
}

function readSources(dir: string): { name: string; rel: string; source: string }[] {
  return listTemplates(dir).map((rel) => ({ name: rel.replace(/\.hbs$/, ""), rel, source: readFileSync(join(dir, rel), "utf8") }));
}

/**
 * The CommonJS module `npm run build` writes to COMPILED_TEMPLATES: every template under
 * `dir`, linted and precompiled, with its source's SHA-256 and the toolchain's. Throws
 * TemplateLintError listing every problem of every template.
 */
export function compiledTemplatesModule(dir: string = templatesDir()): string {
  const sources = readSources(dir);
  const asts = checked(sources.map(({ rel, source }) => ({ source, file: `templates/${rel}` })));
  const entries = sources.map(({ name, source }, i) => `    ${JSON.stringify(name)}: {\n      sha256: ${JSON.stringify(sha256(source))},\n      spec: ${precompileChecked(asts[i]!)},\n    },`);
  return [
    "// @generated by hwflake's build from templates/*.hbs (src/render/templates.ts). Do not edit.",
    '"use strict";',
    "module.exports = {",
    `  toolchain: ${JSON.stringify(toolchain())},`,
    "  templates: {",
    ...entries,
    "  },",
    "};",
    "",
  ].join("\n");
}

/** The precompiled templates of a build made with this toolchain, or null (none, or another). */
function readCompiled(file: string): Readonly<Record<string, CompiledTemplate>> | null {
  if (!existsSync(file)) return null;
  const built = require(file) as Partial<CompiledTemplates>;
  return built.toolchain === toolchain() && built.templates ? built.templates : null;
}

const cache = new Map<string, ReadonlyMap<string, TemplateFn>>();

/**
 * All templates under `dir`, keyed by relative path without `.hbs` (e.g. "flake.nix"): the
 * build's precompiled code for each template whose source and toolchain are unchanged, else the
 * source linted and compiled. Every source is linted before any is compiled, so one run
 * reports all problems.
 */
export function loadTemplates(dir: string = templatesDir(), compiled: string = COMPILED_TEMPLATES): ReadonlyMap<string, TemplateFn> {
  const key = `${dir}\u0000${compiled}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const sources = readSources(dir);
  const built = readCompiled(compiled);
  const fresh = (name: string, source: string) => built !== null && Object.hasOwn(built, name) && built[name]!.sha256 === sha256(source);
  const toCompile = sources.filter(({ name, source }) => !fresh(name, source));
  const asts = checked(toCompile.map(({ rel, source }) => ({ source, file: `templates/${rel}` })));
  const compiledNow = new Map(toCompile.map(({ name }, i) => [name, fromSpec(specOf(precompileChecked(asts[i]!)))]));
  const map = new Map<string, TemplateFn>();
  for (const { name } of sources) map.set(name, compiledNow.get(name) ?? fromSpec(built![name]!.spec));
  cache.set(key, map);
  return map;
}

/** One file of the module library, by path relative to `modules/`. */
export interface LibraryFile {
  readonly path: string;
  readonly contents: string;
}

const libraryCache = new Map<string, readonly LibraryFile[]>();

/**
 * The shipped module library (`modules/**.nix`), sorted by path, for the copy that travels with
 * a generated flake. Read once per process.
 */
export function loadModuleLibrary(dir: string = join(packageRoot(), "modules")): readonly LibraryFile[] {
  const cached = libraryCache.get(dir);
  if (cached) return cached;
  const out: LibraryFile[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith(".nix")) out.push({ path: relative(dir, full).split(sep).join("/"), contents: readFileSync(full, "utf8") });
    }
  };
  walk(dir);
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  libraryCache.set(dir, out);
  return out;
}
