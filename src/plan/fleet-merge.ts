/**
 * Sharing build sets across already planned hosts: one set per (system, class), used by every
 * host of that class. Pure; a single host renders as a fleet of one through this too.
 */
import { InternalError } from "../errors.js";
import { forecastOf } from "../knowledge/build-cost.js";
import type { BuildSet, Finding, FleetBuildSet, FleetPlan, ForecastItem, PackageBuild, Plan, ServicePlan } from "./types.js";

/** What spans hosts, planned from fleet.yaml: services, their findings and the sets their members need. */
export interface FleetExtras {
  readonly services: readonly ServicePlan[];
  readonly findings: readonly Finding[];
  readonly sets: readonly { readonly host: string; readonly system: Plan["system"]; readonly set: BuildSet }[];
}

const NO_EXTRAS: FleetExtras = { services: [], findings: [], sets: [] };

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The fleet made of already planned hosts: build sets merged by (system, name). */
export function fleetOfPlans(name: string, plans: readonly Plan[], extras: FleetExtras = NO_EXTRAS): FleetPlan {
  const hosts = [...plans].sort((a, b) => byString(a.host, b.host));
  const merged = new Map<string, { system: Plan["system"]; sets: { host: string; set: BuildSet }[] }>();
  const add = (host: string, system: Plan["system"], set: BuildSet) => {
    const key = `${set.name}\u0000${system}`;
    const entry = merged.get(key) ?? { system, sets: [] };
    entry.sets.push({ host, set });
    merged.set(key, entry);
  };
  for (const plan of hosts) for (const set of plan.buildSets) add(plan.host, plan.system, set);
  for (const { host, system, set } of extras.sets) add(host, system, set);
  const buildSets = [...merged.values()].map(({ system, sets }) => mergeSets(system, sets));
  buildSets.sort((a, b) => byString(a.name, b.name) || byString(a.system, b.system));
  checkOneDefinitionPerName(buildSets);
  return {
    version: 1,
    name,
    hosts,
    buildSets,
    services: extras.services,
    findings: extras.findings,
    refused: hosts.some((h) => h.refused) || extras.findings.some((f) => f.severity === "error"),
  };
}

/** What a set must agree on to be one set: everything that reaches Nix. */
function nixData(set: Pick<BuildSet, "config" | "rocmGpuTargets" | "allowUnfreeLicenses" | "python">): string {
  return JSON.stringify([set.config.value, set.rocmGpuTargets?.value ?? null, set.allowUnfreeLicenses?.value ?? null, set.python?.value ?? null]);
}

function packageData(p: PackageBuild): string {
  return JSON.stringify([p.base, p.args, p.env]);
}

function mergeSets(system: Plan["system"], sets: readonly { host: string; set: BuildSet }[]): FleetBuildSet {
  const first = sets[0]!.set;
  const packages = new Map<string, PackageBuild>();
  const packageKeys = new Map<string, string>();
  const compiles = new Map<string, ForecastItem>();
  const firstData = nixData(first);
  for (const { set } of sets) {
    if (nixData(set) !== firstData) throw new InternalError(`build set ${first.name} is planned two ways on ${system}; set names must identify a class`);
    for (const p of set.packages) {
      const key = packageData(p);
      const had = packageKeys.get(p.engine);
      if (had !== undefined && had !== key) throw new InternalError(`build set ${first.name} builds ${p.engine} two ways on ${system}`);
      packages.set(p.engine, p);
      packageKeys.set(p.engine, key);
    }
    for (const c of set.forecast.compiles) compiles.set(c.what, c);
  }
  const { instances: _instances, rayEnv: _rayEnv, ...rest } = first;
  return {
    ...rest,
    ...(sets.some(({ set }) => set.rayEnv) ? { rayEnv: true } : {}),
    system,
    packages: [...packages.values()].sort((a, b) => byString(a.engine, b.engine)),
    hosts: [...new Set(sets.map((s) => s.host))].sort(byString),
    instances: sets.flatMap(({ host, set }) => set.instances.map((i) => `${host}/${i}`)).sort(byString),
    // Ordered as the recipes list them (dependencies first), whatever host brought them.
    forecast: forecastOf(
      [...compiles.values()].sort((a, b) => order(sets, a) - order(sets, b)),
      { text: first.forecast.cache, sources: first.forecast.cacheSources },
    ),
  };
}

/** Position of a forecast item in the first set that lists it. */
function order(sets: readonly { set: BuildSet }[], item: ForecastItem): number {
  for (const { set } of sets) {
    const i = set.forecast.compiles.findIndex((c) => c.what === item.what);
    if (i >= 0) return i;
  }
  return 0;
}

/** build-sets.nix holds one definition per name, shared by every system that uses it. */
function checkOneDefinitionPerName(sets: readonly FleetBuildSet[]): void {
  const byName = new Map<string, FleetBuildSet>();
  for (const s of sets) {
    const had = byName.get(s.name);
    if (had && nixData(had) !== nixData(s)) throw new InternalError(`build set ${s.name} differs between ${had.system} and ${s.system}`);
    byName.set(s.name, s);
  }
}
