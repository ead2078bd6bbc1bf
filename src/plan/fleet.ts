/**
 * Fleets: plan every host of a folder, then share build sets across hosts by class. Pure: the
 * profiles come in parsed, with the file each came from for messages.
 */
import { FleetError } from "../errors.js";
import type { Profile } from "../profile/schema.js";
import { fleetOfPlans } from "./fleet-merge.js";
import { planHost } from "./plan.js";
import type { FleetPlan } from "./types.js";

/** A parsed profile and the file it came from. */
export interface FleetHost {
  readonly file: string;
  readonly profile: Profile;
}

/** Plan a fleet: refuses two profiles with one host name, naming both files. */
export function planFleet(name: string, hosts: readonly FleetHost[]): FleetPlan {
  const seen = new Map<string, string>();
  const issues: { file: string; path: string; message: string }[] = [];
  for (const h of hosts) {
    const other = seen.get(h.profile.host);
    if (other !== undefined)
      issues.push({ file: h.file, path: "host", message: `"${h.profile.host}" is also the host of ${other}; give each profile its own host name` });
    else seen.set(h.profile.host, h.file);
  }
  if (issues.length) throw new FleetError(issues);
  return fleetOfPlans(name, hosts.map((h) => planHost(h.profile)));
}
