/**
 * Which hardware threads share a physical core, per NUMA node: what a planner needs to run one
 * thread per core without crossing a node (vLLM's CPU thread binding, llama.cpp --numa). Read
 * from sysfs cpu<N>/topology/thread_siblings_list, else `lscpu -p` (its Core column), else x86
 * cpuinfo's "physical id" and "core id" per processor. Only online CPUs have any of these, so
 * the lists describe online CPUs.
 */
import type { Cpuinfo } from "./parsers/cpuinfo.js";
import { formatCpulist } from "../knowledge/cpulist.js";
import { parseCpulist } from "./parsers/cpulist.js";
import { parseLscpuParsable } from "./parsers/lscpu.js";
import { toInt } from "./parsers/text.js";
import { toolFiles, type Cpu, type Files, type Recorder } from "./recorder.js";

/** Core groups (sorted CPU numbers per core) and the files they came from. */
interface Cores {
  groups: number[][];
  from: string[];
}

function sysfsCores(files: Files): Cores | undefined {
  const re = /^sys\/devices\/system\/cpu\/cpu(\d+)\/topology\/thread_siblings_list$/;
  const byKey = new Map<string, number[]>();
  const from: string[] = [];
  for (const [k, text] of files) {
    if (!re.test(k)) continue;
    const cpus = parseCpulist(text);
    if (!cpus || cpus.length === 0) return undefined;
    byKey.set(formatCpulist(cpus), cpus);
    from.push(k);
  }
  return byKey.size > 0 ? { groups: [...byKey.values()], from: from.sort() } : undefined;
}

function lscpuCores(files: Files): Cores | undefined {
  for (const path of toolFiles(files, "lscpu")) {
    const rows = parseLscpuParsable(files.get(path)!);
    if (!rows || rows.some((r) => r.core === undefined)) continue;
    const byCore = new Map<string, number[]>();
    for (const r of rows) byCore.set(`${r.socket ?? 0}:${r.core}`, [...(byCore.get(`${r.socket ?? 0}:${r.core}`) ?? []), r.cpu]);
    return { groups: [...byCore.values()].map((g) => g.sort((a, b) => a - b)), from: [path] };
  }
  return undefined;
}

function cpuinfoCores(ci: Cpuinfo | undefined, ciPath: string): Cores | undefined {
  if (ci?.kind !== "x86" || ci.processors.length < 2) return undefined;
  const byCore = new Map<string, number[]>();
  for (const p of ci.processors) {
    const cpu = toInt(p["processor"]);
    const pkg = toInt(p["physical id"]);
    const core = toInt(p["core id"]);
    if (cpu === undefined || pkg === undefined || core === undefined) return undefined;
    const key = `${pkg}:${core}`;
    byCore.set(key, [...(byCore.get(key) ?? []), cpu]);
  }
  return { groups: [...byCore.values()].map((g) => g.sort((a, b) => a - b)), from: [ciPath] };
}

/**
 * Add `siblings` to each NUMA node whose online CPUs are all covered by known cores. A node left
 * without it is unknown, never guessed; a core spanning two nodes (which Linux does not report)
 * leaves both nodes without it.
 */
export function detectSiblings(files: Files, rec: Recorder, cpu: Cpu, ci: Cpuinfo | undefined, ciPath: string): void {
  const nodes = cpu.numa;
  if (!nodes) return;
  const cores = sysfsCores(files) ?? lscpuCores(files) ?? cpuinfoCores(ci, ciPath);
  if (!cores) return;
  const onlineText = files.get("sys/devices/system/cpu/online");
  const online = onlineText !== undefined ? parseCpulist(onlineText) : null;
  const coreOf = new Map<number, number[]>();
  for (const g of cores.groups) for (const c of g) coreOf.set(c, g);
  nodes.forEach((node, i) => {
    if (node.cpus === undefined || node.cpus === "") return;
    const all = parseCpulist(node.cpus) ?? [];
    const mine = online ? all.filter((c) => online.includes(c)) : all;
    const inNode = new Set(all);
    if (mine.some((c) => !coreOf.has(c))) {
      rec.msg(`cpu.numa[${i}]: the capture shows the cores of only some of its CPUs; siblings left unknown`);
      return;
    }
    const groups = [...new Set(mine.map((c) => coreOf.get(c)!))];
    if (groups.some((g) => g.some((c) => !inNode.has(c)))) {
      rec.msg(`cpu.numa[${i}]: a core's threads lie in two NUMA nodes; siblings left unknown`);
      return;
    }
    node.siblings = groups.sort((a, b) => a[0]! - b[0]!).map(formatCpulist);
    rec.fact(`cpu.numa[${i}].siblings`, node.siblings, cores.from);
  });
}
