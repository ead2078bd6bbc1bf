/**
 * lscpu output: plain ("Key:  value" lines), `--hex` (CPU lists as masks) and `-J` (JSON with
 * {field, data, children}). All three are reduced to the same key → value map.
 */
import { parseCpuMask, parseCpulist } from "./cpulist.js";
import { cleanText, splitKv, squash, toInt } from "./text.js";

/** lscpu fields by name without the trailing colon ("Socket(s)", "NUMA node0 CPU(s)"); first value wins. */
export interface Lscpu {
  fields: Record<string, string>;
  /** Every "Model name" (big.LITTLE systems print several). */
  modelNames: string[];
  problems: string[];
}

function add(out: Lscpu, key: string, value: string): void {
  const k = key.replace(/:$/, "").trim();
  const v = squash(value);
  if (k === "") return;
  if (k === "Model name" && v !== "" && v !== "-") out.modelNames.push(v);
  if (!(k in out.fields)) out.fields[k] = v;
}

/** Parse plain or `--hex` lscpu output. */
export function parseLscpu(text: string): Lscpu {
  const out: Lscpu = { fields: {}, modelNames: [], problems: [] };
  for (const line of cleanText(text).split("\n")) {
    // Section headers in newer lscpu ("Caches (sum of all):") have no value; skip them.
    const kv = splitKv(line);
    if (!kv) continue;
    // A memory-only NUMA node has an empty CPU list; every other empty value is a header.
    if (kv[1] === "" && !/^NUMA node\d+ CPU\(s\)$/.test(kv[0])) continue;
    add(out, kv[0], kv[1]);
  }
  if (Object.keys(out.fields).length === 0) out.problems.push("no lscpu fields");
  return out;
}

interface JsonEntry {
  field?: unknown;
  data?: unknown;
  children?: unknown;
}

/** Parse `lscpu -J` output. Unparsable JSON yields no fields and a problem. */
export function parseLscpuJson(text: string): Lscpu {
  const out: Lscpu = { fields: {}, modelNames: [], problems: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(cleanText(text));
  } catch {
    out.problems.push("not valid JSON");
    return out;
  }
  const list = (doc as { lscpu?: unknown } | null)?.lscpu;
  if (!Array.isArray(list)) {
    out.problems.push('no "lscpu" array');
    return out;
  }
  const walk = (entries: unknown[]): void => {
    for (const e of entries as JsonEntry[]) {
      if (typeof e?.field === "string" && (typeof e.data === "string" || typeof e.data === "number")) {
        add(out, e.field, String(e.data));
      }
      if (Array.isArray(e?.children)) walk(e.children);
    }
  };
  walk(list);
  if (Object.keys(out.fields).length === 0) out.problems.push("no lscpu fields");
  return out;
}

/** A positive count field ("Socket(s)"); undefined for "-", absent or junk. */
export function lscpuCount(l: Lscpu, key: string): number | undefined {
  const n = toInt(l.fields[key]);
  return n !== undefined && n > 0 ? n : undefined;
}

/** A CPU set field that may be a list ("0-7") or, with --hex, a mask ("0x000000ff"). */
export function lscpuCpus(l: Lscpu, key: string): number[] | undefined {
  const v = l.fields[key];
  if (v === undefined) return undefined;
  if (/^0x/i.test(v)) return parseCpuMask(v) ?? undefined;
  return parseCpulist(v) ?? undefined;
}

/** NUMA nodes lscpu lists ("NUMA node1 CPU(s): 8-15"), sorted by node id. */
export function lscpuNuma(l: Lscpu): Array<{ id: number; cpus: number[] }> {
  const nodes: Array<{ id: number; cpus: number[] }> = [];
  for (const key of Object.keys(l.fields)) {
    const m = /^NUMA node(\d+) CPU\(s\)$/.exec(key);
    if (!m) continue;
    const cpus = lscpuCpus(l, key);
    if (cpus) nodes.push({ id: Number(m[1]), cpus });
  }
  return nodes.sort((a, b) => a.id - b.id);
}
