/**
 * Profile parsing: YAML or JSON text in, a validated Profile or a ProfileError out.
 *
 * Shape is checked by zod; this file turns zod's issues into messages that name the path and
 * the fix (with did-you-mean for misspelled keys, arch names and CPU flags).
 */
import { parseDocument } from "yaml";
import { z } from "zod";
import { ProfileError, type Issue } from "../errors.js";
import { closest } from "./suggest.js";
import { ProfileSchema, type Profile } from "./schema.js";
import { CHECKED_FLAG_RE, KNOWN_AMD_ARCHS, KNOWN_CPU_FLAGS, KNOWN_CUDA_CAPABILITIES } from "../knowledge/index.js";
import { profileRules } from "./rules.js";

/** Render a zod path as `a.b[0].c`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
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
      const where = path ? `${path}.${k}` : k;
      return {
        path: where,
        message:
          `unknown key "${k}"` +
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
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ProfileError(
      file,
      doc.errors.map((e) => ({ path: "", message: `not valid YAML/JSON: ${e.message.split("\n")[0]}` })),
    );
  }
  const input: unknown = doc.toJS();
  return validateProfile(input, file);
}

/** Validate an already-parsed document (from detection or a test) into a Profile. */
export function validateProfile(input: unknown, file = "<profile>"): Profile {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ProfileError(file, [
      { path: "", message: "a profile is a mapping with at least `version: 1`, `host` and `system`; see examples/" },
    ]);
  }
  const r = ProfileSchema.safeParse(input);
  if (!r.success) throw new ProfileError(file, r.error.issues.flatMap((i) => describe(i, input)));
  const issues = [...vocabularyIssues(r.data), ...profileRules(r.data)];
  if (issues.length > 0) throw new ProfileError(file, issues);
  return r.data;
}
