/**
 * Nix literals from TypeScript values.
 *
 * Every piece of user text that reaches a generated `.nix` file goes through this module, so
 * the rules live in one place: strings become complete double-quoted literals with every `$`
 * escaped (no `${` can interpolate), attribute names are bare only when Nix reads them as
 * identifiers, and `toNix` prints nested values in a fixed, nixfmt-like shape.
 */
import { InternalError, UserError } from "../errors.js";

/**
 * A value that cannot be written as Nix (e.g. a NUL byte in a model path). Exit 2: the fix is
 * in the profile, not in hwflake.
 */
export class RenderError extends UserError {
  override name = "RenderError";
}

/** Words Nix's lexer reserves; an attribute with one of these names must be quoted. */
const NIX_KEYWORDS: ReadonlySet<string> = new Set([
  "assert",
  "else",
  "if",
  "in",
  "inherit",
  "let",
  "or",
  "rec",
  "then",
  "with",
]);

/** What Nix accepts as a bare identifier (the lexer's ID token). */
const NIX_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_'-]*$/;

const STRING_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  '"': '\\"',
  // Every `$`, not only `${`: `\$` reads back as `$`, and escaping all of them means no
  // later concatenation of two literals' contents can form an interpolation.
  $: "\\$",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/**
 * `s` as a complete double-quoted Nix string literal, quotes included.
 *
 * Other control characters are written raw: Nix has no `\u` escape (JSON's `\u0001` would
 * read back as `u0001`), and a raw control byte inside `"..."` round-trips. NUL cannot be
 * held by a Nix string at all, so it is refused.
 */
export function nixString(s: string): string {
  if (typeof s !== "string") throw new InternalError(`nixString expects a string, got ${describe(s)}`);
  if (s.includes("\0")) {
    throw new RenderError(`cannot write ${JSON.stringify(s)} as Nix: Nix strings cannot contain a NUL character`);
  }
  return `"${s.replace(/[\\"$\n\r\t]/g, (c) => STRING_ESCAPES[c] ?? c)}"`;
}

/** True when `s` can be written as a bare attribute name. */
export function isNixIdentifier(s: string): boolean {
  // true/false/null are plain identifiers bound in the global scope, not keywords:
  // `{ true = 1; }.true` evaluates to 1, so they stay bare.
  return NIX_IDENTIFIER.test(s) && !NIX_KEYWORDS.has(s);
}

/** An attribute name: bare when Nix reads it as an identifier, otherwise a quoted string. */
export function nixAttrName(s: string): string {
  if (typeof s !== "string") throw new InternalError(`nixAttrName expects a string, got ${describe(s)}`);
  // The same few names (system, module, environment, …) come back thousands of times in a fleet.
  const known = attrNames.get(s);
  if (known !== undefined) return known;
  const name = isNixIdentifier(s) ? s : nixString(s);
  if (attrNames.size >= 4096) attrNames.clear();
  attrNames.set(s, name);
  return name;
}

const attrNames = new Map<string, string>();

/** A dotted attribute path such as `services.hwflake."my instance"`. */
export function nixAttrPath(parts: readonly string[]): string {
  if (parts.length === 0) throw new InternalError("nixAttrPath needs at least one attribute name");
  return parts.map(nixAttrName).join(".");
}

const CONTROL_RUN = /[\u0000-\u001f\u007f\u2028\u2029]/;
const CONTROL_RUNS = /[\u0000-\u001f\u007f\u2028\u2029]+/g;

/**
 * One `#` comment line carrying arbitrary text. Line breaks and other control characters
 * become spaces so user text can never end the comment and start code on the next line.
 */
export function nixComment(text: string): string {
  if (typeof text !== "string") throw new InternalError(`nixComment expects a string, got ${describe(text)}`);
  let flat = CONTROL_RUN.test(text) ? text.replace(CONTROL_RUNS, " ") : text;
  if (flat.includes("  ")) flat = flat.replace(/ {2,}/g, " ");
  flat = flat.trim();
  return flat === "" ? "#" : `# ${flat}`;
}

declare const nixExprBrand: unique symbol;

/**
 * Trusted Nix source that `toNix` prints verbatim. Only the renderer creates these, from
 * text it assembled itself (attribute paths, `import ./x.nix`); never from user input.
 */
export interface NixExpr {
  readonly [nixExprBrand]: true;
  readonly nix: string;
}

