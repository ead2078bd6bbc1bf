/** Plan stage: profile in, decisions with reasons and sources out. */
export { ENGINE_LABEL, planHost } from "./plan.js";
export type * from "./types.js";
