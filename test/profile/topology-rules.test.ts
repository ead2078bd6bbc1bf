/** The NUMA topology fields agree with each other (cpus, cpuCount, siblings). */
import { describe, expect, it } from "vitest";
import { validateProfile } from "../../src/profile/parse.js";

const profile = (numa: unknown[]) => ({ version: 1, host: "h", cpu: { numa } });
const issues = (numa: unknown[]): string[] => {
  try {
    validateProfile(profile(numa));
    return [];
  } catch (e) {
    return (e as { issues: Array<{ path: string; message: string }> }).issues.map((i) => `${i.path}: ${i.message}`);
  }
};

describe("NUMA topology rules", () => {
  it("consistent nodes pass, including count-only nodes (KFD) and memory-only nodes", () => {
    expect(issues([{ id: 0, cpus: "0-3", cpuCount: 4, siblings: ["0,2", "1,3"] }, { id: 1, cpuCount: 96 }, { id: 2, cpus: "" }])).toEqual([]);
  });

  it("cpuCount must match cpus", () => {
    expect(issues([{ id: 0, cpus: "0-3", cpuCount: 8 }])).toEqual([expect.stringMatching(/^cpu.numa\[0\].cpuCount: cpuCount is 8 but cpus "0-3" lists 4/)]);
  });

  it("a core's threads lie in its node, and a CPU is in one core only", () => {
    expect(issues([{ id: 0, cpus: "0-1", siblings: ["0,2"] }])).toEqual([expect.stringMatching(/^cpu.numa\[0\].siblings\[0\]: CPU 2 is not in this node/)]);
    expect(issues([{ id: 0, siblings: ["0,1"] }, { id: 1, siblings: ["1,2"] }])).toEqual([expect.stringMatching(/^cpu.numa\[1\].siblings\[0\]: CPU 1 is also in cpu.numa\[0\].siblings\[0\]/)]);
  });

  it("siblings entries are cpulists", () => {
    expect(issues([{ id: 0, siblings: ["0 2"] }]).join()).toMatch(/siblings entries are cpulists/);
  });
});
