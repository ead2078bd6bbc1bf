/**
 * What every family detector shares: the recorder that collects facts and messages, the filter
 * that drops binary junk, and the lookup of tool output files in a capture.
 */
import type { ProfileInput } from "../profile/schema.js";
import { looksBinary } from "./parsers/text.js";
import type { CaptureFiles, Fact } from "./types.js";

/** The profile's CPU object while it is being built. */
export type Cpu = NonNullable<ProfileInput["cpu"]>;
/** One accelerator entry while it is being built. */
export type Accel = NonNullable<ProfileInput["accelerators"]>[number];
/** Capture files that passed {@link usable}: capture-relative path → text. */
export type Files = Map<string, string>;

/** Collects facts and messages while the profile is built. */
export class Recorder {
  readonly facts: Fact[] = [];
  readonly messages: string[] = [];
  /** Record that `path` got `value` from the capture files `from` (and how, when derived). */
  fact(path: string, value: unknown, from: readonly string[], derived?: string): void {
    this.facts.push({ path, value, from: [...new Set(from)].sort(), ...(derived ? { derived } : {}) });
  }
  /** Record a message once (repeats are dropped). */
  msg(m: string): void {
    if (!this.messages.includes(m)) this.messages.push(m);
  }
}

/** Files of the capture that are readable text; binary junk is reported and dropped. */
export function usable(files: CaptureFiles, rec: Recorder): Files {
  const out = new Map<string, string>();
  for (const [path, text] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (looksBinary(text)) {
      rec.msg(`${path}: not text (binary junk?); ignored`);
      continue;
    }
    out.set(path, text);
  }
  return out;
}

/** Tool output files for one tool: commands/<tool>.txt and commands/<tool>-<variant>.txt. */
export function toolFiles(files: Files, tool: string): string[] {
  const re = new RegExp(`^commands/${tool.replace(/[-.]/g, "\\$&")}(-[A-Za-z0-9_.-]+)?\\.txt$`);
  return [...files.keys()].filter((k) => re.test(k)).sort();
}
