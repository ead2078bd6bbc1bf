/**
 * AMD GPU sources: KFD topology (sysfs), rocminfo and rocm-smi.
 */
import { cleanText, normalizePci, pciFromBdf, splitKv, squash, toInt, toIntAuto } from "./text.js";

/**
 * LLVM gfx target from KFD's gfx_target_version. The kernel encodes it as
 * major * 10000 + minor * 100 + stepping (90006 = 9.0.6); LLVM names the target "gfx" followed
 * by the decimal major and one hex digit each for minor and stepping, so 90010 (9.0.10) is
 * gfx90a and 110000 is gfx1100. Returns undefined for 0 (a CPU node) or out-of-range parts.
 */
export function gfxFromTargetVersion(v: number): string | undefined {
  if (!Number.isInteger(v) || v <= 0) return undefined;
  const major = Math.floor(v / 10000);
  const minor = Math.floor(v / 100) % 100;
  const stepping = v % 100;
  if (major < 1 || minor > 15 || stepping > 15) return undefined;
  return `gfx${major}${minor.toString(16)}${stepping.toString(16)}`;
}

/** One KFD topology node's properties file, interpreted. */
export interface KfdNode {
  /** All "name value" pairs as strings (values can exceed 2^53, e.g. unique_id). */
  props: Record<string, string>;
  /** True for a GPU node (has SIMDs or a gfx target). */
  isGpu: boolean;
  /** LLVM gfx target, when gfx_target_version is present and non-zero. */
  gfx?: string;
  /** PCI address from domain + location_id. */
  pciAddress?: string;
  simdCount?: number;
  /**
   * The card's id as rocminfo prints it ("GPU-" + 16 hex digits of unique_id), when unique_id
   * is non-zero. Partitions of one card (MI300 CPX ...) share it.
   */
  uuid?: string;
  /** XCCs (accelerator complexes) behind this node: 8 on an unpartitioned MI300X, 1 in CPX. */
  numXcc?: number;
  /** CPU node: logical CPUs of the NUMA node (cpumask_weight of the node). */
  cpuCount?: number;
  /** CPU node: the first CPU's APIC id on x86-64, its Linux CPU number elsewhere. */
  cpuCoreIdBase?: number;
}

/**
 * rocminfo's Uuid for a KFD unique_id (a decimal u64): "GPU-" and the value as 16 lower-case hex
 * digits; 0 means the device has none. ROCR-Runtime amd_gpu_agent.cpp, HSA_AMD_AGENT_INFO_UUID.
 */
export function uuidFromUniqueId(uniqueId: string | undefined): string | undefined {
  if (!uniqueId || !/^\d{1,20}$/.test(uniqueId)) return undefined;
  const v = BigInt(uniqueId);
  if (v === 0n || v >= 1n << 64n) return undefined;
  return `GPU-${v.toString(16).padStart(16, "0")}`;
}

/** Parse a KFD node `properties` file ("simd_count 240" lines). */
export function parseKfdProperties(text: string): KfdNode {
  const props: Record<string, string> = {};
  for (const line of cleanText(text).split("\n")) {
    const m = /^\s*([a-z0-9_]+)\s+(-?\d+)\s*$/.exec(line);
    if (m && !(m[1]! in props)) props[m[1]!] = m[2]!;
  }
  const simd = toInt(props["simd_count"]);
  const gtv = toInt(props["gfx_target_version"]);
  const gfx = gtv !== undefined ? gfxFromTargetVersion(gtv) : undefined;
  const node: KfdNode = { props, isGpu: (simd ?? 0) > 0 || gfx !== undefined };
  if (gfx) node.gfx = gfx;
  if (simd !== undefined) node.simdCount = simd;
  const uuid = node.isGpu ? uuidFromUniqueId(props["unique_id"]) : undefined;
  if (uuid) node.uuid = uuid;
  const xcc = toInt(props["num_xcc"]);
  if (xcc !== undefined && xcc > 0) node.numXcc = xcc;
  const cores = toInt(props["cpu_cores_count"]);
  if (!node.isGpu && cores !== undefined && cores > 0) {
    node.cpuCount = cores;
    const base = toInt(props["cpu_core_id_base"]);
    if (base !== undefined) node.cpuCoreIdBase = base;
  }
  const loc = toInt(props["location_id"]);
  if (node.isGpu && loc !== undefined && loc > 0) node.pciAddress = pciFromBdf(toInt(props["domain"]) ?? 0, loc);
  return node;
}

