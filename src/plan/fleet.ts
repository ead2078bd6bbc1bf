/**
 * Fleets: plan every host of a folder, then share build sets across hosts by class. Pure: the
 * profiles come in parsed, with the file each came from for messages.
 */
import { FleetError } from "../errors.js";
import type { FleetSpec } from "../profile/fleet.js";
import type { Profile } from "../profile/schema.js";
import { fleetOfPlans } from "./fleet-merge.js";
import { planServices } from "./fleet-services.js";
import { planHost } from "./plan.js";
import type { FleetPlan } from "./types.js";

/** A parsed profile and the file it came from. */
export interface FleetHost {
  readonly file: string;
  readonly profile: Profile;
}

/**
 * Plan a fleet: every host, then the services of fleet.yaml across them. Refuses two profiles
 * with one host name (naming both files) and fleet.yaml entries that cannot fit.
 */
export function planFleet(name: string, hosts: readonly FleetHost[], spec: { readonly file: string; readonly spec: FleetSpec } | null = null): FleetPlan {
  const seen = new Map<string, string>();
  const issues: { file: string; path: string; message: string }[] = [];
  for (const h of hosts) {
    const other = seen.get(h.profile.host);
    if (other !== undefined)
      issues.push({ file: h.file, path: "host", message: `"${h.profile.host}" is also the host of ${other}; give each profile its own host name` });
    else seen.set(h.profile.host, h.file);
  }
  if (issues.length) throw new FleetError(issues);
  const planned = hosts.map((h) => ({ ...h, plan: planHost(h.profile) }));
  const extras = spec ? planServices(spec.file, spec.spec, planned) : undefined;
  return fleetOfPlans(name, planned.map((h) => h.plan), extras);
}
