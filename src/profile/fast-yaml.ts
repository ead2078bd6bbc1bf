/**
 * A fast reader for the plain subset of YAML that profiles are written in: block mappings and
 * sequences, flow sequences of scalars (one or several lines), plain, simple-quoted, integer,
 * boolean and null scalars, and comments. The `yaml` package takes about a millisecond per
 * profile, which dominates a fleet of thousands of hosts; this takes a few microseconds.
 *
 * It never guesses: on anything outside the subset (anchors, aliases, tags, block scalars,
 * flow mappings, escapes, floats, tabs, several documents, a duplicate key, a continued plain
 * scalar, deep nesting) it returns `undefined`, and the caller reads the text with the full
 * parser, which also reports the errors. Where it returns a value, it is the value the `yaml`
 * package (YAML 1.2, core schema) gives; test/profile/fast-yaml.test.ts checks that on every
 * example, fixture and fuzzed profile.
 */

/** Nesting deeper than this is left to the full parser (profiles are a few levels deep). */
const MAX_DEPTH = 16;

interface Line {
  readonly indent: number;
  /** The line without indentation and trailing comment or blanks. */
  readonly text: string;
}

class Unsupported extends Error {}
const bail = (): never => {
  throw new Unsupported();
};

/** The value of `text` if it is in the subset, else undefined. */
export function parsePlainYaml(text: string): unknown {
  try {
    const lines = toLines(text);
    if (lines.length === 0) return undefined;
    const r = new Reader(lines);
    const value = r.block(0, 0);
    if (r.pos !== lines.length) return undefined;
    return value;
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
}

/** Significant lines: no blank or comment-only lines, comments and trailing blanks removed. */
function toLines(text: string): Line[] {
  if (text.includes("\t") || text.includes("\r") || text.startsWith("\ufeff")) bail();
  const out: Line[] = [];
  for (const raw of text.split("\n")) {
    let indent = 0;
    while (raw.charCodeAt(indent) === 32) indent++;
    let body = raw.slice(indent);
    if (body === "" || body.startsWith("#")) continue;
    // Document markers and directives belong to the full parser.
    if (indent === 0 && (body.startsWith("---") || body.startsWith("...") || body.startsWith("%"))) bail();
    const hash = body.indexOf(" #");
    if (hash >= 0) {
      // A " #" inside quotes is not a comment; leave such lines to the full parser.
      if (/["']/.test(body.slice(0, hash))) bail();
      body = body.slice(0, hash);
      // "- # x" and "key: # x" leave the node to the comment's full-parser semantics.
      if (/^-$|:$/.test(body.replace(/ +$/, ""))) bail();
    }
    let end = body.length;
    while (end > 0 && body.charCodeAt(end - 1) === 32) end--;
    if (end === 0) continue;
    if (end < body.length) body = body.slice(0, end);
    out.push({ indent, text: body });
  }
  return out;
}

/** The number forms of YAML 1.2's core schema (the `yaml` package's int, float and special forms). */
const CORE_NUMBER = [
  /^[-+]?[0-9]+$/,
  /^0o[0-7]+$/,
  /^0x[0-9a-fA-F]+$/,
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
];

const KEY_RE = /^([A-Za-z_][A-Za-z0-9_.-]*|"[^"\\\n]*"|'[^'\n]*'):(?: (.*))?$/;

class Reader {
  pos = 0;
  constructor(private readonly lines: Line[]) {}

  private peek(): Line | undefined {
    return this.lines[this.pos];
  }

  /** A block node whose lines start at `indent` (a mapping or a sequence). */
  block(indent: number, depth: number): unknown {
    if (depth > MAX_DEPTH) bail();
    const line = this.peek();
    if (!line || line.indent !== indent) bail();
    return isItem(line!.text) ? this.sequence(indent, depth) : this.mapping(indent, depth);
  }

  private mapping(indent: number, depth: number, first?: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let text = first;
    for (;;) {
      if (text === undefined) {
        const line = this.peek();
        if (!line || line.indent < indent) break;
        if (line.indent > indent || isItem(line.text)) bail();
        text = line.text;
      }
      this.pos++;
      const kv = keyValue(text!);
      if (!kv) bail();
      const key = kv![0];
      if (Object.prototype.hasOwnProperty.call(out, key) || key === "__proto__") bail();
      out[key] = this.value(kv![1]?.replace(/^ +/, ""), indent, depth);
      text = undefined;
    }
    return out;
  }

  private sequence(indent: number, depth: number): unknown[] {
    const out: unknown[] = [];
    for (;;) {
      const line = this.peek();
      if (!line || line.indent < indent) break;
      if (line.indent > indent || !isItem(line.text)) bail();
      const rest = line.text === "-" ? "" : line.text.slice(2).replace(/^ +/, "");
      const column = indent + (line.text.length - rest.length);
      if (rest === "") {
        this.pos++;
        out.push(this.nested(indent, depth));
      } else if (isItem(rest)) {
        bail();
      } else if (KEY_RE.test(rest)) {
        // "- key: value" starts a mapping whose keys line up with `key`.
        out.push(this.mapping(column, depth + 1, rest));
      } else {
        this.pos++;
        out.push(this.inline(rest, indent));
      }
    }
    return out;
  }

  /** The value after "key:" (or the empty "-"): inline, or a block on the following lines. */
  private value(rest: string | undefined, indent: number, depth: number): unknown {
    if (rest !== undefined && rest !== "") return this.inline(rest, indent);
    return this.nested(indent, depth);
  }

  private nested(indent: number, depth: number): unknown {
    const next = this.peek();
    // A sequence may sit at its key's own indentation ("key:\n- a").
    if (next && (next.indent > indent || (next.indent === indent && isItem(next.text)))) return this.block(next.indent, depth + 1);
    return null;
  }

  /** A scalar or a flow sequence of scalars, which may continue on more-indented lines. */
  private inline(text: string, indent: number): unknown {
    if (text === "{}") return {};
    if (!text.startsWith("[")) return scalar(text);
    let flow = text;
    while (!flow.endsWith("]")) {
      const more = this.peek();
      if (!more || more.indent <= indent) bail();
      flow += ` ${more!.text}`;
      this.pos++;
    }
    const inner = flow.slice(1, -1).trim();
    // A fleet's hosts repeat whole lists (the CPU flags of one model): each is read once.
    const known = flows.get(inner);
    if (known) return [...known];
    // Quoted items are fine (a comma inside one leaves a half-quoted item, which scalar() refuses).
    if (/[[\]{}]/.test(inner)) bail();
    if (inner === "") return [];
    const items = inner.split(",").map((s) => s.trim());
    // A trailing comma is allowed by YAML; an empty item elsewhere is not.
    if (items[items.length - 1] === "") items.pop();
    if (items.some((s) => s === "")) bail();
    const values = items.map(scalar);
    if (inner.length <= FLOW_CACHED_MAX_CHARS) {
      if (flows.size >= FLOWS_MAX) flows.clear();
      flows.set(intern(inner), values);
    }
    return [...values];
  }
}

// Profiles repeat the same scalars (CPU flags, models, vendors): across a fleet one copy each
// instead of one per host, and none keeps its host's whole text alive (a slice of 13 or more
// characters is a view into the text it came from). Bounded, so a long-lived caller cannot
// grow it without end.
const INTERNED_MAX = 1 << 16;
const interned = new Map<string, string>();
/** Flow sequences already read, by their text between the brackets; bounded in count and size. */
const flows = new Map<string, readonly unknown[]>();
const FLOWS_MAX = 4096;
const FLOW_CACHED_MAX_CHARS = 8192;

function intern(text: string): string {
  const known = interned.get(text);
  if (known !== undefined) return known;
  if (interned.size >= INTERNED_MAX) interned.clear();
  // A flat copy, so the kept string does not point into the document.
  const own = text.length >= 13 ? (" " + text).slice(1) : text;
  interned.set(own, own);
  return own;
}

/**
 * "key: rest" as [key, rest] ([key, undefined] for "key:"), or null: what KEY_RE matches, with
 * plain keys (almost all of them) read without the regex.
 */
function keyValue(text: string): [string, string | undefined] | null {
  const c0 = text.charCodeAt(0);
  if (!isKeyStart(c0)) {
    const m = KEY_RE.exec(text);
    return m ? [unquote(m[1]!), m[2]] : null;
  }
  let i = 1;
  while (i < text.length && isKeyChar(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== 58) return null; // ":"
  if (i + 1 === text.length) return [text.slice(0, i), undefined];
  if (text.charCodeAt(i + 1) !== 32) return null;
  const rest = text.slice(i + 2);
  // KEY_RE's "." stops at these line terminators; such a line is not in the subset.
  if (rest.includes("\u2028") || rest.includes("\u2029")) return null;
  return [text.slice(0, i), rest];
}

/** [A-Za-z_] */
function isKeyStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/** [A-Za-z0-9_.-] */
function isKeyChar(c: number): boolean {
  return isKeyStart(c) || (c >= 48 && c <= 57) || c === 46 || c === 45;
}

function isItem(text: string): boolean {
  return text === "-" || text.startsWith("- ");
}

function unquote(key: string): string {
  return key.startsWith('"') || key.startsWith("'") ? key.slice(1, -1) : key;
}

/** A scalar as YAML 1.2's core schema resolves it, or bail when the subset cannot say. */
function scalar(text: string): unknown {
  const quote = text[0];
  if (quote === '"') {
    if (!/^"[^"\\]*"$/.test(text)) bail();
    return intern(text.slice(1, -1));
  }
  if (quote === "'") {
    if (!/^'[^']*'$/.test(text)) bail();
    return intern(text.slice(1, -1));
  }
  switch (text) {
    case "null": case "Null": case "NULL": case "~":
      return null;
    case "true": case "True": case "TRUE":
      return true;
    case "false": case "False": case "FALSE":
      return false;
  }
  // Plain decimal integers are read here; every other number form of the core schema (signs,
  // octal, hex, floats, .inf, .nan) goes to the full parser. "0-63" and "9.0a" are strings.
  // Each of those forms starts with a digit, a sign or a dot.
  const c = text.charCodeAt(0);
  if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46) {
    if (/^(0|[1-9][0-9]{0,14})$/.test(text)) return Number(text);
    if (CORE_NUMBER.some((re) => re.test(text))) bail();
  }
  // Indicators that start something other than a plain scalar, and ": " or " #" inside one.
  if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(text) && !/^-[^\s-]/.test(text)) bail();
  if (/: |:$| #/.test(text)) bail();
  return intern(text);
}
