/**
 * Drift between a profile and what detection sees on the host, fact by fact. Pure: both sides
 * come in as profiles; a fact either side does not know (absent, or listed as unknown by
 * detection) is never drift, only "unchecked".
 */
import { CHECKED_FLAG_RE } from "../knowledge/cpu.js";
import type { Accelerator, Profile } from "../profile/schema.js";

/** Stable drift codes (documented in the README). */
export const DRIFT_CODES = [
  "SYSTEM_CHANGED",
  "OS_CHANGED",
  "CPU_CHANGED",
  "CPU_FLAGS_CHANGED",
  "CPU_TOPOLOGY_CHANGED",
  "NUMA_CHANGED",
  "MEMORY_CHANGED",
  "ACCELERATOR_MISSING",
  "ACCELERATOR_NEW",
  "ACCELERATOR_CHANGED",
] as const;

/** One drift code. */
export type DriftCode = (typeof DRIFT_CODES)[number];

/** One fact where the host no longer matches the profile. */
export interface Drift {
  code: DriftCode;
  /** Profile path of the fact ("cpu.flags", "accelerators[1].arch"). */
  path: string;
  /** The profile's value (absent for ACCELERATOR_NEW). */
  expected?: unknown;
  /** The host's value (absent for ACCELERATOR_MISSING). */
  actual?: unknown;
  message: string;
}

/** The outcome of a comparison. */
export interface DoctorReport {
  host: string;
  /** True when nothing drifted. */
  ok: boolean;
  drift: Drift[];
  /** How many facts were compared. */
  compared: number;
  /** Profile facts that could not be checked because the host's side is unknown. */
  unchecked: string[];
}

/** Memory drifts only beyond this share: the kernel's reservations move MemTotal a little. */
const MEMORY_TOLERANCE = 0.02;

/** ISA flags that count for drift: the families builds depend on (a kernel update adds others). */
const relevantFlag = (f: string) => CHECKED_FLAG_RE.test(f) || f === "altivec";

/** Compare `expected` (the profile) with `actual` (detected); `unknown` is detection's list. */
export function compareProfiles(expected: Profile, actual: Profile, unknown: readonly string[] = []): DoctorReport {
  const drift: Drift[] = [];
  const unchecked: string[] = [];
  let compared = 0;
  const unknownSet = new Set(unknown);
  /** Compare one scalar fact known on both sides. */
  const same = (code: DriftCode, path: string, e: unknown, a: unknown, what: string) => {
    if (e === undefined) return;
    if (a === undefined || unknownSet.has(path)) return void unchecked.push(path);
    compared++;
    if (JSON.stringify(e) !== JSON.stringify(a)) drift.push({ code, path, expected: e, actual: a, message: `${what}: profile says ${fmt(e)}, host has ${fmt(a)}` });
  };

  same("SYSTEM_CHANGED", "system", expected.system, actual.system, "Nix system");
  // Another distribution or release changes what runs the units (NixOS or system-manager) and
  // which systemd they get.
  same("OS_CHANGED", "os.id", expected.os?.id, actual.os?.id, "operating system");
  same("OS_CHANGED", "os.versionId", expected.os?.versionId, actual.os?.versionId, "OS release");
  const ec = expected.cpu;
  const ac = actual.cpu;
  same("CPU_CHANGED", "cpu.vendor", ec.vendor, ac.vendor, "CPU vendor");
  same("CPU_CHANGED", "cpu.model", ec.model?.replace(/\s+/g, " ").trim(), ac.model?.replace(/\s+/g, " ").trim(), "CPU model");
  same("CPU_CHANGED", "cpu.arch", ec.arch, ac.arch, "CPU arch");
  if (ec.flags !== undefined) {
    if (ac.flags === undefined) unchecked.push("cpu.flags");
    else {
      compared++;
      const e = new Set(ec.flags.filter(relevantFlag));
      const a = new Set(ac.flags.filter(relevantFlag));
      const gone = [...e].filter((f) => !a.has(f)).sort();
      const added = [...a].filter((f) => !e.has(f)).sort();
      if (gone.length || added.length) {
        const parts = [gone.length ? `missing on the host: ${gone.join(" ")}` : "", added.length ? `new on the host: ${added.join(" ")}` : ""].filter(Boolean);
        drift.push({ code: "CPU_FLAGS_CHANGED", path: "cpu.flags", expected: gone, actual: added, message: `CPU flags changed (${parts.join("; ")})` });
      }
    }
  }
  for (const k of ["sockets", "coresPerSocket", "threadsPerCore"] as const) same("CPU_TOPOLOGY_CHANGED", `cpu.${k}`, ec[k], ac[k], `cpu.${k}`);
  compareNuma(expected, actual, unknownSet, { drift, unchecked, count: () => compared++ });

  const em = expected.memory?.totalMiB;
  const am = actual.memory?.totalMiB;
  if (em !== undefined) {
    if (am === undefined) unchecked.push("memory.totalMiB");
    else {
      compared++;
      if (Math.abs(em - am) > em * MEMORY_TOLERANCE)
        drift.push({ code: "MEMORY_CHANGED", path: "memory.totalMiB", expected: em, actual: am, message: `memory: profile says ${em} MiB, host has ${am} MiB` });
    }
  }

  compared += compareAccelerators(expected.accelerators, actual.accelerators, unknownSet, drift, unchecked);
  return { host: expected.host, ok: drift.length === 0, drift, compared, unchecked };
}

