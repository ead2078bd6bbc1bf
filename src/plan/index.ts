/** Plan stage: profile in, decisions with reasons and sources out. */
export { ENGINE_LABEL, planHost } from "./plan.js";
export { planFleet, type FleetHost } from "./fleet.js";
export { fleetOfPlans } from "./fleet-merge.js";
export type * from "./types.js";