/** Size in bytes of a KFD memory bank whose heap is device memory (heap_type 1 public or 2 private FB). */
export function parseKfdMemBank(text: string): number | undefined {
  const p = parseKfdProperties(text).props;
  const heap = toInt(p["heap_type"]);
  const size = p["size_in_bytes"];
  if ((heap === 1 || heap === 2) && size !== undefined && /^\d+$/.test(size)) return Number(size);
  return undefined;
}

/** One rocminfo agent. */
export interface RocmAgent {
  /** "Agent N" number. */
  number: number;
  fields: Record<string, string>;
  deviceType?: string;
  /** "Name: gfx906" for GPUs (the gfx target; may carry ":sramecc+:xnack-" features, stripped). */
  gfx?: string;
  /** "Uuid: GPU-0e54792172da5eeb"; placeholders such as "GPU-XX" are dropped. */
  uuid?: string;
  marketingName?: string;
  computeUnits?: number;
  /** KFD node number. */
  node?: number;
  /** PCI address from "Domain" (if printed) and "BDFID". */
  pciAddress?: string;
  /** Size of the first GLOBAL coarse-grained pool, KiB (the device memory). */
  vramKiB?: number;
  /** Size of the first GLOBAL pool of any grain, KiB (on a CPU agent: its NUMA node's memory). */
  globalKiB?: number;
}

/** rocminfo output, agent by agent. */
export interface Rocminfo {
  agents: RocmAgent[];
  problems: string[];
}

/** Parse rocminfo output (ANSI colour codes are stripped). */
export function parseRocminfo(text: string): Rocminfo {
  const lines = cleanText(text).split("\n");
  const agents: RocmAgent[] = [];
  const problems: string[] = [];
  let cur: RocmAgent | null = null;
  let inPool = false;
  let poolSegment = "";
  let poolSize: number | undefined;
  let poolDone = false;
  const closePool = () => {
    if (cur && inPool && /GLOBAL/.test(poolSegment) && poolSize !== undefined) cur.globalKiB ??= poolSize;
    if (cur && inPool && !poolDone && /GLOBAL/.test(poolSegment) && /COARSE/i.test(poolSegment) && poolSize !== undefined) {
      cur.vramKiB = poolSize;
      poolDone = true;
    }
    inPool = false;
    poolSegment = "";
    poolSize = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const agentHdr = /^\s*Agent\s+(\d+)\s*$/.exec(line);
    if (agentHdr && /^\s*\*+\s*$/.test(lines[i - 1] ?? "")) {
      closePool();
      cur = { number: Number(agentHdr[1]), fields: {} };
      poolDone = false;
      agents.push(cur);
      continue;
    }
    if (!cur) continue;
    if (/^\s*\*+\s*$/.test(line) || /^=+\s*$/.test(line.trim())) continue;
    if (/^\s*Pool\s+\d+\s*$/.test(line)) {
      closePool();
      inPool = true;
      continue;
    }
    if (/^\s*ISA Info:/.test(line)) closePool();
    const kv = splitKv(line);
    if (!kv) continue;
    const [k, v] = kv;
    if (inPool) {
      if (k === "Segment") poolSegment = v;
      else if (k === "Size") {
        const m = /^(\d+)\s*\(0x[0-9a-f]+\)\s*KB/i.exec(v) ?? /^(\d+)\s*KB/i.exec(v);
        if (m) poolSize = Number(m[1]);
      } else if (/FLAGS/.test(k) || k === "Segment FLAGS") poolSegment += ` ${v}`;
      continue;
    }
    // Only top-level agent fields (indented two spaces); nested cache/ISA details repeat names.
    if (!(k in cur.fields)) cur.fields[k] = v;
  }
  closePool();
  for (const a of agents) {
    const f = a.fields;
    if (f["Device Type"]) a.deviceType = f["Device Type"];
    const name = f["Name"]?.split(":")[0];
    if (name && /^gfx[0-9a-f]{3,4}$/.test(name)) a.gfx = name;
    if (f["Uuid"] && /^GPU-[0-9a-f]{16}$/i.test(f["Uuid"])) a.uuid = `GPU-${f["Uuid"].slice(4).toLowerCase()}`;
    if (f["Marketing Name"]) a.marketingName = squash(f["Marketing Name"]);
    const cu = toInt(f["Compute Unit"]);
    if (cu !== undefined) a.computeUnits = cu;
    const node = toInt(f["Node"]);
    if (node !== undefined) a.node = node;
    const bdf = toInt(f["BDFID"]);
    if (a.deviceType === "GPU" && bdf !== undefined && bdf > 0) a.pciAddress = pciFromBdf(toIntAuto(f["Domain"]) ?? 0, bdf);
  }
  if (agents.length === 0) problems.push("no agents");
  return { agents, problems };
}

