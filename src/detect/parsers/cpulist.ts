/** Linux cpulist syntax ("0-3,8-11"), as sysfs and lscpu print it. */
import { cleanText } from "./text.js";

/**
 * Most CPU numbers one list may expand to, counting overlaps ("0-65535,0-65535,…"), so a
 * hostile capture costs at most this many steps however it is written.
 */
const MAX_EXPANSION = 1 << 20;

/**
 * Parse a cpulist into sorted, unique CPU numbers. Tolerates NUL padding, trailing newlines and
 * spaces; an empty list is valid (a memory-only NUMA node). Returns null for anything else,
 * including CPU numbers above MAX_CPU_NUMBER and lists that would expand too far.
 */
/**
 * The highest CPU number a cpulist may name; the profile schema refuses the same
 * (MAX_CPU_NUMBER in profile/schema.ts, kept equal by test/detect/parsers/cpulist-meminfo.test.ts).
 * Parsers stay free of the stages above them, so the bound lives here too.
 */
export const MAX_CPU_NUMBER = 65_535;

export function parseCpulist(text: string): number[] | null {
  const t = cleanText(text).trim();
  if (t === "") return [];
  const out = new Set<number>();
  let budget = MAX_EXPANSION;
  for (const part of t.split(",")) {
    const m = /^\s*(\d+)(?:\s*-\s*(\d+))?(?::\d+\/\d+)?\s*$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    // Above 2^53 `i++` stops changing i, so an unbounded number would loop forever.
    if (b < a || b > MAX_CPU_NUMBER) return null;
    budget -= b - a + 1;
    if (budget < 0) return null;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/**
 * Parse a hexadecimal CPU mask as `lscpu --hex` prints it ("0x0000ffff", optionally with ","
 * separated 32-bit groups as in sysfs cpumap) into CPU numbers; null when it is not a mask or
 * names a CPU above MAX_CPU_NUMBER.
 */
export function parseCpuMask(text: string): number[] | null {
  const t = cleanText(text).trim().toLowerCase().replace(/^0x/, "").replace(/,/g, "").replace(/^0+(?=.)/, "");
  if (!/^[0-9a-f]+$/.test(t) || t.length * 4 > MAX_CPU_NUMBER + 1) return null;
  const out: number[] = [];
  const digits = t.split("").reverse();
  digits.forEach((d, i) => {
    const v = parseInt(d, 16);
    for (let bit = 0; bit < 4; bit++) if (v & (1 << bit)) out.push(i * 4 + bit);
  });
  return out;
}
