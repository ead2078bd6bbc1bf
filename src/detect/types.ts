/** Types shared by detection and capture. */
import type { ProfileInput } from "../profile/schema.js";

/** A capture in memory: capture-relative path ("proc/cpuinfo", "commands/lscpu.txt") → file text. */
export type CaptureFiles = ReadonlyMap<string, string>;

/** One derived profile value and the capture files it came from. */
export interface Fact {
  /** Profile path, e.g. "cpu.sockets" or "accelerators[0].arch". */
  path: string;
  value: unknown;
  /** Capture-relative files the value was read from. */
  from: string[];
  /** Set when the value (or part of it) is inferred from a rule rather than read: which rule. */
  derived?: string;
}

/** How detection arrived at the profile. */
export interface DetectReport {
  facts: Fact[];
  /** Profile paths the input does not show (left out of the profile, never guessed). */
  unknown: string[];
  /** Warnings: unreadable or truncated files, partitioned GPUs, defaults taken. */
  messages: string[];
}

/** A detected profile (accepted by ProfileSchema.parse) and its report. */
export interface DetectResult {
  profile: ProfileInput;
  report: DetectReport;
}

/** Options for detection. */
export interface DetectOptions {
  /** Host name to put in the profile; default: the captured hostname, else "localhost". */
  host?: string;
}

/** What `captureHost` did. */
export interface CaptureReport {
  /** The capture folder. */
  dir: string;
  /** Files written, capture-relative, sorted (capture.json not included). */
  files: string[];
  /** Tools that ran successfully, as "tool args" strings. */
  toolsRan: string[];
  /** Tools not installed on this host. */
  toolsMissing: string[];
  /** Tools that ran but failed (non-zero exit, timeout), with the reason. */
  toolsFailed: Array<{ tool: string; reason: string }>;
  /** Files that exist but could not be read (permissions), with the reason. */
  skipped: Array<{ path: string; reason: string }>;
}
