/**
 * Profile parsing: YAML or JSON text in, a validated Profile or a ProfileError out.
 *
 * Shape is checked by zod; this file turns zod's issues into messages that name the path and
 * the fix (with did-you-mean for misspelled keys, arch names and CPU flags).
 */
import type { Document, LineCounter } from "yaml";
import { yaml } from "./yaml.js";
import { z } from "zod";
import { ProfileError, type Issue } from "../errors.js";
import { closest } from "./suggest.js";
import { ProfileSchema, type Profile } from "./schema.js";
import { CHECKED_FLAG_RE, KNOWN_AMD_ARCHS, KNOWN_CPU_FLAGS, KNOWN_CUDA_CAPABILITIES } from "../knowledge/index.js";
import { profileRules } from "./rules.js";
import { parsePlainYaml } from "./fast-yaml.js";

/**
 * Limits on profile input, so that no document, however hostile, costs more than a fraction of
 * a second or a few MB before it is refused. A real profile is a few KB and uses no aliases.
 */
export const PROFILE_LIMITS = {
  /**
   * Characters in the whole document: 64 KiB, 25 times the largest example. YAML costs up to
   * ~2.5 ms per KB to read, so this also bounds the time before any check can run.
   */
  maxChars: 64 * 1024,
  /** Alias expansions when the YAML is turned into data (the yaml package's own guard). */
  maxAliasCount: 100,
  /** Issues listed in one error; the rest are counted. */
  maxIssues: 50,
  /** Nesting of [ ] and { } (the YAML reader recurses per level; deep input costs seconds). */
  maxFlowDepth: 64,
} as const;

/**
 * How deeply `[` and `{` nest in YAML/JSON text, skipping quoted strings and comments. Brackets
 * inside plain scalars are counted too, so this can only overestimate; a profile needs 4 levels.
 */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "[" || c === "{") max = Math.max(max, ++depth);
    else if (c === "]" || c === "}") depth = Math.max(0, depth - 1);
    else if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
    } else if (c === "'") {
      while (++i < text.length && text[i] !== "'");
    } else if (c === "#" && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i < text.length && text[i] !== "\n") i++;
    }
  }
  return max;
}

/** Render a zod path as `a.b[0].c`; keys that are not plain names are quoted (`a["x y"]`). */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/.test(String(p))) out += out ? `.${String(p)}` : String(p);
    else out += `[${quoteKey(String(p))}]`;
  }
  return out;
}

/**
 * A key or value from the input as it may appear in a message: JSON-quoted, so control
 * characters and terminal escapes print as `\n` and `\u001b`, and cut to 64 characters.
 */
function quoteKey(k: string): string {
  return JSON.stringify(k.length > 64 ? `${k.slice(0, 64)}…` : k);
}

/** The object schema at a path, to list the keys that would have been accepted. */
function keysAt(path: readonly PropertyKey[], input: unknown): string[] {
  // Walk the schema alongside the input: unions are resolved by the input's discriminators.
  let schema: z.ZodType = ProfileSchema;
  let value: unknown = input;
  for (const p of path) {
    schema = unwrap(schema);
    if (schema instanceof z.ZodObject) {
      schema = (schema.shape as Record<string, z.ZodType>)[String(p)] ?? z.never();
    } else if (schema instanceof z.ZodArray) {
      schema = schema.element as z.ZodType;
    } else {
      return [];
    }
    value = (value as Record<PropertyKey, unknown> | undefined)?.[p as never];
    schema = resolveUnion(unwrap(schema), value);
  }
  schema = resolveUnion(unwrap(schema), value);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur: z.ZodType = s;
  for (;;) {
    if (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional) cur = cur.unwrap() as z.ZodType;
    else return cur;
  }
}

/** Pick the union member matching the input's kind/vendor, so key suggestions fit the entry. */
function resolveUnion(s: z.ZodType, value: unknown): z.ZodType {
  if (!(s instanceof z.ZodUnion)) return s;
  for (const opt of s.options as z.ZodType[]) {
    const o = resolveUnion(unwrap(opt), value);
    if (!(o instanceof z.ZodObject)) continue;
    const shape = o.shape as Record<string, z.ZodType>;
    const v = value as Record<string, unknown> | undefined;
    const matches = ["kind", "vendor"].every((k) => {
      const lit = shape[k];
      return !(lit instanceof z.ZodLiteral) || v?.[k] === lit.value;
    });
    if (matches) return o;
  }
  return s;
}

