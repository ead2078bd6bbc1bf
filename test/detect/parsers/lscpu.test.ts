import { describe, expect, it } from "vitest";
import { lscpuCount, lscpuCpus, lscpuNuma, parseLscpu, parseLscpuJson, parseLscpuParsable } from "../../../src/detect/parsers/lscpu.js";

const plain = `Architecture:                    aarch64
CPU op-mode(s):                  32-bit, 64-bit
CPU(s):                          8
On-line CPU(s) list:             0-5
Off-line CPU(s) list:            6,7
Vendor ID:                       ARM
Model name:                      Neoverse-N1
Model:                           1
Thread(s) per core:              1
Core(s) per cluster:             8
Socket(s):                       -
Cluster(s):                      1
Caches (sum of all):
  L1d:                           512 KiB (8 instances)
NUMA:
  NUMA node(s):                  2
  NUMA node0 CPU(s):             0-5
  NUMA node1 CPU(s):
Flags:                           fp asimd evtstrm
`;

describe("parseLscpu", () => {
  it("plain: counts, '-' sockets, offline CPUs, memory-only NUMA node", () => {
    const l = parseLscpu(plain);
    expect(l.fields["Architecture"]).toBe("aarch64");
    expect(lscpuCount(l, "Socket(s)")).toBeUndefined();
    expect(lscpuCount(l, "Thread(s) per core")).toBe(1);
    expect(lscpuCpus(l, "Off-line CPU(s) list")).toEqual([6, 7]);
    expect(lscpuNuma(l)).toEqual([
      { id: 0, cpus: [0, 1, 2, 3, 4, 5] },
      { id: 1, cpus: [] },
    ]);
    expect(l.modelNames).toEqual(["Neoverse-N1"]);
    expect(l.fields["Caches (sum of all)"]).toBeUndefined();
  });

  it("--hex: CPU masks", () => {
    const l = parseLscpu("On-line CPU(s) mask:   0x000000ff\nNUMA node0 CPU(s):     0x0000000f\n");
    expect(lscpuCpus(l, "On-line CPU(s) mask")).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(lscpuNuma(l)).toEqual([{ id: 0, cpus: [0, 1, 2, 3] }]);
  });

  it("-J: nested children flattened like plain output", () => {
    const json = JSON.stringify({
      lscpu: [
        { field: "Architecture:", data: "x86_64" },
        { field: "Vendor ID:", data: "AuthenticAMD", children: [{ field: "Model name:", data: "AMD EPYC 7742 64-Core Processor", children: [{ field: "Socket(s):", data: "2" }] }] },
      ],
    });
    const l = parseLscpuJson(json);
    expect(l.fields["Architecture"]).toBe("x86_64");
    expect(lscpuCount(l, "Socket(s)")).toBe(2);
    expect(l.modelNames).toEqual(["AMD EPYC 7742 64-Core Processor"]);
  });

  it.each(["{not json", "[]", ""])("-J junk %j gives no fields and a problem", (text) => {
    const l = parseLscpuJson(text);
    expect(l.fields).toEqual({});
    expect(l.problems.length).toBeGreaterThan(0);
  });
});

describe("parseLscpuParsable", () => {
  it("rows by the header's columns; not-parsable text is null", () => {
    expect(parseLscpuParsable("# CPU,Core,Socket,Node,,L1d,L1i,L2,L3\n0,0,0,0,,0,0,0,0\n1,0,0,0,,0,0,0,0\n")).toEqual([
      { cpu: 0, core: 0, socket: 0, node: 0 },
      { cpu: 1, core: 0, socket: 0, node: 0 },
    ]);
    expect(parseLscpuParsable("# CPU,Node\n5,1\n")).toEqual([{ cpu: 5, node: 1 }]);
    expect(parseLscpuParsable("Architecture: x86_64\n")).toBeNull();
    expect(parseLscpuParsable("# CPU,Core\nx,1\n")).toBeNull();
  });
});
