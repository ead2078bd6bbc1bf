/**
 * NUMA nodes: sysfs node<N> (cpulist or cpumap, meminfo), else lscpu, else the CPU nodes AMD's
 * stack shows (KFD topology, rocminfo CPU agents), which give each node's CPU count but not its
 * CPU list.
 */
import { parseKfdProperties, parseRocminfo } from "./parsers/amd.js";
import { formatCpulist } from "../knowledge/cpulist.js";
import { parseCpuMask, parseCpulist } from "./parsers/cpulist.js";
import { lscpuNuma, type Lscpu } from "./parsers/lscpu.js";
import { kibToMiB, parseMeminfo } from "./parsers/meminfo.js";
import { toolFiles, type Cpu, type Files, type Recorder } from "./recorder.js";

type Nodes = { nodes: NonNullable<Cpu["numa"]>; from: string[] };

/** The NUMA nodes and the files they came from, or undefined when the capture does not show them. */
export function detectNuma(
  files: Files,
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
  return kfdNuma(files, rec) ?? rocminfoNuma(files, rec);
}

/**
 * KFD CPU nodes (cpu_cores_count > 0), one per NUMA node with CPUs, in node order (the kernel
 * walks online NUMA nodes: drivers/gpu/drm/amd/amdkfd/kfd_crat.c). cpu_cores_count is the
 * node's logical CPU count; cpu_core_id_base is its first CPU's APIC id on x86-64 (not a Linux
 * CPU number: kfd_topology.c kfd_cpumask_to_apic_id), so the CPU list itself stays unknown.
 */
function kfdNuma(files: Files, rec: Recorder): Nodes | undefined {
  // Canonical node numbers only, as in accelerators/amd-gpu.ts.
  const re = /^sys\/class\/kfd\/kfd\/topology\/nodes\/(0|[1-9][0-9]{0,5})\/properties$/;
  const ids = [...files.keys()].map((k) => re.exec(k)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1]));
  const nodes: NonNullable<Cpu["numa"]> = [];
  const from: string[] = [];
  for (const id of ids.sort((a, b) => a - b)) {
    const path = `sys/class/kfd/kfd/topology/nodes/${id}/properties`;
    const n = parseKfdProperties(files.get(path)!);
    if (n.cpuCount === undefined) continue;
    nodes.push({ id: nodes.length, cpuCount: n.cpuCount });
    from.push(path);
  }
  if (nodes.length === 0) return undefined;
  rec.msg("cpu.numa: from KFD CPU nodes: node ids are their order, each node's CPU count is known but not its CPU list (capture sys/devices/system/node for it)");
  return { nodes, from };
}

/** rocminfo CPU agents: one per NUMA node with CPUs, with its CPU count and memory pool. */
function rocminfoNuma(files: Files, rec: Recorder): Nodes | undefined {
  const path = toolFiles(files, "rocminfo")[0];
  if (!path) return undefined;
  const cpus = parseRocminfo(files.get(path)!).agents.filter((a) => a.deviceType === "CPU");
  if (cpus.length === 0) return undefined;
  const nodes = cpus.map((a, i) => {
    const node: NonNullable<Cpu["numa"]>[number] = { id: i };
    if (a.computeUnits !== undefined && a.computeUnits > 0) node.cpuCount = a.computeUnits;
    // A CPU agent's GLOBAL pool is the memory of its NUMA node.
    if (a.globalKiB !== undefined && a.globalKiB > 0) node.memoryMiB = kibToMiB(a.globalKiB);
    return node;
  });
  rec.msg(`cpu.numa: from rocminfo CPU agents: node ids are their order, each node's CPU count is known but not its CPU list (capture sys/devices/system/node for it)`);
  return { nodes, from: [path] };
}
