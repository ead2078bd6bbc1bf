/** Linux cpulists ("0-13,28-41") as numbers and back, for lists the profile schema has checked. */

/**
 * The ranges of a cpulist as written, [first, last] each ("0-3,8" → [0, 3], [8, 8]); [] for "".
 * A part is read like `part.split("-").map(Number)`: its first two numbers, NaN for text.
 */
export function cpulistRanges(list: string): [number, number][] {
  if (list === "") return [];
  return list.split(",").map((part): [number, number] => {
    const dash = part.indexOf("-");
    if (dash < 0) {
      const a = Number(part);
      return [a, a];
    }
    const end = part.indexOf("-", dash + 1);
    return [Number(part.slice(0, dash)), Number(end < 0 ? part.slice(dash + 1) : part.slice(dash + 1, end))];
  });
}

/** Every number a checked cpulist names, in the order written, repeats kept. */
export function cpulistNumbers(list: string): number[] {
  const out: number[] = [];
  for (const [a, b] of cpulistRanges(list)) for (let i = a; i <= b; i++) out.push(i);
  return out;
}

/** CPU (or node) numbers of a checked cpulist, ascending and unique; [] for "". */
export function expandCpulist(list: string): number[] {
  const out = cpulistNumbers(list);
  // Kernel cpulists are ascending; anything else is sorted and deduplicated.
  for (let i = 1; i < out.length; i++) if (out[i]! <= out[i - 1]!) return [...new Set(out)].sort((x, y) => x - y);
  return out;
}

/** The canonical cpulist of some numbers ("0-3,8"); "" for none. */
export function formatCpulist(cpus: Iterable<number>): string {
  const list = Array.isArray(cpus) ? (cpus as readonly number[]) : [...cpus];
  let ascending = true;
  for (let i = 1; i < list.length && ascending; i++) ascending = list[i]! > list[i - 1]!;
  const s = ascending ? list : [...new Set(list)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}
