/**
 * Detection: capture files in, profile and report out. `detectFromFiles` is pure; the disk and
 * processes are reached only through io.ts. Each part of the profile has its own detector:
 * host.ts (host, OS, memory), cpu.ts (CPU identity), cpu-topology.ts, numa.ts, and one file per
 * accelerator family under accelerators/, beside its knowledge file.
 */
import type { ProfileInput } from "../profile/schema.js";
import { detectAccelerators } from "./accelerators/index.js";
import { detectCpu } from "./cpu.js";
import { detectHost, detectMemory, detectOs } from "./host.js";
import { readCaptureDir, readLiveHost } from "./io.js";
import { Recorder, usable } from "./recorder.js";
import type { CaptureFiles, DetectOptions, DetectResult } from "./types.js";

/**
 * Detect a profile from capture files (capture-relative path → text). Pure and total: garbage
 * input yields a profile with unknowns and messages, never an exception (except for an invalid
 * `opts.host`, which is a user error).
 */
export function detectFromFiles(files: CaptureFiles, opts: DetectOptions = {}): DetectResult {
  const rec = new Recorder();
  const usableFiles = usable(files, rec);
  const unknown: string[] = [];
  const host = detectHost(usableFiles, rec, opts);
  const profile: ProfileInput = { version: 1, host };
  detectOs(usableFiles, rec, profile);
  detectCpu(usableFiles, rec, profile);
  detectMemory(usableFiles, rec, profile);
  detectAccelerators(usableFiles, rec, profile, unknown);

  const cpu = (profile.cpu ?? {}) as Record<string, unknown>;
  const cpuUnknown = ["vendor", "model", "arch", "flags", "sockets", "coresPerSocket", "threadsPerCore", "numa"]
    .filter((k) => !(k in cpu))
    .map((k) => `cpu.${k}`);
  (profile.cpu?.numa ?? []).forEach((n, i) => {
    if (n.cpus === undefined) cpuUnknown.push(`cpu.numa[${i}].cpus`);
    if (n.memoryMiB === undefined) cpuUnknown.push(`cpu.numa[${i}].memoryMiB`);
  });
  const top = [...(profile.system ? [] : ["system"]), ...cpuUnknown, ...(profile.memory ? [] : ["memory.totalMiB"])];
  if (usableFiles.size === 0 || (rec.facts.filter((f) => f.path !== "host").length === 0 && (profile.accelerators ?? []).length === 0)) {
    rec.msg("capture: no recognised hardware files (proc/cpuinfo, lscpu, meminfo, GPU tools); everything is unknown");
  }
  return { profile, report: { facts: rec.facts, unknown: [...top, ...unknown], messages: rec.messages } };
}

/** Detect from a capture folder (see the capture layout). Throws DetectError if it cannot be read. */
export async function detectFromDir(dir: string, opts: DetectOptions = {}): Promise<DetectResult> {
  const files = await readCaptureDir(dir);
  return detectFromFiles(files, opts);
}

/** Detect this host: read procfs/sysfs and run the installed tools (nothing is written). */
export async function detectLive(opts: DetectOptions = {}): Promise<DetectResult> {
  const { files } = await readLiveHost();
  return detectFromFiles(files, opts);
}