// Provenance by identity: a plain `{ nix: "..." }` that arrived as JSON data is never trusted.
const trusted = new WeakSet<object>();

/** Mark renderer-built Nix source as trusted. Do not pass user text here: use nixString. */
export function nixExpr(text: string): NixExpr {
  if (typeof text !== "string" || text.trim() === "") throw new InternalError("nixExpr needs non-empty Nix source");
  const e = Object.freeze({ nix: text }) as NixExpr;
  trusted.add(e);
  return e;
}

/** True only for values made by `nixExpr`. */
export function isNixExpr(v: unknown): v is NixExpr {
  return typeof v === "object" && v !== null && trusted.has(v);
}

/** What `toNix` can print: plain JSON-like data plus trusted expressions anywhere inside. */
export type NixInput =
  | string
  | number
  | boolean
  | null
  | NixExpr
  | readonly NixInput[]
  | { readonly [key: string]: NixInput };

/**
 * Compare by Unicode code point, the order Nix itself uses for attribute names (it sorts
 * UTF-8 bytes). Never `localeCompare`: output must not depend on the machine's locale.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Below the surrogates, UTF-16 units sort like code points; from there on, compare whole
    // code points (a pair is one character, U+10000 and up; a lone surrogate is its own).
    if (x < 0xd800 && y < 0xd800) return x < y ? -1 : 1;
    // Inside a pair (the same high surrogate just before), compare from its start.
    const at = i > 0 && a.charCodeAt(i - 1) >= 0xd800 && a.charCodeAt(i - 1) <= 0xdbff ? i - 1 : i;
    const cx = a.codePointAt(at)!;
    const cy = b.codePointAt(at)!;
    // Equal code points here would mean equal units, so these differ.
    return cx < cy ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** A simple selection path (`pkgs.hwflake.llama-cpp-rocm`) needs no parentheses in a list. */
const SIMPLE_SELECT = /^[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*$/;

/**
 * Print `value` as Nix. `indent` is the column the value's first line starts at; nested lines
 * are indented from there in steps of two spaces. Attribute sets are one attribute per line
 * with keys in code-point order; lists go one item per line unless they hold a single scalar.
 */
export function toNix(value: NixInput, indent = 0): string {
  if (!Number.isInteger(indent) || indent < 0) throw new InternalError(`toNix indent must be a natural number, got ${indent}`);
  return print(value, " ".repeat(indent), "value");
}

function print(value: NixInput, pad: string, where: "value" | "item"): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return nixString(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isSafeInteger(value)) {
        // Nix floats exist, but nothing hwflake emits is one; a float here is a planner bug.
        throw new InternalError(`toNix prints integers only, got ${value}`);
      }
      // `[ 1 -1 ]` is a syntax error in Nix; a negative list item needs parentheses.
      return value < 0 && where === "item" ? `(${value})` : String(value);
    case "object":
      break;
    default:
      throw new InternalError(`toNix cannot print ${describe(value)}`);
  }
  if (isNixExpr(value)) {
    const text = value.nix.replace(/\n/g, `\n${pad}`);
    return where === "item" && !SIMPLE_SELECT.test(value.nix) ? `(${text})` : text;
  }
  const inner = `${pad}  `;
  if (Array.isArray(value)) {
    const items = value as readonly NixInput[];
    if (items.length === 0) return "[ ]";
    const only = items[0];
    if (items.length === 1 && !isNested(only)) return `[ ${print(only as NixInput, inner, "item")} ]`;
    return `[\n${items.map((v) => `${inner}${print(v, inner, "item")}`).join("\n")}\n${pad}]`;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
    throw new InternalError(`toNix cannot print ${describe(value)}`);
  }
  const rec = value as { readonly [key: string]: NixInput };
  const keys = Object.keys(rec).sort(compareCodePoints);
  if (keys.length === 0) return "{ }";
  const lines = keys.map((k) => {
    const v = rec[k];
    if (v === undefined) throw new InternalError(`toNix: attribute ${JSON.stringify(k)} is undefined`);
    return `${inner}${nixAttrName(k)} = ${print(v, inner, "value")};`;
  });
  return `{\n${lines.join("\n")}\n${pad}}`;
}

function isNested(v: unknown): boolean {
  return typeof v === "object" && v !== null && !isNixExpr(v);
}

function describe(v: unknown): string {
  if (v === undefined) return "undefined";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "number") return `the number ${v}`;
  return `a ${typeof v}`;
}
