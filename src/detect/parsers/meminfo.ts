/** /proc/meminfo and sysfs node<N>/meminfo. */
import { cleanText } from "./text.js";

/** What a meminfo file says about total memory. */
export interface Meminfo {
  /** MemTotal in KiB (the kernel's "kB" means KiB). */
  totalKiB?: number;
}

/**
 * Parse /proc/meminfo ("MemTotal:  65861656 kB") or a NUMA node's meminfo
 * ("Node 0 MemTotal:  65861656 kB"). Unknown lines are ignored.
 */
export function parseMeminfo(text: string): Meminfo {
  for (const line of cleanText(text).split("\n")) {
    const m = /^(?:Node\s+\d+\s+)?MemTotal:\s+(\d+)\s*kB\s*$/.exec(line.trim());
    if (m) return { totalKiB: Number(m[1]) };
  }
  return {};
}

/** KiB to whole MiB (rounded down: never claim memory that is not there). */
export function kibToMiB(kib: number): number {
  return Math.floor(kib / 1024);
}
