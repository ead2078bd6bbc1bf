/** Hardware and engine knowledge: typed data with sources, in one place. */
export * from "./accelerators/index.js";
export * from "./cpu.js";
export * from "./identify.js";
export * from "./sources.js";
export type * from "./types.js";
export * from "./build-cost.js";
export * from "./cpu-build-set.js";
export * from "./cpu-tuning.js";
export * from "./cpulist.js";
export * from "./distros.js";
