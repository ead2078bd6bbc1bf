/** Linux cpulists ("0-13,28-41") as numbers and back, for lists the profile schema has checked. */

/** CPU (or node) numbers of a checked cpulist, ascending and unique; [] for "". */
export function expandCpulist(list: string): number[] {
  if (list === "") return [];
  const out = new Set<number>();
  for (const part of list.split(",")) {
    const [a, b = a] = part.split("-").map(Number) as [number, number?];
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/** The canonical cpulist of some numbers ("0-3,8"); "" for none. */
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
