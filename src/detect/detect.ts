/**
 * Detection: capture files in, profile and report out. `detectFromFiles` is pure; the disk and
 * processes are reached only through io.ts.
 */
import { DetectError } from "../errors.js";
import type { ProfileInput } from "../profile/schema.js";
import { readCaptureDir, readLiveHost } from "./io.js";
import {
  gccArchArm,
  gccArchPower,
  gccArchX86,
  ARCH_MIN_LEVEL,
  levelAtLeast,
  missingForLevel,
  nvidiaComputeCapability,
  PCI_VENDOR,
  SPYRE_DEVICE_IDS,
  TPU_DEVICE_IDS,
  TPU_V2_V3_DEVICE_ID,
  x86Level,
} from "../knowledge/identify.js";
import { parseKfdMemBank, parseKfdProperties, parseRocminfo, parseRocmSmi, type RocmSmiGpu } from "./parsers/amd.js";
import { parseCpuinfo, type Cpuinfo } from "./parsers/cpuinfo.js";
import { formatCpulist, parseCpuMask, parseCpulist } from "./parsers/cpulist.js";
import { lscpuCount, lscpuCpus, lscpuNuma, parseLscpu, parseLscpuJson, type Lscpu } from "./parsers/lscpu.js";
import { parseLspci, type PciDevice } from "./parsers/lspci.js";
import { kibToMiB, parseMeminfo } from "./parsers/meminfo.js";
import { parseNvidiaProcInformation, parseNvidiaSmi, parseNvidiaSmiQ } from "./parsers/nvidia.js";
import { cleanText, looksBinary, normalizePci } from "./parsers/text.js";
import type { CaptureFiles, DetectOptions, DetectResult, Fact } from "./types.js";

const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const FLAG_RE = /^[a-z0-9_.]+$/;

type Cpu = NonNullable<ProfileInput["cpu"]>;
type Accel = NonNullable<ProfileInput["accelerators"]>[number];

/** Collects facts and messages while the profile is built. */
class Recorder {
  readonly facts: Fact[] = [];
  readonly messages: string[] = [];
  fact(path: string, value: unknown, from: readonly string[]): void {
    this.facts.push({ path, value, from: [...new Set(from)].sort() });
  }
  msg(m: string): void {
    if (!this.messages.includes(m)) this.messages.push(m);
  }
}

/** Files of the capture that are readable text; binary junk is reported and dropped. */
function usable(files: CaptureFiles, rec: Recorder): Map<string, string> {
  const out = new Map<string, string>();
  for (const [path, text] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (looksBinary(text)) {
      rec.msg(`${path}: not text (binary junk?); ignored`);
      continue;
    }
    out.set(path, text);
  }
  return out;
}

/** Tool output files for one tool: commands/<tool>.txt and commands/<tool>-<variant>.txt. */
function toolFiles(files: Map<string, string>, tool: string): string[] {
  const re = new RegExp(`^commands/${tool.replace(/[-.]/g, "\\$&")}(-[A-Za-z0-9_.-]+)?\\.txt$`);
  return [...files.keys()].filter((k) => re.test(k)).sort();
}

// ---------------------------------------------------------------------------------------------
// CPU

interface CpuSources {
  ci?: Cpuinfo;
  ciPath: string;
  ls?: Lscpu;
  lsPaths: string[];
}

function mergeLscpu(parts: Lscpu[]): Lscpu {
  const out: Lscpu = { fields: {}, modelNames: [], problems: [] };
  for (const p of parts) {
    for (const [k, v] of Object.entries(p.fields)) if (!(k in out.fields)) out.fields[k] = v;
    if (out.modelNames.length === 0) out.modelNames.push(...p.modelNames);
  }
  return out;
}

function readCpuSources(files: Map<string, string>, rec: Recorder): CpuSources {
  const src: CpuSources = { ciPath: "proc/cpuinfo", lsPaths: [] };
  const ciText = files.get("proc/cpuinfo");
  if (ciText !== undefined) {
    const ci = parseCpuinfo(ciText);
    for (const p of ci.problems) rec.msg(`proc/cpuinfo: ${p}`);
    if (ci.processors.length > 0) src.ci = ci;
  }
  // Plain first, then JSON, then --hex: the first source that has a field wins.
  const paths = toolFiles(files, "lscpu").sort((a, b) => rankLscpu(a) - rankLscpu(b));
  const parsed: Lscpu[] = [];
  for (const p of paths) {
    const text = files.get(p)!;
    const l = cleanText(text).trimStart().startsWith("{") ? parseLscpuJson(text) : parseLscpu(text);
    for (const pr of l.problems) rec.msg(`${p}: ${pr}`);
    if (Object.keys(l.fields).length > 0) {
      parsed.push(l);
      src.lsPaths.push(p);
    }
  }
  if (parsed.length > 0) src.ls = mergeLscpu(parsed);
  return src;
}

function rankLscpu(p: string): number {
  if (p === "commands/lscpu.txt") return 0;
  if (/-J|json/i.test(p)) return 1;
  return 2;
}

