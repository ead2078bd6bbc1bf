import { describe, expect, it } from "vitest";
import { parseCpuMask, parseCpulist } from "../../../src/detect/parsers/cpulist.js";
import { formatCpulist } from "../../../src/knowledge/cpulist.js";
import { MAX_CPU_NUMBER } from "../../../src/profile/schema.js";
import { kibToMiB, parseMeminfo } from "../../../src/detect/parsers/meminfo.js";

describe("parseCpulist", () => {
  it.each([
    ["0-3,8-11\n", [0, 1, 2, 3, 8, 9, 10, 11]],
    ["0-1\n\0\0\0", [0, 1]],
    ["5", [5]],
    ["\n", []],
    ["", []],
    ["3,1,2\n\n", [1, 2, 3]],
  ])("%j", (text, want) => expect(parseCpulist(text)).toEqual(want));

  it.each(["0-", "a-b", "3-1", "0-3;4", "\x01\x02"])("rejects %j", (text) => expect(parseCpulist(text)).toBeNull());

  it.each([
    ["a number above 2^53 (looped forever before)", "9007199254740993"],
    ["a range ending above 2^53", "9007199254740990-9007199254740999"],
    ["a CPU above MAX_CPU_NUMBER", String(MAX_CPU_NUMBER + 1)],
    ["overlapping ranges that expand past the budget", Array(20).fill(`0-${MAX_CPU_NUMBER}`).join(",")],
  ])("rejects %s, quickly", (_name, text) => {
    const t0 = performance.now();
    expect(parseCpulist(text)).toBeNull();
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it("accepts the largest CPU number", () => expect(parseCpulist(`${MAX_CPU_NUMBER}`)).toEqual([MAX_CPU_NUMBER]));

  it("formats canonically", () => {
    expect(formatCpulist([8, 0, 1, 2, 3, 9, 11])).toBe("0-3,8-9,11");
    expect(formatCpulist([])).toBe("");
  });

  it("reads hex masks (lscpu --hex, sysfs cpumap with 32-bit groups)", () => {
    expect(parseCpuMask("0x0000000f")).toEqual([0, 1, 2, 3]);
    expect(parseCpuMask("00000001,00000000\n")).toEqual([32]);
    expect(parseCpuMask("zz")).toBeNull();
    // Leading zero groups do not count against the bound; a mask naming CPU 65536+ does.
    expect(parseCpuMask(`${"0".repeat(100_000)}1`)).toEqual([0]);
    expect(parseCpuMask(`1${"0".repeat(MAX_CPU_NUMBER / 4 + 1)}`)).toBeNull();
  });
});

describe("parseMeminfo", () => {
  it.each([
    ["MemTotal:       65861656 kB\nMemFree: 1 kB\n", 65861656],
    ["Node 1 MemTotal:       1024 kB\n", 1024],
    ["MemFree: 1 kB\n", undefined],
    ["", undefined],
  ])("%j", (text, want) => expect(parseMeminfo(text).totalKiB).toBe(want));
  it("rounds KiB down to MiB", () => expect(kibToMiB(2047)).toBe(1));
});

describe("the cpulist bound", () => {
  it("is the profile schema's bound", async () => {
    const { MAX_CPU_NUMBER: parserBound } = await import("../../../src/detect/parsers/cpulist.js");
    const { MAX_CPU_NUMBER: schemaBound } = await import("../../../src/profile/schema.js");
    expect(parserBound).toBe(schemaBound);
  });
});
