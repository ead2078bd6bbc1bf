import { describe, expect, it } from "vitest";
import { formatCpulist, parseCpuMask, parseCpulist } from "../../../src/detect/parsers/cpulist.js";
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

  it("formats canonically", () => {
    expect(formatCpulist([8, 0, 1, 2, 3, 9, 11])).toBe("0-3,8-9,11");
    expect(formatCpulist([])).toBe("");
  });

  it("reads hex masks (lscpu --hex, sysfs cpumap with 32-bit groups)", () => {
    expect(parseCpuMask("0x0000000f")).toEqual([0, 1, 2, 3]);
    expect(parseCpuMask("00000001,00000000\n")).toEqual([32]);
    expect(parseCpuMask("zz")).toBeNull();
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
