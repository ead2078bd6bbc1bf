/**
 * Cross-field rules zod cannot express: references between entries and uniqueness. Each rule
 * returns issues that name the path and the fix.
 */
import type { Issue } from "../errors.js";
import { closest } from "./suggest.js";
import type { Profile } from "./schema.js";

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
  uniqueAcceleratorIds, uniqueUuids, uniqueServeNames, uniqueNumaIds, onReferencesExist, onSingleVendor, portsDistinct,
];

/** Run every rule. */
export function profileRules(p: Profile): Issue[] {
  return RULES.flatMap((r) => r(p));
}
