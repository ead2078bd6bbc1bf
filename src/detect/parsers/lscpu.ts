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

/** One row of `lscpu -p` (parsable) output: a logical CPU and the ids of its core, socket, node. */
export interface LscpuCpuRow {
  cpu: number;
  core?: number;
  socket?: number;
  node?: number;
}

/**
 * Parse `lscpu -p` / `lscpu -p=CPU,CORE,SOCKET,NODE`: "#" comment lines, the last of which names
 * the columns ("# CPU,Core,Socket,Node,,L1d,L1i,L2,L3"), then one comma-separated row per CPU.
 * Each column's ids are unique across the machine (a Core id never repeats on another socket).
 * Returns null when the text is not in that format.
 */
export function parseLscpuParsable(text: string): LscpuCpuRow[] | null {
  const lines = cleanText(text).split("\n").map((l) => l.trim()).filter(Boolean);
  const header = lines.filter((l) => l.startsWith("#")).pop();
  if (!header) return null;
  const cols = header.replace(/^#\s*/, "").split(",").map((c) => c.trim().toLowerCase());
  const at = (name: string) => cols.indexOf(name);
  if (at("cpu") < 0) return null;
  const rows: LscpuCpuRow[] = [];
  for (const line of lines.filter((l) => !l.startsWith("#"))) {
    const f = line.split(",");
    const num = (i: number) => (i >= 0 && /^\d+$/.test(f[i] ?? "") ? Number(f[i]) : undefined);
    const cpu = num(at("cpu"));
    if (cpu === undefined) return null;
    const row: LscpuCpuRow = { cpu };
    const core = num(at("core"));
    const socket = num(at("socket"));
    const node = num(at("node"));
    if (core !== undefined) row.core = core;
    if (socket !== undefined) row.socket = socket;
    if (node !== undefined) row.node = node;
    rows.push(row);
  }
  return rows.length > 0 ? rows : null;
}
