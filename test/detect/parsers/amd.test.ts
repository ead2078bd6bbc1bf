import { describe, expect, it } from "vitest";
import { gfxFromTargetVersion, parseKfdMemBank, parseKfdProperties, parseRocminfo, parseRocmSmi } from "../../../src/detect/parsers/amd.js";

describe("gfxFromTargetVersion", () => {
  it.each([
    [90006, "gfx906"],
    [90008, "gfx908"],
    [90010, "gfx90a"],
    [90012, "gfx90c"],
    [90402, "gfx942"],
    [100300, "gfx1030"],
    [110000, "gfx1100"],
    [110001, "gfx1101"],
    [120001, "gfx1201"],
  ])("%d → %s", (v, gfx) => expect(gfxFromTargetVersion(v)).toBe(gfx));
  it.each([0, -1, 91600, 90016])("%d → undefined", (v) => expect(gfxFromTargetVersion(v)).toBeUndefined());
});

describe("parseKfdProperties", () => {
  it("GPU node: gfx target, PCI address from domain + location_id; NUL padding tolerated", () => {
    const n = parseKfdProperties("cpu_cores_count 0\nsimd_count 240\ngfx_target_version 90006\nlocation_id 1792\ndomain 0\nunique_id 18446744073709551615\n\0\0");
    expect(n.isGpu).toBe(true);
    expect(n.gfx).toBe("gfx906");
    expect(n.pciAddress).toBe("0000:07:00.0");
    expect(n.props["unique_id"]).toBe("18446744073709551615");
  });
  it("CPU node", () => {
    const n = parseKfdProperties("cpu_cores_count 64\nsimd_count 0\ngfx_target_version 0\nlocation_id 0\n");
    expect(n.isGpu).toBe(false);
  });
  it("memory bank: only device-memory heaps count", () => {
    expect(parseKfdMemBank("heap_type 1\nsize_in_bytes 34342961152\n")).toBe(34342961152);
    expect(parseKfdMemBank("heap_type 0\nsize_in_bytes 1024\n")).toBeUndefined();
  });
});

const agent = (n: number, body: string) => `*******                  \nAgent ${n}                  \n*******                  \n${body}`;
const rocminfo = `\x1b[37mROCk module is loaded\x1b[0m
=====================
HSA Agents
==========
${agent(1, "  Name:                    AMD EPYC 7742 64-Core Processor\n  Uuid:                    CPU-XX\n  Marketing Name:          AMD EPYC 7742\n  Device Type:             CPU\n  Node:                    0\n  Pool Info:\n    Pool 1\n      Segment:                 GLOBAL; FLAGS: COARSE GRAINED\n      Size:                    263921704(0xfb b) KB\n")}
${agent(2, "  Name:                    \x1b[32mgfx906\x1b[0m\n  Uuid:                    GPU-0E54792172DA5EEB\n  Marketing Name:          Vega 20\n  Device Type:             GPU\n  Node:                    1\n  BDFID:                   1792\n  Compute Unit:            60\n  Pool Info:\n    Pool 1\n      Segment:                 GLOBAL; FLAGS: COARSE GRAINED\n      Size:                    33538048(0x1ffc000) KB\n    Pool 2\n      Segment:                 GLOBAL; FLAGS: FINE GRAINED\n      Size:                    33538048(0x1ffc000) KB\n  ISA Info:\n    ISA 1\n      Name:                    amdgcn-amd-amdhsa--gfx906:sramecc+:xnack-\n")}
${agent(3, "  Name:                    gfx803\n  Uuid:                    GPU-XX\n  Device Type:             GPU\n  Node:                    2\n")}
*** Done ***
`;

describe("parseRocminfo", () => {
  it("agents with ANSI codes stripped, placeholder uuids dropped, coarse pool as VRAM", () => {
    const r = parseRocminfo(rocminfo);
    expect(r.agents).toHaveLength(3);
    const [cpu, gpu, old] = r.agents;
    expect(cpu!.deviceType).toBe("CPU");
    expect(cpu!.uuid).toBeUndefined();
    expect(gpu!.gfx).toBe("gfx906");
    expect(gpu!.uuid).toBe("GPU-0e54792172da5eeb");
    expect(gpu!.marketingName).toBe("Vega 20");
    expect(gpu!.computeUnits).toBe(60);
    expect(gpu!.node).toBe(1);
    expect(gpu!.pciAddress).toBe("0000:07:00.0");
    expect(gpu!.vramKiB).toBe(33538048);
    expect(old!.gfx).toBe("gfx803");
    expect(old!.uuid).toBeUndefined();
  });
  it("junk yields no agents and a problem", () => {
    expect(parseRocminfo("\x00\x01\x02").problems).toEqual(["no agents"]);
  });
});

describe("parseRocmSmi", () => {
  it("-a style lines per GPU and the concise table with partition mode", () => {
    const text = `==== Concise Info ====
Device  [Model : Revision]    Temp        Power     Partitions      SCLK
0       [0x74a1 : 0x00]       35.0°C      133.0W    NPS1, CPX       131Mhz
        AMD Instinct MI300X
GPU[0]\t\t: Card Series: \t\tAMD Instinct MI300X
GPU[0]\t\t: VRAM Total Memory (B): 206141652992
GPU[0]\t\t: PCI Bus: 0000:26:00.0
GPU[0]\t\t: GFX Version: \t\tgfx942
GPU[1]\t\t: PCI Bus: 0000:46:00.0
`;
    const r = parseRocmSmi(text);
    expect(r.gpus.map((g) => g.index)).toEqual([0, 1]);
    expect(r.gpus[0]).toMatchObject({ pciAddress: "0000:26:00.0", vramBytes: 206141652992, gfx: "gfx942", model: "AMD Instinct MI300X", computePartition: "CPX" });
    expect(r.gpus[1]!.pciAddress).toBe("0000:46:00.0");
  });
});
