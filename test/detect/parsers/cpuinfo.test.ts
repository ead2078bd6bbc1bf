import { describe, expect, it } from "vitest";
import { parseCpuinfo } from "../../../src/detect/parsers/cpuinfo.js";

const x86Block = (n: number, phys: number, extra = "") => `processor\t: ${n}
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz
physical id\t: ${phys}
siblings\t: 2
cpu cores\t: 1
flags\t\t: fpu lm sse4_2 avx2 avx512f${extra}

`;

describe("parseCpuinfo", () => {
  it("x86: vendor, family/model, sockets, flags common to all CPUs", () => {
    const c = parseCpuinfo(x86Block(0, 0, " avx512_vnni") + x86Block(1, 0) + x86Block(2, 1) + x86Block(3, 1));
    expect(c.kind).toBe("x86");
    expect(c.vendorId).toBe("GenuineIntel");
    expect([c.family, c.model]).toEqual([6, 85]);
    expect(c.physicalIds).toEqual([0, 1]);
    expect([c.siblings, c.cpuCores]).toEqual([2, 1]);
    expect(c.flags).toEqual(["avx2", "avx512f", "fpu", "lm", "sse4_2"]);
    expect(c.flagsDiffer).toBe(true);
    expect(c.problems).toEqual([]);
  });

  it("x86: a truncated last entry is dropped and reported", () => {
    const text = x86Block(0, 0) + "processor\t: 1\nvendor_id\t: GenuineIntel\ncpu fam";
    const c = parseCpuinfo(text);
    expect(c.processors).toHaveLength(1);
    expect(c.problems).toContain("truncated (last processor entry incomplete)");
  });

  it("x86: engineering-sample name is kept verbatim (ends trimmed, inner spaces kept)", () => {
    const c = parseCpuinfo(x86Block(0, 0).replace(/model name.*/, "model name\t: Genuine Intel(R) CPU  0000%@   "));
    expect(c.modelName).toBe("Genuine Intel(R) CPU  0000%@");
  });

  it("aarch64: implementer/part in hex, Features as flags", () => {
    const block = (n: number) => `processor\t: ${n}\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes asimddp sve i8mm bf16\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0xd40\nCPU revision\t: 1\n\n`;
    const c = parseCpuinfo(block(0) + block(1));
    expect(c.kind).toBe("arm");
    expect([c.armImplementer, c.armPart]).toEqual([0x41, 0xd40]);
    expect(c.flags).toEqual(["aes", "asimd", "asimddp", "bf16", "evtstrm", "fp", "i8mm", "sve"]);
  });

  it("aarch64: mixed core types leave implementer/part unset", () => {
    const b = (n: number, part: string) => `processor\t: ${n}\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\nCPU part\t: ${part}\n\n`;
    const c = parseCpuinfo(b(0, "0xd87") + b(1, "0xd85"));
    expect(c.armPart).toBeUndefined();
    expect(c.armParts).toHaveLength(2);
  });

  it("ppc64le: POWER generation, altivec, trailing machine block", () => {
    const text = "processor\t: 0\ncpu\t\t: POWER9 (raw), altivec supported\nclock\t\t: 3800.000000MHz\nrevision\t: 2.2 (pvr 004e 1202)\n\nprocessor\t: 1\ncpu\t\t: POWER9 (raw), altivec supported\nclock\t\t: 3800.000000MHz\nrevision\t: 2.2 (pvr 004e 1202)\n\ntimebase\t: 512000000\nplatform\t: PowerNV\nmodel\t\t: 9006-22P\nmachine\t\t: PowerNV 9006-22P\n";
    const c = parseCpuinfo(text);
    expect(c.kind).toBe("power");
    expect(c.powerGeneration).toBe(9);
    expect(c.altivec).toBe(true);
    expect(c.machine["platform"]).toBe("PowerNV");
    expect(c.processors).toHaveLength(2);
    expect(c.flags).toBeUndefined();
  });

  it.each([["", "no processor entries"], ["\x00\x01garbage\n", "no processor entries"]])("junk %j", (text, problem) => {
    const c = parseCpuinfo(text);
    expect(c.kind).toBe("unknown");
    expect(c.problems).toContain(problem);
  });
});
