/** hwflake as a library: each stage's entry points, named exports only. */
export * from "./errors.js";
export * from "./profile/index.js";
export * from "./plan/index.js";
export { renderFiles } from "./render/render.js";
export { writeFiles } from "./write/write.js";
export * from "./detect/index.js";
export * from "./doctor/index.js";
export { runCli } from "./cli/main.js";