function detectCpu(files: Map<string, string>, rec: Recorder, profile: ProfileInput): void {
  const { ci, ciPath, ls, lsPaths } = readCpuSources(files, rec);
  const cpu: Cpu = {};
  const lsArch = ls?.fields["Architecture"];

  // Nix system double.
  let system: ProfileInput["system"];
  let systemFrom: string[] = [];
  if (lsArch === "x86_64") system = "x86_64-linux";
  else if (lsArch === "aarch64") system = "aarch64-linux";
  else if (lsArch === "ppc64le") system = "powerpc64le-linux";
  else if (lsArch === "ppc64") rec.msg(`${lsPaths[0]}: big-endian ppc64 is not a system hwflake plans for`);
  if (system) systemFrom = lsPaths;
  else if (ci?.kind === "x86" && ci.flags) {
    // "lm" (long mode) is how the kernel says the CPU runs 64-bit code.
    if (ci.flags.includes("lm")) system = "x86_64-linux";
    else rec.msg("proc/cpuinfo: x86 CPU without the lm flag (32-bit); no supported system");
    systemFrom = [ciPath];
  } else if (ci?.kind === "arm" && ci.flags?.includes("asimd")) {
    // "asimd" is an arm64 hwcap name; a 32-bit ARM kernel reports "neon" instead.
    system = "aarch64-linux";
    systemFrom = [ciPath];
  } else if (ci?.kind === "power") {
    rec.msg("proc/cpuinfo: POWER CPU, but cpuinfo does not show the byte order; capture lscpu to tell ppc64le from ppc64");
  }
  if (system) {
    profile.system = system;
    rec.fact("system", system, systemFrom);
  }

  // Vendor.
  const kind: Cpuinfo["kind"] =
    ci?.kind && ci.kind !== "unknown"
      ? ci.kind
      : lsArch === "x86_64" || lsArch === "i686"
        ? "x86"
        : lsArch === "aarch64"
          ? "arm"
          : lsArch?.startsWith("ppc")
            ? "power"
            : "unknown";
  const vendorId = ci?.vendorId ?? (kind === "x86" ? ls?.fields["Vendor ID"] : undefined);
  const vendorFrom = ci?.kind === kind && kind !== "unknown" ? [ciPath] : lsPaths;
  if (kind === "x86" && vendorId) {
    cpu.vendor = vendorId === "GenuineIntel" ? "intel" : vendorId === "AuthenticAMD" ? "amd" : "other";
  } else if (kind === "arm") cpu.vendor = "arm";
  else if (kind === "power") cpu.vendor = "ibm";
  if (cpu.vendor) rec.fact("cpu.vendor", cpu.vendor, vendorFrom);

  // Model name.
  let model: string | undefined;
  let modelFrom: string[] = [];
  if (kind === "arm") {
    // Arm kernels rarely print a model name; lscpu names the core from its part number.
    if (ls && ls.modelNames.length > 0) {
      model = ls.modelNames[0];
      modelFrom = lsPaths;
      if (new Set(ls.modelNames).size > 1) rec.msg(`${lsPaths[0]}: several core types (${[...new Set(ls.modelNames)].join(", ")}); model is the first`);
    } else if (ci?.modelName) {
      model = ci.modelName;
      modelFrom = [ciPath];
    }
  } else if (ci?.modelName) {
    model = ci.modelName;
    modelFrom = [ciPath];
  } else if (ls && ls.modelNames.length > 0) {
    model = ls.modelNames[0];
    modelFrom = lsPaths;
  }
  if (model && model !== "-") {
    cpu.model = model;
    rec.fact("cpu.model", model, modelFrom);
    if (/Eng(ineering)? Sample|\b0000%|\bES\b|Genuine Intel\(R\) CPU\s+(0000|\$0000)/i.test(model)) {
      rec.msg(`cpu.model: "${model}" looks like an engineering sample; cpu.arch comes from family/model, not the name`);
    }
  }

  // Flags, normalised to /proc/cpuinfo spelling (lower case). POWER shows none; derive them.
  let flags: string[] | undefined;
  let flagsFrom: string[] = [];
  if (ci?.flags) {
    flags = ci.flags;
    flagsFrom = [ciPath];
    if (ci.flagsDiffer) rec.msg("proc/cpuinfo: CPUs report different flags; using those common to all");
  } else if (ls?.fields["Flags"]) {
    flags = ls.fields["Flags"].split(/\s+/).filter(Boolean);
    flagsFrom = lsPaths;
  }
  if (kind === "power" && ci?.powerGeneration !== undefined) {
    const derived: string[] = [];
    if (ci.altivec) derived.push("altivec");
    // VSX arrived with POWER7 (Power ISA 2.06); every later POWER has it.
    if (ci.powerGeneration >= 7) derived.push("vsx");
    flags = [...(flags ?? []), ...derived];
    flagsFrom = [...flagsFrom, ciPath];
  }
  if (flags) {
    const lower = flags.map((f) => f.toLowerCase());
    const bad = lower.filter((f) => !FLAG_RE.test(f));
    if (bad.length > 0) rec.msg(`${flagsFrom[0]}: dropped unreadable flags: ${bad.slice(0, 5).join(" ")}`);
    flags = [...new Set(lower.filter((f) => FLAG_RE.test(f)))].sort();
    cpu.flags = flags;
    rec.fact("cpu.flags", flags, flagsFrom);
  }

  // gcc arch.
  let arch: string | undefined;
  let archFrom: string[] = [];
  if (kind === "x86") {
    const family = ci?.family ?? num(ls?.fields["CPU family"]);
    const mdl = ci?.model ?? num(ls?.fields["Model"]);
    const famFrom = ci?.family !== undefined ? [ciPath] : lsPaths;
    if ((cpu.vendor === "amd" || cpu.vendor === "intel") && family !== undefined && mdl !== undefined) {
      arch = gccArchX86(cpu.vendor, family, mdl, flags);
      archFrom = famFrom;
    }
    if (flags) {
      const level = x86Level(flags);
      const need = arch ? ARCH_MIN_LEVEL[arch] : undefined;
      if (arch && need && !levelAtLeast(level, need)) {
        rec.msg(
          `cpu.arch: family ${family} model ${mdl} is ${arch}, but the flags lack ${missingForLevel(flags, need).join(" ")} ` +
            `(a VM masking them, or a kernel too old to report them); using ${level}`,
        );
        arch = level;
        archFrom = flagsFrom;
      } else if (!arch) {
        arch = level;
        archFrom = flagsFrom;
      } else archFrom = [...archFrom, ...flagsFrom];
    }
  } else if (kind === "arm" && ci) {
    if (ci.armImplementer !== undefined && ci.armPart !== undefined) {
      arch = gccArchArm(ci.armImplementer, ci.armPart);
      if (arch) archFrom = [ciPath];
      else rec.msg(`proc/cpuinfo: Arm core implementer 0x${ci.armImplementer.toString(16)} part 0x${ci.armPart.toString(16)} has no known gcc name; set cpu.arch by hand`);
    } else if ((ci.armParts?.length ?? 0) > 1) {
      rec.msg("proc/cpuinfo: several Arm core types (big.LITTLE); cpu.arch left unknown");
    }
  } else if (kind === "power" && ci?.powerGeneration !== undefined) {
    arch = gccArchPower(ci.powerGeneration);
    if (arch) archFrom = [ciPath];
  }
  if (arch) {
    cpu.arch = arch;
    rec.fact("cpu.arch", arch, archFrom);
  }

  // Topology. lscpu counts are preferred, then sysfs topology; x86 cpuinfo can stand in.
  const topo = sysfsTopology(files);
  const sockets = ls ? lscpuCount(ls, "Socket(s)") : undefined;
  if (sockets !== undefined) {
    cpu.sockets = sockets;
    rec.fact("cpu.sockets", sockets, lsPaths);
  } else if (topo?.sockets !== undefined) {
    cpu.sockets = topo.sockets;
    rec.fact("cpu.sockets", topo.sockets, topo.from);
  } else if (ci?.physicalIds && ci.physicalIds.length > 0) {
    // Distinct physical ids count sockets only if every CPU of each package is listed.
    if (ci.siblings !== undefined && ci.processors.length < ci.siblings * ci.physicalIds.length) {
      rec.msg(`proc/cpuinfo: lists ${ci.processors.length} CPUs but a package has ${ci.siblings}; the file is partial, cpu.sockets left unknown`);
    } else {
      cpu.sockets = ci.physicalIds.length;
      rec.fact("cpu.sockets", cpu.sockets, [ciPath]);
    }
  } else if (ls?.fields["Socket(s)"] === "-") {
    rec.msg(`${lsPaths[0]}: Socket(s) is "-" (the firmware does not say); cpu.sockets left unknown`);
  }
  const cores = ls ? lscpuCount(ls, "Core(s) per socket") : undefined;
  if (cores !== undefined) {
    cpu.coresPerSocket = cores;
    rec.fact("cpu.coresPerSocket", cores, lsPaths);
  } else if (topo?.cores !== undefined) {
    cpu.coresPerSocket = topo.cores;
    rec.fact("cpu.coresPerSocket", topo.cores, topo.from);
  } else if (ci?.cpuCores !== undefined && ci.cpuCores > 0) {
    cpu.coresPerSocket = ci.cpuCores;
    rec.fact("cpu.coresPerSocket", ci.cpuCores, [ciPath]);
  }
  const threads = ls ? lscpuCount(ls, "Thread(s) per core") : undefined;
  if (threads !== undefined) {
    cpu.threadsPerCore = threads;
    rec.fact("cpu.threadsPerCore", threads, lsPaths);
  } else if (topo?.threads !== undefined) {
    cpu.threadsPerCore = topo.threads;
    rec.fact("cpu.threadsPerCore", topo.threads, topo.from);
  } else if (topo?.mixed) {
    rec.msg("sys/devices/system/cpu: cores have different thread counts (a hybrid CPU); cpu.threadsPerCore left unknown");
  } else if (ci?.siblings && ci.cpuCores && ci.siblings % ci.cpuCores === 0) {
    cpu.threadsPerCore = ci.siblings / ci.cpuCores;
    rec.fact("cpu.threadsPerCore", cpu.threadsPerCore, [ciPath]);
  } else if (ci?.siblings && ci.cpuCores) {
    rec.msg(`proc/cpuinfo: ${ci.siblings} threads on ${ci.cpuCores} cores (a hybrid CPU with and without SMT); cpu.threadsPerCore left unknown`);
  }

  // Offline CPUs make per-socket counts describe the online CPUs only.
  const offline = ls ? lscpuCpus(ls, "Off-line CPU(s) list") ?? lscpuCpus(ls, "Off-line CPU(s) mask") : undefined;
  if (offline && offline.length > 0) {
    rec.msg(`${lsPaths[0]}: CPUs ${formatCpulist(offline)} are offline; core and thread counts describe online CPUs`);
  }
  const onlineText = files.get("sys/devices/system/cpu/online");
  if (onlineText !== undefined && parseCpulist(onlineText) === null) rec.msg("sys/devices/system/cpu/online: not a cpulist; ignored");
  const offText = files.get("sys/devices/system/cpu/offline");
  const off = offText !== undefined ? parseCpulist(offText) : null;
  if (!(offline && offline.length > 0) && off && off.length > 0) {
    rec.msg(`sys/devices/system/cpu/offline: CPUs ${formatCpulist(off)} are offline; core and thread counts describe online CPUs`);
  }
  const onl = onlineText !== undefined ? parseCpulist(onlineText) : null;
  if (ci && onl && onl.length > 0 && ci.processors.length > onl.length) {
    rec.msg(`proc/cpuinfo lists ${ci.processors.length} CPUs but sys/devices/system/cpu/online has ${onl.length}; counts follow sysfs`);
  }

  // NUMA.
  const numa = detectNuma(files, rec, ls, lsPaths);
  if (numa) {
    cpu.numa = numa.nodes;
    rec.fact("cpu.numa", numa.nodes, numa.from);
  }

  profile.cpu = cpu;
}


