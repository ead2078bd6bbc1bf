import { describe, expect, it } from "vitest";
import { gccArchArm, gccArchPower, gccArchX86, nvidiaComputeCapability, x86Level } from "../../src/knowledge/identify.js";

const V2 = ["cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"];
const V3 = [...V2, "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"];
const V4 = [...V3, "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"];

describe("x86Level", () => {
  it.each([
    [[], "x86-64"],
    [V2, "x86-64-v2"],
    [V3, "x86-64-v3"],
    [V4, "x86-64-v4"],
    [V3.filter((f) => f !== "movbe"), "x86-64-v2"],
    [[...V2, "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"], "x86-64-v2"],
  ])("%j → %s", (flags, level) => expect(x86Level(flags)).toBe(level));
});

describe("gccArchX86 (gcc cpuinfo.h rules)", () => {
  it.each([
    ["amd", 0x17, 0x01, [], "znver1"],
    ["amd", 0x17, 0x31, [], "znver2"],
    ["amd", 0x17, 0x20, ["clwb"], "znver2"],
    ["amd", 0x19, 0x01, [], "znver3"],
    ["amd", 0x19, 0x21, ["vaes"], "znver3"],
    ["amd", 0x19, 0x11, [], "znver4"],
    ["amd", 0x19, 0xa0, [], "znver4"],
    ["amd", 0x19, 0x40, ["avx512f", "vaes"], "znver4"],
    ["amd", 0x19, 0x40, [], undefined],
    ["amd", 0x1a, 0x02, [], "znver5"],
    ["amd", 0x15, 0x02, [], undefined],
    ["intel", 6, 0x55, [], "skylake-avx512"],
    ["intel", 6, 0x55, ["avx512_vnni"], "cascadelake"],
    ["intel", 6, 0x55, ["avx512_vnni", "avx512_bf16"], "cooperlake"],
    ["intel", 6, 0x6a, [], "icelake-server"],
    ["intel", 6, 0x8f, [], "sapphirerapids"],
    ["intel", 6, 0x3f, [], "haswell"],
    ["intel", 6, 0xff, [], undefined],
    ["intel", 15, 0x6, [], undefined],
  ] as const)("%s family %d model %d %j → %s", (vendor, fam, model, flags, want) =>
    expect(gccArchX86(vendor, fam, model, flags)).toBe(want));
});

describe("other arches", () => {
  it.each([
    [0x41, 0xd0c, "neoverse-n1"],
    [0x41, 0xd40, "neoverse-v1"],
    [0x41, 0xd4f, "neoverse-v2"],
    [0x48, 0xd01, "tsv110"],
    [0x41, 0xd87, undefined],
  ])("arm %d:%d → %s", (imp, part, want) => expect(gccArchArm(imp, part)).toBe(want));
  it.each([[8, "power8"], [9, "power9"], [10, "power10"], [6, undefined]])("POWER%d → %s", (g, want) => expect(gccArchPower(g)).toBe(want));
});

describe("nvidiaComputeCapability", () => {
  it.each([
    ["Tesla V100-SXM2-16GB", "7.0"],
    ["Tesla T4", "7.5"],
    ["NVIDIA A100-SXM4-80GB", "8.0"],
    ["NVIDIA A100 80GB PCIe", "8.0"],
    ["NVIDIA A10", "8.6"],
    ["NVIDIA A10G", "8.6"],
    ["NVIDIA GeForce RTX 3090", "8.6"],
    ["NVIDIA L4", "8.9"],
    ["NVIDIA L40S", "8.9"],
    ["NVIDIA GeForce RTX 4090", "8.9"],
    ["NVIDIA H100 80GB HBM3", "9.0"],
    ["NVIDIA GH200 480GB", "9.0"],
    ["Quadro RTX 6000", "7.5"],
    ["NVIDIA RTX 6000 Ada Generation", "8.9"],
    ["NVIDIA Mystery 9000", undefined],
  ])("%s → %s", (m, cc) => expect(nvidiaComputeCapability(m)).toBe(cc));
});