/** Turn one zod issue into a message that names the fix. */
function describe(issue: z.core.$ZodIssue, input: unknown): Issue[] {
  const path = formatPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    const allowed = keysAt(issue.path, input);
    return issue.keys.map((k) => {
      const guess = closest(k, allowed);
      const where = formatPath([...issue.path, k]);
      return {
        path: where,
        message:
          `unknown key ${quoteKey(k)}` +
          (guess ? `; did you mean "${guess}"?` : allowed.length ? `; allowed keys: ${allowed.join(", ")}` : ""),
      };
    });
  }
  if (issue.code === "invalid_union" && "discriminator" in issue) {
    const opts = (issue as { options?: unknown[] }).options ?? [];
    return [{ path, message: `must be one of ${opts.map((o) => JSON.stringify(o)).join(", ")}` }];
  }
  if (issue.code === "invalid_value") {
    const vals = issue.values.map((v) => JSON.stringify(v));
    if (vals.length === 1) return [{ path, message: `must be ${vals[0]}` }];
    const got = getAt(input, issue.path);
    const guess = typeof got === "string" ? closest(got, issue.values.map(String)) : null;
    return [
      {
        path,
        message: `must be one of ${vals.join(", ")}` + (guess ? `; did you mean "${guess}"?` : ""),
      },
    ];
  }
  if (issue.code === "too_big" && issue.origin === "array") {
    const got = getAt(input, issue.path);
    return [{ path, message: `lists ${Array.isArray(got) ? got.length : "too many"} entries; at most ${String(issue.maximum)} are allowed` }];
  }
  if (issue.code === "invalid_type" && getAt(input, issue.path) === undefined) {
    return [{ path, message: `is required (${issue.expected})` }];
  }
  return [{ path, message: issue.message }];
}

function getAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const p of path) v = (v as Record<PropertyKey, unknown> | undefined)?.[p as never];
  return v;
}

/** Vocabulary checks zod cannot express: known arch names and CPU flags, with did-you-mean. */
function vocabularyIssues(p: Profile): Issue[] {
  const out: Issue[] = [];
  p.accelerators.forEach((a, i) => {
    if (a.kind !== "gpu") return;
    const known = a.vendor === "amd" ? KNOWN_AMD_ARCHS : KNOWN_CUDA_CAPABILITIES;
    if (!known.includes(a.arch)) {
      const guess = closest(a.arch, known);
      out.push({
        path: `accelerators[${i}].arch`,
        message:
          `unknown ${a.vendor === "amd" ? "AMD gfx target" : "CUDA compute capability"} "${a.arch}"` +
          (guess ? `; did you mean "${guess}"?` : "") +
          ` Known: ${known.join(", ")}`,
      });
    }
  });
  (p.cpu.flags ?? []).forEach((f, i) => {
    if (KNOWN_CPU_FLAGS.has(f) || !CHECKED_FLAG_RE.test(f)) return;
    const guess = closest(f, [...KNOWN_CPU_FLAGS]);
    out.push({
      path: `cpu.flags[${i}]`,
      message:
        `unknown CPU flag "${f}"` +
        (guess ? `; did you mean "${guess}"?` : "") +
        " (flags use /proc/cpuinfo spelling, e.g. avx512_bf16, amx_tile)",
    });
  });
  return out;
}

/**
 * Parse profile text (YAML or JSON; JSON is YAML) into a validated Profile.
 * `file` is only used in messages.
 */