/** Sockets, cores per socket and threads per core from sysfs cpu<N>/topology of the online CPUs. */
function sysfsTopology(files: Map<string, string>): { sockets?: number; cores?: number; threads?: number; from: string[]; mixed: boolean } | undefined {
  const onlineText = files.get("sys/devices/system/cpu/online");
  const online = onlineText !== undefined ? parseCpulist(onlineText) : null;
  const re = /^sys\/devices\/system\/cpu\/cpu(\d+)\/topology\/physical_package_id$/;
  const cpus = [...files.keys()].map((k) => re.exec(k)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1]));
  const use = online ? cpus.filter((c) => online.includes(c)) : cpus;
  if (use.length === 0) return undefined;
  const from = ["sys/devices/system/cpu/online"].filter((f) => files.has(f));
  const pkgCores = new Map<string, Set<string>>();
  const threadCounts = new Set<number>();
  for (const c of use.sort((a, b) => a - b)) {
    const base = `sys/devices/system/cpu/cpu${c}/topology`;
    const pkg = cleanText(files.get(`${base}/physical_package_id`)!).trim();
    const sib = files.get(`${base}/thread_siblings_list`);
    const sibs = sib !== undefined ? parseCpulist(sib) : null;
    if (!/^-?\d+$/.test(pkg) || !sibs) return undefined;
    from.push(`${base}/physical_package_id`, `${base}/thread_siblings_list`);
    // A core is identified by its set of thread siblings (core_id repeats across clusters on Arm).
    const cores = pkgCores.get(pkg) ?? new Set<string>();
    cores.add(formatCpulist(sibs));
    pkgCores.set(pkg, cores);
    threadCounts.add(sibs.length);
  }
  const coreCounts = new Set([...pkgCores.values()].map((s) => s.size));
  const out: { sockets?: number; cores?: number; threads?: number; from: string[]; mixed: boolean } = { sockets: pkgCores.size, from, mixed: threadCounts.size > 1 };
  if (coreCounts.size === 1) out.cores = [...coreCounts][0]!;
  if (threadCounts.size === 1) out.threads = [...threadCounts][0]!;
  return out;
}