/** One GPU as rocm-smi reports it. */
export interface RocmSmiGpu {
  index: number;
  fields: Record<string, string>;
  pciAddress?: string;
  vramBytes?: number;
  gfx?: string;
  model?: string;
  /** Compute partition mode from the concise table ("SPX", "CPX" ...). */
  computePartition?: string;
}

/**
 * Parse rocm-smi output. The detailed forms (`-a`, `--showproductname`, `--showmeminfo vram`,
 * `--showbus`) print "GPU[0]  : Key: value" lines, which are collected per GPU; the concise
 * default table only yields GPU indices.
 */
export function parseRocmSmi(text: string): { gpus: RocmSmiGpu[]; problems: string[] } {
  const byIndex = new Map<number, RocmSmiGpu>();
  const gpu = (i: number) => {
    let g = byIndex.get(i);
    if (!g) byIndex.set(i, (g = { index: i, fields: {} }));
    return g;
  };
  let inTable = false;
  for (const line of cleanText(text).split("\n")) {
    const m = /^\s*(?:GPU|card)\[(\d+)\]\s*:\s*(.*)$/.exec(line);
    if (m) {
      const kv = splitKv(m[2]!);
      if (kv && kv[0] !== "" && !(kv[0] in gpu(Number(m[1])).fields)) gpu(Number(m[1])).fields[kv[0]] = kv[1];
      else gpu(Number(m[1]));
      continue;
    }
    // Concise table: a header row starting with "GPU" or "Device", then rows starting with an index.
    if (/^\s*(GPU|Device)\s+/.test(line) && /Temp|Node|SCLK|Power/i.test(line)) {
      inTable = true;
      continue;
    }
    if (inTable) {
      const row = /^\s*(\d+)\s+\S/.exec(line);
      if (row) {
        const g = gpu(Number(row[1]));
        const part = /\b(SPX|DPX|TPX|QPX|CPX)\b/.exec(line);
        if (part) g.computePartition = part[1]!;
      }
      else if (/^=+/.test(line.trim())) inTable = false;
    }
  }
  const gpus = [...byIndex.values()].sort((a, b) => a.index - b.index);
  for (const g of gpus) {
    const f = g.fields;
    const bus = f["PCI Bus"];
    const addr = normalizePci(bus);
    if (addr) g.pciAddress = addr;
    const vram = f["VRAM Total Memory (B)"];
    if (vram && /^\d+$/.test(vram)) g.vramBytes = Number(vram);
    const gfx = (f["GFX Version"] ?? "").trim();
    if (/^gfx[0-9a-f]{3,4}$/.test(gfx)) g.gfx = gfx;
    const model = f["Card Series"] ?? f["Card series"] ?? f["Marketing Name"];
    if (model && model !== "N/A") g.model = squash(model);
  }
  return { gpus, problems: gpus.length === 0 ? ["no GPUs"] : [] };
}
