/** Linux cpulists ("0-13,28-41") as numbers and back, for lists the profile schema has checked. */

/** CPU (or node) numbers of a checked cpulist, ascending and unique; [] for "". */
export function expandCpulist(list: string): number[] {
  if (list === "") return [];
  const out: number[] = [];
  let ascending = true;
  for (const part of list.split(",")) {
    const dash = part.indexOf("-");
    const a = Number(dash < 0 ? part : part.slice(0, dash));
    const b = dash < 0 ? a : Number(part.slice(dash + 1));
    // Kernel cpulists are ascending; anything else is sorted and deduplicated below.
    if (out.length > 0 && a <= out[out.length - 1]!) ascending = false;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return ascending ? out : [...new Set(out)].sort((x, y) => x - y);
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
