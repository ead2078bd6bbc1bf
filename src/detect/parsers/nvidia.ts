/**
 * NVIDIA sources: the nvidia-smi table, `nvidia-smi -q` and /proc/driver/nvidia/gpus/<bus>/information.
 */
import { cleanText, normalizePci, splitKv, squash, toInt } from "./text.js";

/** One GPU as the nvidia-smi default table shows it. */
export interface NvidiaSmiRow {
  index: number;
  /** The name column, which nvidia-smi cuts short ("NVIDIA A100-SXM...") when it is long. */
  name: string;
  nameTruncated: boolean;
  pciAddress?: string;
  memoryMiB?: number;
  /** "Enabled" / "Disabled" from the MIG M. column, when printed. */
  mig?: string;
}

/** Parse the default `nvidia-smi` table (driver 4xx and the 5xx layout). */
export function parseNvidiaSmi(text: string): { gpus: NvidiaSmiRow[]; problems: string[] } {
  const lines = cleanText(text).split("\n");
  const gpus: NvidiaSmiRow[] = [];
  let cur: NvidiaSmiRow | null = null;
  let row = 0;
  let inProcesses = false;
  for (const line of lines) {
    if (/\|\s*Processes:/.test(line)) inProcesses = true;
    if (inProcesses || !line.startsWith("|")) {
      if (/^\+[-=+]+\+\s*$/.test(line)) {
        cur = null;
        row = 0;
      }
      continue;
    }
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    if (cells.length < 3) continue;
    const first = /^(\d+)\s+(.+?)\s+(On|Off)$/.exec(cells[0]!);
    if (first && /^[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]/.test(cells[1]!)) {
      const name = squash(first[2]!);
      cur = { index: Number(first[1]), name: name.replace(/\.\.\.$/, ""), nameTruncated: name.endsWith("...") };
      const bus = normalizePci(cells[1]!.split(/\s+/)[0]);
      if (bus) cur.pciAddress = bus;
      gpus.push(cur);
      row = 1;
      continue;
    }
    if (cur && row === 1) {
      const mem = /(\d+)\s*MiB\s*\/\s*(\d+)\s*MiB/.exec(cells[1] ?? "");
      if (mem) cur.memoryMiB = Number(mem[2]);
      row = 2;
      continue;
    }
    if (cur && row === 2) {
      const mig = /(Enabled|Disabled)\s*$/.exec(cells[2] ?? "");
      if (mig) cur.mig = mig[1];
      row = 3;
    }
  }
  return { gpus, problems: gpus.length === 0 ? ["no GPUs in table"] : [] };
}

/** One GPU section of `nvidia-smi -q`. */
export interface NvidiaSmiQGpu {
  /** Position in the output (nvidia-smi lists GPUs in index order). */
  position: number;
  pciAddress?: string;
  productName?: string;
  uuid?: string;
  memoryMiB?: number;
  /** "MIG Mode / Current". */
  mig?: string;
  /** Compute capability when the driver prints it (e.g. "9.0"). */
  computeCapability?: string;
  minorNumber?: number;
  /** Flattened "Section / Key" → value. */
  fields: Record<string, string>;
}

/** Parse `nvidia-smi -q` (or `-a`) output. */
export function parseNvidiaSmiQ(text: string): { gpus: NvidiaSmiQGpu[]; driverVersion?: string; problems: string[] } {
  const gpus: NvidiaSmiQGpu[] = [];
  let cur: NvidiaSmiQGpu | null = null;
  let driverVersion: string | undefined;
  // Stack of (indent, heading) for nested sections such as "FB Memory Usage" / "Total".
  const stack: Array<{ indent: number; name: string }> = [];
  for (const raw of cleanText(text).split("\n")) {
    if (raw.trim() === "") continue;
    const gpuHdr = /^GPU\s+([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\s*$/.exec(raw);
    if (gpuHdr) {
      cur = { position: gpus.length, fields: {} };
      const addr = normalizePci(gpuHdr[1]);
      if (addr) cur.pciAddress = addr;
      gpus.push(cur);
      stack.length = 0;
      continue;
    }
    const indent = raw.length - raw.trimStart().length;
    const kv = splitKv(raw);
    if (!cur) {
      if (kv && kv[0] === "Driver Version") driverVersion = kv[1];
      continue;
    }
    while (stack.length > 0 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    if (!kv || kv[1] === "") {
      stack.push({ indent, name: (kv ? kv[0] : raw).trim() });
      continue;
    }
    const key = [...stack.map((s) => s.name), kv[0]].join(" / ");
    if (!(key in cur.fields)) cur.fields[key] = kv[1];
  }
  for (const g of gpus) {
    const f = g.fields;
    if (f["Product Name"]) g.productName = squash(f["Product Name"]);
    const uuid = f["GPU UUID"];
    if (uuid && /^GPU-[0-9a-f-]{36}$/i.test(uuid)) g.uuid = `GPU-${uuid.slice(4).toLowerCase()}`;
    const total = /^(\d+)\s*MiB$/.exec(f["FB Memory Usage / Total"] ?? "");
    if (total) g.memoryMiB = Number(total[1]);
    if (f["MIG Mode / Current"]) g.mig = f["MIG Mode / Current"];
    const cc = f["Compute Capability"] ?? f["CUDA Compute Capability"];
    if (cc && /^\d{1,2}\.\d$/.test(cc)) g.computeCapability = cc;
    const minor = toInt(f["Minor Number"]);
    if (minor !== undefined) g.minorNumber = minor;
  }
  const out: { gpus: NvidiaSmiQGpu[]; driverVersion?: string; problems: string[] } = {
    gpus,
    problems: gpus.length === 0 ? ["no GPU sections"] : [],
  };
  if (driverVersion) out.driverVersion = driverVersion;
  return out;
}

/** What /proc/driver/nvidia/gpus/<bus>/information says. */
export interface NvidiaProcInfo {
  model?: string;
  uuid?: string;
  pciAddress?: string;
  deviceMinor?: number;
}

/** Parse /proc/driver/nvidia/gpus/<bus>/information ("Model: \t Tesla T4" lines). */
export function parseNvidiaProcInformation(text: string): NvidiaProcInfo {
  const f: Record<string, string> = {};
  for (const line of cleanText(text).split("\n")) {
    const kv = splitKv(line);
    if (kv && !(kv[0] in f)) f[kv[0]] = kv[1];
  }
  const out: NvidiaProcInfo = {};
  if (f["Model"]) out.model = squash(f["Model"]);
  if (f["GPU UUID"] && /^GPU-[0-9a-f-]{36}$/i.test(f["GPU UUID"])) out.uuid = `GPU-${f["GPU UUID"].slice(4).toLowerCase()}`;
  const addr = normalizePci(f["Bus Location"]);
  if (addr) out.pciAddress = addr;
  const minor = toInt(f["Device Minor"]);
  if (minor !== undefined) out.deviceMinor = minor;
  return out;
}
