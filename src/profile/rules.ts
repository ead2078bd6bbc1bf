/**
 * Cross-field rules zod cannot express: references between entries and uniqueness. Each rule
 * returns issues that name the path and the fix.
 */
import type { Issue } from "../errors.js";
import { closest } from "./suggest.js";
import type { Profile } from "./schema.js";
import { cpulistNumbers } from "../knowledge/cpulist.js";

type Rule = (p: Profile) => Issue[];

function duplicates<T>(items: readonly T[], key: (t: T) => string | undefined): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  items.forEach((t, i) => {
    const k = key(t);
    if (k === undefined) return;
    seen.set(k, [...(seen.get(k) ?? []), i]);
  });
  return new Map([...seen].filter(([, v]) => v.length > 1));
}

const uniqueAcceleratorIds: Rule = (p) =>
  [...duplicates(p.accelerators, (a) => a.id)].map(([id, idx]) => ({
    path: `accelerators[${idx[1]}].id`,
    message: `accelerator id "${id}" is used by accelerators ${idx.map((i) => `[${i}]`).join(" and ")}; give each a distinct id`,
  }));

const uniqueUuids: Rule = (p) =>
  [...duplicates(p.accelerators, (a) => ("uuid" in a ? a.uuid : undefined))].map(([uuid, idx]) => ({
    path: `accelerators[${idx[1]}].uuid`,
    message: `uuid ${uuid} appears twice (accelerators ${idx.map((i) => `[${i}]`).join(" and ")}); each device has its own`,
  }));

const uniqueServeNames: Rule = (p) =>
  [...duplicates(p.serve, (s) => s.name)].map(([name, idx]) => ({
    path: `serve[${idx[1]}].name`,
    message: `serve name "${name}" is used twice; names become systemd units and must be distinct`,
  }));

const uniqueNumaIds: Rule = (p) =>
  [...duplicates(p.cpu.numa ?? [], (n) => String(n.id))].map(([id, idx]) => ({
    path: `cpu.numa[${idx[1]}].id`,
    message: `NUMA node ${id} is listed twice`,
  }));

/**
 * A node's topology agrees with itself: cpuCount matches cpus, every core's threads belong to
 * the node, and no CPU is in two cores (a planner binding one thread per core relies on it).
 */
const numaTopologyConsistent: Rule = (p) => {
  const out: Issue[] = [];
  const owner = new Map<number, string>();
  (p.cpu.numa ?? []).forEach((n, i) => {
    const cpus = n.cpus !== undefined ? new Set(cpulistNumbers(n.cpus)) : undefined;
    if (cpus && n.cpuCount !== undefined && n.cpuCount !== cpus.size)
      out.push({ path: `cpu.numa[${i}].cpuCount`, message: `cpuCount is ${n.cpuCount} but cpus "${n.cpus}" lists ${cpus.size}; fix one or drop cpuCount` });
    (n.siblings ?? []).forEach((core, j) => {
      const path = `cpu.numa[${i}].siblings[${j}]`;
      for (const c of cpulistNumbers(core)) {
        if (cpus && !cpus.has(c)) out.push({ path, message: `CPU ${c} is not in this node's cpus "${n.cpus}"; a core's threads belong to one node` });
        const seen = owner.get(c);
        if (seen) out.push({ path, message: `CPU ${c} is also in ${seen}; each CPU belongs to one core` });
        else owner.set(c, path);
      }
    });
  });
  return out;
};

/** Two instances may not listen on the same port when their addresses overlap. */
const portsDistinct: Rule = (p) => {
  const out: Issue[] = [];
  p.serve.forEach((s, i) => {
    // Name only the first earlier user: one issue per entry, not one per pair.
    const j = p.serve.slice(0, i).findIndex((t) => {
      const overlap = s.listen === t.listen || s.listen === "0.0.0.0" || t.listen === "0.0.0.0" || s.listen === "::" || t.listen === "::";
      return s.port === t.port && overlap;
    });
    if (j >= 0)
      out.push({ path: `serve[${i}].port`, message: `port ${s.port} is already used by serve[${j}] ("${p.serve[j]!.name}"); pick another port` });
  });
  return out;
};

const onReferencesExist: Rule = (p) => {
  const ids = p.accelerators.map((a) => a.id);
  const out: Issue[] = [];
  p.serve.forEach((s, i) =>
    s.on.forEach((ref, k) => {
      if (ids.includes(ref)) return;
      const guess = closest(ref, ids);
      out.push({
        path: `serve[${i}].on[${k}]`,
        message:
          `no accelerator with id "${ref}"` +
          (guess ? `; did you mean "${guess}"?` : ids.length ? `; known ids: ${ids.join(", ")}` : "; the profile lists no accelerators (use on: [] for the CPU)"),
      });
    }),
  );
  p.serve.forEach((s, i) => {
    const [dup] = duplicates(s.on, (x) => x);
    if (dup) out.push({ path: `serve[${i}].on`, message: `"${dup[0]}" is listed twice` });
  });
  return out;
};

/** One instance runs on one kind of device: a single process cannot mix ROCm and CUDA. */
const onSingleVendor: Rule = (p) => {
  const out: Issue[] = [];
  p.serve.forEach((s, i) => {
    const vendors = new Set(s.on.map((id) => p.accelerators.find((a) => a.id === id)).filter((a) => a).map((a) => `${a!.kind}/${a!.vendor}`));
    if (vendors.size > 1)
      out.push({
        path: `serve[${i}].on`,
        message: `mixes ${[...vendors].join(" and ")}; one server process runs on one kind of device: split it into two serve entries`,
      });
  });
  return out;
};

/** Every cross-field rule, in the order their issues are reported. */
export const RULES: readonly Rule[] = [
  uniqueAcceleratorIds, uniqueUuids, uniqueServeNames, uniqueNumaIds, numaTopologyConsistent, onReferencesExist, onSingleVendor, portsDistinct,
];

/** Run every rule. */
export function profileRules(p: Profile): Issue[] {
  return RULES.flatMap((r) => r(p));
}
