/** Hardware detection and capture: the functions the CLI wires to `hwflake detect` and `hwflake capture`. */
export { detectFromDir, detectFromFiles, detectLive } from "./detect.js";
export { captureHost, redactSerials, type CaptureOptions } from "./capture.js";
export type { CaptureFiles, CaptureReport, DetectOptions, DetectReport, DetectResult, Fact } from "./types.js";