function num(s: string | undefined): number | undefined {
  return s !== undefined && /^\d+$/.test(s.trim()) ? Number(s.trim()) : undefined;
}

function detectNuma(
  files: Map<string, string>,
  rec: Recorder,
  ls: Lscpu | undefined,
  lsPaths: string[],
): { nodes: NonNullable<Cpu["numa"]>; from: string[] } | undefined {
  const ids = new Set<number>();
  for (const k of files.keys()) {
    const m = /^sys\/devices\/system\/node\/node(\d+)\/(cpulist|cpumap|meminfo)$/.exec(k);
    if (m) ids.add(Number(m[1]));
  }
  if (ids.size > 0) {
    const nodes: NonNullable<Cpu["numa"]> = [];
    const from: string[] = [];
    for (const id of [...ids].sort((a, b) => a - b)) {
      const base = `sys/devices/system/node/node${id}`;
      const cl = files.get(`${base}/cpulist`);
      const cm = files.get(`${base}/cpumap`);
      const listFile = cl !== undefined ? `${base}/cpulist` : `${base}/cpumap`;
      if (cl === undefined && cm === undefined) {
        rec.msg(`${base}: no cpulist; NUMA layout left unknown`);
        return undefined;
      }
      const cpus = cl !== undefined ? parseCpulist(cl) : parseCpuMask(cm!);
      if (cpus === null) {
        rec.msg(`${listFile}: unreadable CPU list; NUMA layout left unknown`);
        return undefined;
      }
      from.push(listFile);
      const node: NonNullable<Cpu["numa"]>[number] = { id, cpus: formatCpulist(cpus) };
      const mi = files.get(`${base}/meminfo`);
      if (mi !== undefined) {
        const t = parseMeminfo(mi).totalKiB;
        if (t !== undefined) {
          node.memoryMiB = kibToMiB(t);
          from.push(`${base}/meminfo`);
        } else rec.msg(`${base}/meminfo: no MemTotal`);
      }
      if (cpus.length === 0) rec.msg(`${base}: memory-only NUMA node (no CPUs)`);
      nodes.push(node);
    }
    return { nodes, from };
  }
  if (ls) {
    const lsNodes = lscpuNuma(ls);
    if (lsNodes.length > 0) {
      return { nodes: lsNodes.map((n) => ({ id: n.id, cpus: formatCpulist(n.cpus) })), from: lsPaths };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Memory and host

function detectMemory(files: Map<string, string>, rec: Recorder, profile: ProfileInput): void {
  const text = files.get("proc/meminfo");
  if (text === undefined) return;
  const t = parseMeminfo(text).totalKiB;
  const mib = t !== undefined ? kibToMiB(t) : 0;
  if (mib > 0) {
    profile.memory = { totalMiB: mib };
    rec.fact("memory.totalMiB", mib, ["proc/meminfo"]);
  } else rec.msg("proc/meminfo: no MemTotal line");
}

function detectHost(files: Map<string, string>, rec: Recorder, opts: DetectOptions): string {
  if (opts.host !== undefined) {
    if (!HOSTNAME_RE.test(opts.host)) throw new DetectError(`host "${opts.host}" is not a host name (letters, digits and '-', at most 63 characters)`);
    rec.fact("host", opts.host, []);
    return opts.host;
  }
  const path = "proc/sys/kernel/hostname";
  const text = files.get(path);
  if (text !== undefined) {
    const raw = cleanText(text).trim();
    // The kernel host name may be a full domain name; NixOS wants the first label.
    const label = raw.split(".")[0] ?? "";
    if (HOSTNAME_RE.test(label)) {
      if (label !== raw) rec.msg(`${path}: "${raw}" shortened to its first label "${label}"`);
      rec.fact("host", label, [path]);
      return label;
    }
    rec.msg(`${path}: "${raw.slice(0, 40)}" is not a usable host name`);
  }
  rec.msg('host: not captured; defaulted to "localhost" (pass a host name to override)');
  return "localhost";
}

// ---------------------------------------------------------------------------------------------
// Accelerators

/** A GPU being assembled from several sources: each field remembers where it came from. */
interface Cand {
  vendor: "amd" | "nvidia";
  order: number;
  pci?: string;
  fields: Map<string, { value: string | number; from: string[] }>;
  /** Extra nodes/agents merged into this one (partitions). */
  parts: number;
  notes: string[];
}

function setField(c: Cand, key: string, value: string | number | undefined, from: string): void {
  if (value === undefined) return;
  const cur = c.fields.get(key);
  if (!cur) c.fields.set(key, { value, from: [from] });
  else if (cur.value === value && !cur.from.includes(from)) cur.from.push(from);
}

function detectAmd(files: Map<string, string>, rec: Recorder): { cands: Cand[]; seen: boolean } {
  const cands: Cand[] = [];
  let seen = false;
  const byNode = new Map<number, Cand>();
  const kfdRe = /^sys\/class\/kfd\/kfd\/topology\/nodes\/(\d+)\/properties$/;
  const nodeIds = [...files.keys()].map((k) => kfdRe.exec(k)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1]));
  for (const id of nodeIds.sort((a, b) => a - b)) {
    seen = true;
    const path = `sys/class/kfd/kfd/topology/nodes/${id}/properties`;
    const node = parseKfdProperties(files.get(path)!);
    if (Object.keys(node.props).length === 0) {
      rec.msg(`${path}: no properties`);
      continue;
    }
    if (!node.isGpu) continue;
    const c: Cand = { vendor: "amd", order: cands.length, fields: new Map(), parts: 1, notes: [] };
    if (node.pciAddress) c.pci = node.pciAddress;
    setField(c, "arch", node.gfx, path);
    setField(c, "pciAddress", node.pciAddress, path);
    let vram = 0;
    const bankFrom: string[] = [];
    for (const k of files.keys()) {
      const m = new RegExp(`^sys/class/kfd/kfd/topology/nodes/${id}/mem_banks/\\d+/properties$`).exec(k);
      if (!m) continue;
      const b = parseKfdMemBank(files.get(k)!);
      if (b !== undefined) {
        vram += b;
        bankFrom.push(k);
      }
    }
    if (vram > 0) {
      const mib = Math.floor(vram / 1048576);
      c.fields.set("memoryMiB", { value: mib, from: bankFrom.sort() });
    }
    byNode.set(id, c);
    cands.push(c);
  }

  const riPath = toolFiles(files, "rocminfo")[0];
  if (riPath) {
    seen = true;
    const ri = parseRocminfo(files.get(riPath)!);
    for (const p of ri.problems) rec.msg(`${riPath}: ${p}`);
    const gpus = ri.agents.filter((a) => a.deviceType === "GPU");
    const truncated = ri.agents.length > 0 && !/\*\*\* Done \*\*\*/.test(files.get(riPath)!);
    if (truncated) rec.msg(`${riPath}: truncated (no "*** Done ***" line); agents after the cut are missing`);
    for (const a of gpus) {
      let c = a.node !== undefined ? byNode.get(a.node) : undefined;
      if (!c && a.pciAddress) c = cands.find((x) => x.pci === a.pciAddress);
      if (!c) {
        c = { vendor: "amd", order: cands.length, fields: new Map(), parts: 1, notes: [] };
        if (a.pciAddress) c.pci = a.pciAddress;
        cands.push(c);
        if (a.node !== undefined) byNode.set(a.node, c);
      }
      setField(c, "arch", a.gfx, riPath);
      setField(c, "uuid", a.uuid, riPath);
      setField(c, "model", a.marketingName, riPath);
      setField(c, "pciAddress", a.pciAddress, riPath);
      if (a.vramKiB !== undefined && a.vramKiB > 0) setField(c, "memoryMiB", kibToMiB(a.vramKiB), riPath);
      if (!c.pci && a.pciAddress) c.pci = a.pciAddress;
    }
  }

  const smiPaths = toolFiles(files, "rocm-smi");
  const smi = new Map<number, RocmSmiGpu & { from: string[] }>();
  for (const p of smiPaths) {
    seen = true;
    const r = parseRocmSmi(files.get(p)!);
    for (const g of r.gpus) {
      const cur = smi.get(g.index);
      if (!cur) smi.set(g.index, { ...g, from: [p] });
      else {
        for (const [k, v] of Object.entries(g.fields)) if (!(k in cur.fields)) cur.fields[k] = v;
        cur.pciAddress ??= g.pciAddress;
        cur.vramBytes ??= g.vramBytes;
        cur.gfx ??= g.gfx;
        cur.model ??= g.model;
        cur.from.push(p);
      }
    }
  }
  if (smi.size > 0) {
    const list = [...smi.values()].sort((a, b) => a.index - b.index);
    const anyPci = list.some((g) => g.pciAddress) && cands.some((c) => c.pci);
    const sameCount = list.length === cands.length;
    list.forEach((g, i) => {
      let c = anyPci ? cands.find((x) => x.pci === g.pciAddress) : sameCount ? cands[i] : undefined;
      if (!c && cands.length === 0) {
        c = { vendor: "amd", order: i, fields: new Map(), parts: 1, notes: [] };
        if (g.pciAddress) c.pci = g.pciAddress;
        cands.push(c);
      }
      if (!c) return;
      const from = g.from[0]!;
      setField(c, "arch", g.gfx, from);
      setField(c, "pciAddress", g.pciAddress, from);
      setField(c, "model", g.model, from);
      if (g.vramBytes) setField(c, "deviceMemoryMiB", Math.floor(g.vramBytes / 1048576), from);
      if (g.computePartition && g.computePartition !== "SPX") {
        rec.msg(`amd GPU ${g.index} (${from}): compute partition mode ${g.computePartition}; each partition shows as its own agent`);
      }
    });
  }
  return { cands: mergePartitions(cands, rec), seen };
}

/** Nodes/agents that share one PCI function are partitions of one physical GPU (MI300X CPX). */
function mergePartitions(cands: Cand[], rec: Recorder): Cand[] {
  const out: Cand[] = [];
  const byPci = new Map<string, Cand>();
  for (const c of cands) {
    const head = c.pci ? byPci.get(c.pci) : undefined;
    if (!head) {
      out.push(c);
      if (c.pci) byPci.set(c.pci, c);
      continue;
    }
    head.parts += c.parts;
    // Per-partition memory is a share of the device; only a device-level figure is kept.
    const mem = c.fields.get("memoryMiB");
    const headMem = head.fields.get("memoryMiB");
    if (mem && headMem) head.fields.set("memoryMiB", { value: (headMem.value as number) + (mem.value as number), from: [...new Set([...headMem.from, ...mem.from])] });
    for (const [k, v] of c.fields) if (!head.fields.has(k)) head.fields.set(k, v);
  }
  for (const c of out) {
    if (c.parts > 1) {
      rec.msg(`${c.vendor} GPU at ${c.pci}: ${c.parts} partitions (compute partitioning, e.g. CPX mode) counted as one physical device`);
      // Partition uuids name one partition, not the device; the device id must come from elsewhere.
      c.notes.push("partitioned");
    }
  }
  return out;
}

function detectNvidia(files: Map<string, string>, rec: Recorder): { cands: Cand[]; seen: boolean } {
  const cands: Cand[] = [];
  let seen = false;
  const find = (pci: string | undefined) => (pci ? cands.find((c) => c.pci === pci) : undefined);
  const add = (pci: string | undefined): Cand => {
    const c: Cand = { vendor: "nvidia", order: cands.length, fields: new Map(), parts: 1, notes: [] };
    if (pci) c.pci = pci;
    cands.push(c);
    return c;
  };
  const smiFiles = toolFiles(files, "nvidia-smi");
  const qFiles = smiFiles.filter((p) => /NVSMI LOG|Product Name\s*:/.test(files.get(p)!));
  const tableFiles = smiFiles.filter((p) => !qFiles.includes(p));
  for (const p of qFiles) {
    seen = true;
    const q = parseNvidiaSmiQ(files.get(p)!);
    for (const pr of q.problems) rec.msg(`${p}: ${pr}`);
    for (const g of q.gpus) {
      const c = find(g.pciAddress) ?? add(g.pciAddress);
      setField(c, "pciAddress", g.pciAddress, p);
      setField(c, "model", g.productName, p);
      setField(c, "uuid", g.uuid, p);
      setField(c, "memoryMiB", g.memoryMiB, p);
      setField(c, "arch", g.computeCapability, p);
      setField(c, "qIndex", g.position, p);
      if (g.mig === "Enabled") setField(c, "mig", "Enabled", p);
    }
  }
  for (const p of tableFiles) {
    seen = true;
    const t = parseNvidiaSmi(files.get(p)!);
    for (const pr of t.problems) rec.msg(`${p}: ${pr}`);
    for (const g of t.gpus) {
      const c = find(g.pciAddress) ?? add(g.pciAddress);
      setField(c, "pciAddress", g.pciAddress, p);
      if (!g.nameTruncated) setField(c, "model", g.name, p);
      else setField(c, "truncatedName", g.name, p);
      setField(c, "memoryMiB", g.memoryMiB, p);
      setField(c, "index", g.index, p);
      if (g.mig === "Enabled") setField(c, "mig", "Enabled", p);
    }
  }
  const infoRe = /^proc\/driver\/nvidia\/gpus\/[^/]+\/information$/;
  for (const p of [...files.keys()].filter((k) => infoRe.test(k)).sort()) {
    seen = true;
    const info = parseNvidiaProcInformation(files.get(p)!);
    if (!info.model && !info.uuid) {
      rec.msg(`${p}: no Model or GPU UUID`);
      continue;
    }
    const c = find(info.pciAddress) ?? add(info.pciAddress);
    setField(c, "pciAddress", info.pciAddress, p);
    setField(c, "model", info.model, p);
    setField(c, "uuid", info.uuid, p);
  }
  const dirs = new Set([...files.keys()].map((k) => /^proc\/driver\/nvidia\/gpus\/([^/]+)\//.exec(k)?.[1]).filter((x): x is string => !!x));
  const described = new Set(cands.map((c) => c.pci));
  const bare = [...dirs].filter((d) => !described.has(normalizePci(d)) && !files.has(`proc/driver/nvidia/gpus/${d}/information`)).sort();
  if (bare.length > 0) {
    seen = true;
    rec.msg(`proc/driver/nvidia/gpus: ${bare.length} NVIDIA GPUs (${bare.join(", ")}) without an information file or nvidia-smi output; left out (capture nvidia-smi -q)`);
  }
  for (const c of cands) {
    // nvidia-smi numbers GPUs as -q lists them; the table's index column says it directly.
    if (!c.fields.has("index") && c.fields.has("qIndex")) c.fields.set("index", c.fields.get("qIndex")!);
    if (c.fields.has("mig")) rec.msg(`nvidia GPU at ${c.pci ?? "?"}: MIG mode enabled; MIG instances are not listed, the GPU is counted as one device`);
  }
  return { cands, seen };
}

function collectPci(files: Map<string, string>, rec: Recorder): { devices: PciDevice[]; withIds: boolean; from: Map<string, string> } {
  const byAddr = new Map<string, PciDevice>();
  const from = new Map<string, string>();
  let withIds = false;
  for (const p of toolFiles(files, "lspci")) {
    const r = parseLspci(files.get(p)!);
    for (const pr of r.problems) rec.msg(`${p}: ${pr}`);
    for (const d of r.devices) {
      const cur = byAddr.get(d.pciAddress);
      if (d.vendorId) withIds = true;
      if (!cur) {
        byAddr.set(d.pciAddress, { ...d });
        if (d.vendorId) from.set(d.pciAddress, p);
      } else {
        if (!cur.vendorId && d.vendorId) {
          cur.vendorId = d.vendorId;
          cur.deviceId = d.deviceId;
          cur.classCode = d.classCode;
          cur.description = d.description;
          from.set(d.pciAddress, p);
        }
        cur.driver ??= d.driver;
      }
    }
  }
  const devices = [...byAddr.values()].sort((a, b) => (a.pciAddress < b.pciAddress ? -1 : 1));
  return { devices, withIds, from };
}

function gpuFromCand(c: Cand, rec: Recorder): { accel?: Accel; facts: Array<[string, unknown, string[]]> } {
  const get = (k: string) => c.fields.get(k);
  const facts: Array<[string, unknown, string[]]> = [];
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
  if (c.notes.includes("partitioned") && c.vendor === "amd") {
    // A partition's uuid names one partition; pinning the device needs its index instead.
    rec.msg(`amd GPU at ${where}: uuid left out (each partition has its own)`);
  } else put("uuid", get("uuid"));
  if (c.vendor === "nvidia") put("index", get("index"));
  return { accel: accel as Accel, facts };
}

function detectAccelerators(files: Map<string, string>, rec: Recorder, profile: ProfileInput, unknown: string[]): void {
  const amd = detectAmd(files, rec);
  const nv = detectNvidia(files, rec);
  const pci = collectPci(files, rec);

  // GPUs: PCI order, then those without an address in enumeration order.
  const cands = [...amd.cands, ...nv.cands].sort((a, b) => {
    if (a.pci && b.pci) return a.pci < b.pci ? -1 : a.pci > b.pci ? 1 : 0;
    if (a.pci) return -1;
    if (b.pci) return 1;
    return a.vendor === b.vendor ? a.order - b.order : a.vendor < b.vendor ? -1 : 1;
  });
  const accels: Accel[] = [];
  const pending: Array<{ accel: Accel; facts: Array<[string, unknown, string[]]> }> = [];
  // ROCm device index: position among AMD GPUs in enumeration (KFD node) order.
  const amdOrder = amd.cands.filter((c) => c.fields.has("arch") || c.fields.size > 0);
  for (const c of cands) {
    const r = gpuFromCand(c, rec);
    if (!r.accel) continue;
    if (c.vendor === "amd" && !("uuid" in r.accel)) {
      const idx = amdOrder.indexOf(c);
      (r.accel as Record<string, unknown>)["index"] = idx;
      r.facts.push(["index", idx, [...new Set([...c.fields.values()].flatMap((f) => f.from))].sort()]);
    }
    pending.push(r as { accel: Accel; facts: Array<[string, unknown, string[]]> });
  }
  const known = new Set(cands.map((c) => c.pci).filter(Boolean));

  // TPUs (one entry per generation with a chip count) and Spyre cards, by PCI ids.
  const tpus = new Map<string, { addrs: string[]; from: string[] }>();
  const spyres: PciDevice[] = [];
  for (const d of pci.devices) {
    if (d.vendorId === PCI_VENDOR.google) {
      const gen = TPU_DEVICE_IDS[d.deviceId ?? ""];
      if (gen) {
        const t = tpus.get(gen) ?? { addrs: [], from: [] };
        t.addrs.push(d.pciAddress);
        t.from.push(pci.from.get(d.pciAddress)!);
        tpus.set(gen, t);
      } else if (d.deviceId === TPU_V2_V3_DEVICE_ID) {
        rec.msg(`TPU at ${d.pciAddress}: device 1ae0:0027 is TPU v2 or v3 (told apart only by the PCI subsystem id); add it by hand`);
      }
    } else if (d.vendorId === PCI_VENDOR.ibm && SPYRE_DEVICE_IDS.includes(d.deviceId ?? "")) {
      spyres.push(d);
    } else if ((d.vendorId === PCI_VENDOR.nvidia || d.vendorId === PCI_VENDOR.amd) && d.classCode?.startsWith("03") && !known.has(d.pciAddress)) {
      const who = d.vendorId === PCI_VENDOR.nvidia ? "nvidia" : "amd";
      rec.msg(`PCI ${d.pciAddress} is an ${who} GPU (${d.description}) that no driver tool describes; left out (capture ${who === "nvidia" ? "nvidia-smi -q" : "rocminfo"} to include it)`);
    }
  }

  let g = 0;
  const finish = (accel: Accel, facts: Array<[string, unknown, string[]]>) => {
    const i = accels.length;
    accels.push(accel);
    rec.fact(`accelerators[${i}].id`, accel.id, []);
    for (const [k, v, from] of facts) rec.fact(`accelerators[${i}].${k}`, v, from);
    const optional = accel.kind === "gpu" ? ["model", "memoryMiB", "pciAddress", "uuid"] : accel.kind === "tpu" ? ["model", "memoryMiB"] : ["model", "memoryMiB"];
    for (const k of optional) {
      if (!(k in accel)) {
        if (k === "uuid" && "index" in accel) continue;
        unknown.push(`accelerators[${i}].${k}`);
      }
    }
  };
  for (const p of pending) {
    const accel = { ...p.accel, id: `gpu${g++}` } as Accel;
    finish(orderKeys(accel), p.facts);
  }
  let t = 0;
  for (const [gen, info] of [...tpus].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const accel: Accel = { kind: "tpu", vendor: "google", id: `tpu${t++}`, arch: gen as "v4", chips: info.addrs.length };
    if (info.addrs.length === 1) accel.pciAddress = info.addrs[0];
    const facts: Array<[string, unknown, string[]]> = [
      ["arch", gen, [...new Set(info.from)]],
      ["chips", info.addrs.length, [...new Set(info.from)]],
    ];
    if (accel.pciAddress) facts.push(["pciAddress", accel.pciAddress, info.from]);
    finish(accel, facts);
  }
  let s = 0;
  for (const d of spyres) {
    const accel: Accel = { kind: "spyre", vendor: "ibm", id: `spyre${s++}`, pciAddress: d.pciAddress, arch: "spyre" };
    const from = [pci.from.get(d.pciAddress)!];
    finish(accel, [
      ["pciAddress", d.pciAddress, from],
      ["arch", "spyre", from],
    ]);
  }
  profile.accelerators = accels;
  if (!pci.withIds) {
    unknown.push("accelerators");
    rec.msg("accelerators: no lspci -nn in the capture, so cards without a driver tool (TPU, Spyre, GPUs) cannot be seen; the list may be incomplete");
  }
}

/** Stable key order for accelerator entries (easier to read in goldens). */
function orderKeys(a: Accel): Accel {
  const order = ["kind", "vendor", "id", "model", "arch", "memoryMiB", "pciAddress", "uuid", "index", "chips"];
  const rec = a as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of order) if (k in rec) out[k] = rec[k];
  for (const k of Object.keys(rec)) if (!(k in out)) out[k] = rec[k];
  return out as unknown as Accel;
}

// ---------------------------------------------------------------------------------------------

/**
 * Detect a profile from capture files (capture-relative path → text). Pure and total: garbage
 * input yields a profile with unknowns and messages, never an exception (except for an invalid
 * `opts.host`, which is a user error).
 */
export function detectFromFiles(files: CaptureFiles, opts: DetectOptions = {}): DetectResult {
  const rec = new Recorder();
  const usableFiles = usable(files, rec);
  const unknown: string[] = [];
  const host = detectHost(usableFiles, rec, opts);
  const profile: ProfileInput = { version: 1, host };
  detectCpu(usableFiles, rec, profile);
  detectMemory(usableFiles, rec, profile);
  detectAccelerators(usableFiles, rec, profile, unknown);

  const cpu = (profile.cpu ?? {}) as Record<string, unknown>;
  const cpuUnknown = ["vendor", "model", "arch", "flags", "sockets", "coresPerSocket", "threadsPerCore", "numa"]
    .filter((k) => !(k in cpu))
    .map((k) => `cpu.${k}`);
  cpu.numa && (cpu.numa as Array<{ memoryMiB?: number }>).forEach((n, i) => n.memoryMiB === undefined && cpuUnknown.push(`cpu.numa[${i}].memoryMiB`));
  const top = [...(profile.system ? [] : ["system"]), ...cpuUnknown, ...(profile.memory ? [] : ["memory.totalMiB"])];
  if (usableFiles.size === 0 || (rec.facts.filter((f) => f.path !== "host").length === 0 && (profile.accelerators ?? []).length === 0)) {
    rec.msg("capture: no recognised hardware files (proc/cpuinfo, lscpu, meminfo, GPU tools); everything is unknown");
  }
  return { profile, report: { facts: rec.facts, unknown: [...top, ...unknown], messages: rec.messages } };
}

/** Detect from a capture folder (see the capture layout). Throws DetectError if it cannot be read. */
export async function detectFromDir(dir: string, opts: DetectOptions = {}): Promise<DetectResult> {
  const files = await readCaptureDir(dir);
  return detectFromFiles(files, opts);
}

/** Detect this host: read procfs/sysfs and run the installed tools (nothing is written). */
export async function detectLive(opts: DetectOptions = {}): Promise<DetectResult> {
  const { files } = await readLiveHost();
  return detectFromFiles(files, opts);
}
