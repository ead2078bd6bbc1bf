/** Linux cpulist syntax ("0-3,8-11"), as sysfs and lscpu print it. */
import { cleanText } from "./text.js";

/**
 * Parse a cpulist into sorted, unique CPU numbers. Tolerates NUL padding, trailing newlines and
 * spaces; an empty list is valid (a memory-only NUMA node). Returns null for anything else.
 */
export function parseCpulist(text: string): number[] | null {
  const t = cleanText(text).trim();
  if (t === "") return [];
  const out = new Set<number>();
  for (const part of t.split(",")) {
    const m = /^\s*(\d+)(?:\s*-\s*(\d+))?(?::\d+\/\d+)?\s*$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    // A range over 1M CPUs is junk, not a machine.
    if (b < a || b - a > 1_000_000) return null;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/** Format CPU numbers as a canonical cpulist ("0-3,8-11"); "" for none. */
export function formatCpulist(cpus: Iterable<number>): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/**
 * Parse a hexadecimal CPU mask as `lscpu --hex` prints it ("0x0000ffff", optionally with ","
 * separated 32-bit groups as in sysfs cpumap) into CPU numbers; null when it is not a mask.
 */
export function parseCpuMask(text: string): number[] | null {
  const t = cleanText(text).trim().toLowerCase().replace(/^0x/, "").replace(/,/g, "");
  if (!/^[0-9a-f]+$/.test(t)) return null;
  const out: number[] = [];
  const digits = t.split("").reverse();
  digits.forEach((d, i) => {
    const v = parseInt(d, 16);
    for (let bit = 0; bit < 4; bit++) if (v & (1 << bit)) out.push(i * 4 + bit);
  });
  return out;
}