export function parseProfileText(text: string, file: string): Profile {
  if (text.length > PROFILE_LIMITS.maxChars) {
    throw new ProfileError(file, [
      { path: "", message: `is ${text.length} characters; a profile may have at most ${PROFILE_LIMITS.maxChars} (real ones are a few KB): is this the right file?` },
    ]);
  }
  // Profiles are plain YAML; the fast reader takes microseconds where the yaml package takes a
  // millisecond, which counts in a fleet of thousands. Anything else, errors included, goes on.
  // (It nests at most 16 levels and never recurses into flow collections, so the depth limit
  // below only protects the full parser.)
  const plain = parsePlainYaml(text);
  if (plain !== undefined) return validateProfile(plain, file);
  if (flowDepth(text) > PROFILE_LIMITS.maxFlowDepth) {
    throw new ProfileError(file, [
      { path: "", message: `nests [ ] or { } more than ${PROFILE_LIMITS.maxFlowDepth} levels deep; a profile is a few levels of mappings and lists` },
    ]);
  }
  // uniqueKeys is off because the yaml package checks it pairwise (33,000 keys took 7 s);
  // duplicateKeys below does the same in one pass.
  const Y = yaml();
  const lineCounter = new Y.LineCounter();
  const doc = Y.parseDocument(text, { prettyErrors: true, uniqueKeys: false, lineCounter });
  if (doc.errors.length > 0) {
    throw new ProfileError(
      file,
      capIssues(
        doc.errors.map((e) => ({
          path: "",
          message: /call stack/i.test(e.message)
            ? "is nested too deeply to read; a profile is a few levels of mappings and lists"
            : `not valid YAML/JSON: ${e.message.split("\n")[0]}`,
        })),
      ),
    );
  }
  const dups = duplicateKeys(doc, lineCounter);
  if (dups.length > 0) throw new ProfileError(file, capIssues(dups));
  let input: unknown;
  try {
    input = doc.toJS({ maxAliasCount: PROFILE_LIMITS.maxAliasCount });
  } catch (e) {
    // The yaml package throws (instead of reporting) when alias expansion runs away (a "billion
    // laughs" document), for an alias to an anchor defined later, and when nesting exhausts the
    // stack; all are the input's fault.
    const why = e instanceof ReferenceError && /excessive alias/i.test(e.message)
      ? `expands YAML aliases (*name) more than ${PROFILE_LIMITS.maxAliasCount} times; write the values out instead of nesting aliases`
      : e instanceof ReferenceError && /unresolved alias/i.test(e.message)
        ? `uses an alias (*name) before its anchor (&name) is defined: ${e.message.split("\n")[0]}`
        : e instanceof RangeError
        ? "is nested too deeply to read; a profile is a few levels of mappings and lists"
        : null;
    if (why === null) throw e;
    throw new ProfileError(file, [{ path: "", message: why }]);
  }
  return validateProfile(input, file);
}

/**
 * Keys that appear twice in one mapping, named by their path: YAML would keep only the last one
 * and silently drop the other. Keys that are not scalars are left to the schema (which has none).
 */
function duplicateKeys(doc: Document, lines: LineCounter): Issue[] {
  const out: Issue[] = [];
  const { isScalar, visit } = yaml();
  visit(doc, {
    Map(_key, map, ancestors) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const k = String(pair.key.value);
        if (!seen.has(k)) {
          seen.add(k);
          continue;
        }
        const at = pair.key.range ? lines.linePos(pair.key.range[0]) : undefined;
        out.push({
          path: formatPath([...yamlPath([...ancestors, map]), k]),
          message: `not valid YAML/JSON: this key appears twice in one mapping${at ? ` (again at line ${at.line}, column ${at.col})` : ""}; keep one`,
        });
      }
    },
  });
  return out;
}

/** The profile path of the last node in a chain of YAML ancestors (pairs and sequences). */
function yamlPath(chain: readonly unknown[]): PropertyKey[] {
  const out: PropertyKey[] = [];
  const { isPair, isScalar, isSeq } = yaml();
  for (let i = 0; i < chain.length - 1; i++) {
    const node = chain[i];
    if (isPair(node) && isScalar(node.key)) out.push(String(node.key.value));
    else if (isSeq(node)) out.push(node.items.indexOf(chain[i + 1] as never));
  }
  return out;
}

/** At most PROFILE_LIMITS.maxIssues issues, then one that counts the rest. */
function capIssues(issues: readonly Issue[]): Issue[] {
  if (issues.length <= PROFILE_LIMITS.maxIssues) return [...issues];
  const rest = issues.length - PROFILE_LIMITS.maxIssues;
  return [...issues.slice(0, PROFILE_LIMITS.maxIssues), { path: "", message: `… and ${rest} more problem(s); fix the ones above first` }];
}

/** Validate an already-parsed document (from detection or a test) into a Profile. */
export function validateProfile(input: unknown, file = "<profile>"): Profile {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ProfileError(file, [
      { path: "", message: "a profile is a mapping with at least `version: 1`, `host` and `system`; see examples/" },
    ]);
  }
  const r = ProfileSchema.safeParse(input);
  if (!r.success) throw new ProfileError(file, capIssues(r.error.issues.flatMap((i) => describe(i, input))));
  const issues = [...vocabularyIssues(r.data), ...profileRules(r.data)];
  if (issues.length > 0) throw new ProfileError(file, capIssues(issues));
  return r.data;
}
