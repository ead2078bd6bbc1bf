/** NUMA nodes: sysfs node<N> (cpulist or cpumap, meminfo), else lscpu. */
import { formatCpulist, parseCpuMask, parseCpulist } from "./parsers/cpulist.js";
import { lscpuNuma, type Lscpu } from "./parsers/lscpu.js";
import { kibToMiB, parseMeminfo } from "./parsers/meminfo.js";
import type { Cpu, Files, Recorder } from "./recorder.js";

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
  return undefined;
}
