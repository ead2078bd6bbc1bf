/**
 * A GPU being assembled from several sources (sysfs, rocminfo, nvidia-smi ...), and how a
 * finished candidate becomes a profile entry. Shared by the GPU family detectors.
 */
import { nvidiaComputeCapability } from "../../knowledge/identify.js";
import type { Accel, Recorder } from "../recorder.js";

/** One profile field of a candidate and the files it came from. */
export interface Sourced {
  value: string | number;
  from: string[];
}

/** A GPU being assembled from several sources: each field remembers where it came from. */
export interface Cand {
  vendor: "amd" | "nvidia";
  order: number;
  pci?: string;
  fields: Map<string, Sourced>;
  /** Extra nodes/agents merged into this one (partitions). */
  parts: number;
  notes: string[];
}

/** A new, empty candidate. */
export function newCand(vendor: Cand["vendor"], order: number, pci?: string): Cand {
  const c: Cand = { vendor, order, fields: new Map(), parts: 1, notes: [] };
  if (pci) c.pci = pci;
  return c;
}

/** Set a field unless already set; a second source with the same value is added to `from`. */
export function setField(c: Cand, key: string, value: string | number | undefined, from: string): void {
  if (value === undefined) return;
  const cur = c.fields.get(key);
  if (!cur) c.fields.set(key, { value, from: [from] });
  else if (cur.value === value && !cur.from.includes(from)) cur.from.push(from);
}


/** Profile facts of one accelerator: [field, value, files]. */
export type AccelFacts = Array<[string, unknown, string[]]>;

/** The profile entry for a candidate, or only a message when its arch is unknown. */
export function gpuFromCand(c: Cand, rec: Recorder): { accel?: Accel; facts: AccelFacts } {
  const get = (k: string) => c.fields.get(k);
  const facts: AccelFacts = [];
  let arch = get("arch");
  const model = get("model");
  if (c.vendor === "nvidia" && !arch && model) {
    const cc = nvidiaComputeCapability(model.value as string);
    if (cc) arch = { value: cc, from: model.from };
  }
  const where = c.pci ?? `#${c.order}`;
  if (!arch) {
    const name = model?.value ?? get("truncatedName")?.value;
    if (c.vendor === "nvidia") {
      rec.msg(`nvidia GPU at ${where}: unknown compute capability for ${name ? `"${name}"` : "an unnamed model"}; left out of the profile (add it with accelerators[i].arch)`);
    } else {
      rec.msg(`amd GPU at ${where}: no gfx target in the capture; left out of the profile (add it with accelerators[i].arch)`);
    }
    return { facts };
  }
  const base = { kind: "gpu" as const, id: "gpu0" };
  const accel: Record<string, unknown> = { ...base, vendor: c.vendor };
  const put = (k: string, v: { value: string | number; from: string[] } | undefined) => {
    if (!v) return;
    accel[k] = v.value;
    facts.push([k, v.value, v.from]);
  };
  put("model", model);
  let mem = get("memoryMiB");
  if (c.notes.includes("partitioned")) mem = get("deviceMemoryMiB") ?? mem;
  else mem ??= get("deviceMemoryMiB");
  if (mem && (mem.value as number) > 0) put("memoryMiB", mem);
  put("pciAddress", get("pciAddress"));
  put("arch", arch);
  if (c.notes.includes("uuidsDiffer")) {
    // Partitions merged by PCI function that name themselves differently: no id names the card.
    rec.msg(`amd GPU at ${where}: uuid left out (each partition has its own)`);
  } else put("uuid", get("uuid"));
  if (c.vendor === "amd" && c.notes.includes("partitioned")) {
    const mode = get("partitionMode");
    const partitions: Record<string, unknown> = { ...(mode ? { mode: mode.value } : {}), count: c.parts };
    accel["partitions"] = partitions;
    facts.push(["partitions", partitions, [...new Set([...(mode?.from ?? []), ...[...c.fields.values()].flatMap((f) => f.from)])].sort()]);
  }
  if (c.vendor === "nvidia") put("index", get("index"));
  return { accel: accel as Accel, facts };
}


/** Stable key order for accelerator entries (easier to read in goldens). */
export function orderKeys(a: Accel): Accel {
  const order = ["kind", "vendor", "id", "model", "arch", "memoryMiB", "pciAddress", "uuid", "index", "partitions", "chips"];
  const rec = a as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of order) if (k in rec) out[k] = rec[k];
  for (const k of Object.keys(rec)) if (!(k in out)) out[k] = rec[k];
  return out as unknown as Accel;
}