function fmt(v: unknown): string {
  return typeof v === "string" ? `"${v}"` : JSON.stringify(v);
}

interface Sink {
  drift: Drift[];
  unchecked: string[];
  count: () => void;
}

/** NUMA: the set of node ids, then per node its CPUs, CPU count and cores. */
function compareNuma(expected: Profile, actual: Profile, unknown: Set<string>, out: Sink): void {
  const en = expected.cpu.numa;
  const an = actual.cpu.numa;
  if (en === undefined) return;
  if (an === undefined || unknown.has("cpu.numa")) return void out.unchecked.push("cpu.numa");
  out.count();
  const ids = (ns: typeof en) => ns.map((n) => n.id).sort((a, b) => a - b);
  if (JSON.stringify(ids(en)) !== JSON.stringify(ids(an))) {
    out.drift.push({ code: "NUMA_CHANGED", path: "cpu.numa", expected: ids(en), actual: ids(an), message: `NUMA nodes: profile has ${fmt(ids(en))}, host has ${fmt(ids(an))}` });
    return;
  }
  en.forEach((e, i) => {
    const a = an.find((n) => n.id === e.id)!;
    for (const k of ["cpus", "cpuCount", "siblings"] as const) {
      if (e[k] === undefined || a[k] === undefined) continue;
      out.count();
      if (JSON.stringify(e[k]) !== JSON.stringify(a[k]))
        out.drift.push({ code: "NUMA_CHANGED", path: `cpu.numa[${i}].${k}`, expected: e[k], actual: a[k], message: `NUMA node ${e.id} ${k}: profile says ${fmt(e[k])}, host has ${fmt(a[k])}` });
    }
  });
}

/** The host's accelerator that is the profile's `e`: same uuid, else same PCI address, else same kind/vendor/arch. */
function match(e: Accelerator, pool: Accelerator[]): Accelerator | undefined {
  const kin = pool.filter((a) => a.kind === e.kind && a.vendor === e.vendor);
  const uuid = (x: Accelerator) => ("uuid" in x ? x.uuid : undefined);
  if (uuid(e)) return kin.find((a) => uuid(a) === uuid(e));
  if (e.pciAddress) return kin.find((a) => a.pciAddress === e.pciAddress);
  return kin.find((a) => a.arch === e.arch);
}

function describe(a: Accelerator): string {
  return `${a.vendor} ${a.kind} ${a.arch ?? ""}${a.model ? ` (${a.model})` : ""}${a.pciAddress ? ` at ${a.pciAddress}` : ""}`.replace(/\s+/g, " ");
}

function compareAccelerators(expected: Accelerator[], actual: Accelerator[], unknown: Set<string>, drift: Drift[], unchecked: string[]): number {
  let compared = 0;
  const pool = [...actual];
  // Without lspci ids detection cannot see TPUs and Spyre cards; their absence proves nothing.
  const blind = unknown.has("accelerators");
  expected.forEach((e, i) => {
    const path = `accelerators[${i}]`;
    const a = match(e, pool);
    if (!a) {
      if (blind && e.kind !== "gpu") return void unchecked.push(path);
      compared++;
      drift.push({ code: "ACCELERATOR_MISSING", path, expected: e, message: `${e.id}: ${describe(e)} is in the profile but not on the host (removed, failed, or its driver is not loaded)` });
      return;
    }
    pool.splice(pool.indexOf(a), 1);
    compared++;
    for (const k of ["arch", "model", "memoryMiB", "pciAddress", "uuid", "partitions", "chips"] as const) {
      const ev = (e as Record<string, unknown>)[k];
      const av = (a as Record<string, unknown>)[k];
      if (ev === undefined) continue;
      if (av === undefined) {
        unchecked.push(`${path}.${k}`);
        continue;
      }
      compared++;
      if (JSON.stringify(ev) !== JSON.stringify(av))
        drift.push({ code: "ACCELERATOR_CHANGED", path: `${path}.${k}`, expected: ev, actual: av, message: `${e.id} ${k}: profile says ${fmt(ev)}, host has ${fmt(av)}` });
    }
  });
  for (const a of pool) drift.push({ code: "ACCELERATOR_NEW", path: "accelerators", actual: a, message: `${describe(a)} is on the host but not in the profile` });
  return compared;
}
