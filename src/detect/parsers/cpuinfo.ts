/**
 * /proc/cpuinfo in its three formats: x86 (one block per CPU with vendor_id, cpu family, flags),
 * aarch64 (blocks with CPU implementer, CPU part, Features) and ppc64le (blocks with
 * "cpu : POWER9 (raw), altivec supported" and a trailing machine block without "processor").
 */
import { cleanText, splitKv, squash, toInt, toIntAuto } from "./text.js";

/** One "processor" block: field name → value (first occurrence wins). */
export type CpuinfoBlock = Record<string, string>;

/** The facts /proc/cpuinfo shows, with nothing filled in that it does not show. */
export interface Cpuinfo {
  /** Which kernel format the file is in. */
  kind: "x86" | "arm" | "power" | "unknown";
  /** Complete processor blocks (a truncated last block is left out). */
  processors: CpuinfoBlock[];
  /** Fields of blocks that have no "processor" key (POWER's machine block, old ARM headers). */
  machine: Record<string, string>;
  /** x86 vendor_id, e.g. "GenuineIntel". */
  vendorId?: string;
  /** "model name" (x86, some ARM kernels; trimmed, inner spaces kept) or the POWER "cpu" line (squashed). */
  modelName?: string;
  /** x86 "cpu family" and "model" (decimal in the file). */
  family?: number;
  model?: number;
  /** ARM "CPU implementer" and "CPU part" when all CPUs agree; `armParts` lists every distinct one. */
  armImplementer?: number;
  armPart?: number;
  armParts?: Array<{ implementer: number; part: number }>;
  /** POWER generation from the "cpu" line, e.g. 9 for "POWER9 (raw)". */
  powerGeneration?: number;
  /** True when the POWER "cpu" line says "altivec supported". */
  altivec?: boolean;
  /** ISA flags ("flags" on x86, "Features" on ARM) common to all CPUs, sorted; absent if not shown. */
  flags?: string[];
  /** True when CPUs disagree on flags (then `flags` is their intersection). */
  flagsDiffer?: boolean;
  /** Distinct x86 "physical id" values (sockets with an online CPU). */
  physicalIds?: number[];
  /** x86 "cpu cores" (cores per package) and "siblings" (logical CPUs per package). */
  cpuCores?: number;
  siblings?: number;
  /** Problems found while parsing ("truncated", "no processor entries"). */
  problems: string[];
}

function blocksOf(text: string): CpuinfoBlock[] {
  const blocks: CpuinfoBlock[] = [];
  let cur: CpuinfoBlock | null = null;
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") {
      cur = null;
      continue;
    }
    const kv = splitKv(raw);
    if (!kv) continue;
    if (!cur) {
      cur = {};
      blocks.push(cur);
    }
    const [k, v] = kv;
    if (!(k in cur)) cur[k] = v;
  }
  return blocks;
}

/** Parse /proc/cpuinfo. Never throws; problems are listed in `problems`. */
export function parseCpuinfo(text: string): Cpuinfo {
  const clean = cleanText(text);
  const blocks = blocksOf(clean);
  const processors = blocks.filter((b) => "processor" in b);
  const machine: Record<string, string> = {};
  for (const b of blocks) if (!("processor" in b)) Object.assign(machine, b);
  const problems: string[] = [];

  // Old ARM kernels print "Processor : AArch64 Processor rev 4 (aarch64)" once and then bare
  // "processor : N" lines; that header lands in the machine block and is merged below.
  const first = processors[0];
  if (!first) {
    problems.push("no processor entries");
    return { kind: "unknown", processors: [], machine, problems };
  }

  // A block that lacks keys the first block has is cut short (a truncated file).
  const last = processors[processors.length - 1]!;
  if (processors.length > 1 && Object.keys(last).length < Object.keys(first).length) {
    processors.pop();
    problems.push("truncated (last processor entry incomplete)");
  }

  const get = (k: string): string | undefined => first[k] ?? machine[k];
  const kind: Cpuinfo["kind"] =
    get("vendor_id") !== undefined || get("cpu family") !== undefined
      ? "x86"
      : get("CPU implementer") !== undefined || get("Features") !== undefined
        ? "arm"
        : /^POWER/i.test(get("cpu") ?? "") || /^(pSeries|PowerNV|Power)/i.test(machine["platform"] ?? "")
          ? "power"
          : "unknown";

  const out: Cpuinfo = { kind, processors, machine, problems };
  const flagKey = kind === "arm" ? "Features" : "flags";
  const flagSets = processors.map((p) => p[flagKey]).filter((f): f is string => f !== undefined);
  if (flagSets.length > 0) {
    const sets = flagSets.map((f) => new Set(f.split(/\s+/).filter(Boolean)));
    const common = [...sets[0]!].filter((f) => sets.every((s) => s.has(f)));
    out.flags = common.sort();
    out.flagsDiffer = sets.some((s) => s.size !== common.length);
  }

  if (kind === "x86") {
    if (get("vendor_id")) out.vendorId = get("vendor_id");
    // Kept as the kernel prints it (inner runs of spaces included); only the ends are trimmed.
    if (get("model name")) out.modelName = get("model name")!.trim();
    out.family = toInt(get("cpu family"));
    out.model = toInt(get("model"));
    const ids = new Set<number>();
    for (const p of processors) {
      const id = toInt(p["physical id"]);
      if (id !== undefined) ids.add(id);
    }
    if (ids.size > 0) out.physicalIds = [...ids].sort((a, b) => a - b);
    out.cpuCores = toInt(get("cpu cores"));
    out.siblings = toInt(get("siblings"));
  } else if (kind === "arm") {
    const parts = new Map<string, { implementer: number; part: number }>();
    for (const p of processors) {
      const imp = toIntAuto(p["CPU implementer"]);
      const part = toIntAuto(p["CPU part"]);
      if (imp !== undefined && part !== undefined) parts.set(`${imp}:${part}`, { implementer: imp, part });
    }
    out.armParts = [...parts.values()];
    if (parts.size === 1) {
      out.armImplementer = out.armParts[0]!.implementer;
      out.armPart = out.armParts[0]!.part;
    }
    const mn = get("model name") ?? machine["Processor"];
    if (mn) out.modelName = squash(mn);
  } else if (kind === "power") {
    const cpu = get("cpu");
    if (cpu) {
      out.modelName = squash(cpu);
      const m = /^POWER(\d+)/i.exec(cpu.trim());
      if (m) out.powerGeneration = Number(m[1]);
      out.altivec = /altivec supported/i.test(cpu);
    }
  }
  if (kind === "x86" && out.flags === undefined) problems.push("no flags line (truncated?)");
  for (const k of ["cpu family", "model"] as const) {
    if (kind === "x86" && get(k) !== undefined && toInt(get(k)) === undefined) problems.push(`unreadable "${k}": ${get(k)}`);
  }
  return out;
}
