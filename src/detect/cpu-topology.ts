/** Sockets, cores per socket and threads per core: lscpu, then sysfs topology, then x86 cpuinfo. */
import { lscpuCount, lscpuCpus } from "./parsers/lscpu.js";
import { formatCpulist } from "../knowledge/cpulist.js";
import { parseCpulist } from "./parsers/cpulist.js";
import { cleanText } from "./parsers/text.js";
import type { CpuSources } from "./cpu.js";
import type { Cpu, Files, Recorder } from "./recorder.js";

/** Fill cpu.sockets, cpu.coresPerSocket and cpu.threadsPerCore, and report offline CPUs. */
export function detectCpuTopology(files: Files, rec: Recorder, cpu: Cpu, src: CpuSources): void {
  const { ci, ls, lsPaths } = src;
  const ciPath = src.ciPath;
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
}

/** Sockets, cores per socket and threads per core from sysfs cpu<N>/topology of the online CPUs. */
function sysfsTopology(files: Files): { sockets?: number; cores?: number; threads?: number; from: string[]; mixed: boolean } | undefined {
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

/** A decimal lscpu field as a number. */
export function num(s: string | undefined): number | undefined {
  return s !== undefined && /^\d+$/.test(s.trim()) ? Number(s.trim()) : undefined;
}
