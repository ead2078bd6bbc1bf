import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DetectError } from "../../src/errors.js";
import { detectFromDir } from "../../src/detect/index.js";
import { ProfileSchema } from "../../src/profile/schema.js";

const tmp = mkdtempSync(join(tmpdir(), "hwflake-garbage-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function folder(name: string, files: Record<string, string | Buffer>): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}

const junk = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7919) % 256));

describe("garbage in", () => {
  it("binary junk in proc/cpuinfo: message, unknowns, valid profile", async () => {
    const r = await detectFromDir(folder("junk", { "proc/cpuinfo": junk, "proc/meminfo": "MemTotal: 2048 kB\n" }));
    expect(ProfileSchema.parse(r.profile).host).toBe("localhost");
    expect(r.report.messages.some((m) => m.startsWith("proc/cpuinfo: not text"))).toBe(true);
    expect(r.report.unknown).toEqual(expect.arrayContaining(["cpu.vendor", "cpu.flags", "cpu.arch", "system"]));
    expect(r.profile.memory).toEqual({ totalMiB: 2 });
  });

  it("truncated rocminfo: GPUs before the cut kept, truncation reported", async () => {
    const text = `*******\nAgent 1\n*******\n  Name:                    gfx1100\n  Uuid:                    GPU-69e905a91bab9202\n  Marketing Name:          Radeon RX 7900 XTX\n  Device Type:             GPU\n  Node:                    1\n*******\nAgent 2\n*******\n  Name:                    gf`;
    const r = await detectFromDir(folder("trunc", { "commands/rocminfo.txt": text }));
    expect(ProfileSchema.safeParse(r.profile).success).toBe(true);
    expect(r.profile.accelerators).toEqual([
      { kind: "gpu", vendor: "amd", id: "gpu0", model: "Radeon RX 7900 XTX", arch: "gfx1100", uuid: "GPU-69e905a91bab9202" },
    ]);
    expect(r.report.messages.some((m) => /rocminfo.txt: truncated/.test(m))).toBe(true);
  });

  it("truncated cpuinfo: last entry dropped, rest used", async () => {
    const block = (n: number) => `processor\t: ${n}\nvendor_id\t: AuthenticAMD\ncpu family\t: 23\nmodel\t\t: 49\nmodel name\t: AMD EPYC 7742 64-Core Processor\nflags\t\t: fpu lm cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3 avx avx2 bmi1 bmi2 f16c fma abm movbe xsave\n\n`;
    const r = await detectFromDir(folder("trunc-cpu", { "proc/cpuinfo": block(0) + block(1) + "processor\t: 2\nvendor_id\t: Auth" }));
    expect(r.report.messages).toContain("proc/cpuinfo: truncated (last processor entry incomplete)");
    expect(r.profile.cpu).toMatchObject({ vendor: "amd", arch: "znver2" });
  });

  it("family/model says znver2 but the flags lack v3 (VM, old kernel): falls back to the flag level", async () => {
    const ci = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 23\nmodel\t\t: 49\nmodel name\t: AMD EPYC 7742\nflags\t\t: fpu lm cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3 avx\n\n";
    const r = await detectFromDir(folder("old-kernel", { "proc/cpuinfo": ci }));
    expect(r.profile.cpu?.arch).toBe("x86-64-v2");
    expect(r.report.messages.some((m) => /is znver2, but the flags lack avx2/.test(m))).toBe(true);
  });

  it("a folder with nothing relevant: everything unknown, a message, no throw", async () => {
    const r = await detectFromDir(folder("empty", { "README.txt": "hello" }));
    expect(ProfileSchema.parse(r.profile)).toMatchObject({ version: 1, host: "localhost", accelerators: [] });
    expect(r.report.unknown).toEqual(expect.arrayContaining(["system", "cpu.vendor", "memory.totalMiB", "accelerators"]));
    expect(r.report.messages.some((m) => m.startsWith("capture: no recognised hardware files"))).toBe(true);
    expect(r.report.facts.filter((f) => f.path !== "host")).toEqual([]);
  });

  it("empty files and NUL-only sysfs files do not crash", async () => {
    const r = await detectFromDir(
      folder("nul", {
        "proc/cpuinfo": "",
        "proc/meminfo": "\0\0\0",
        "sys/devices/system/node/node0/cpulist": "\0",
        "commands/lscpu-J.txt": "{",
        "commands/nvidia-smi.txt": "",
        "sys/class/kfd/kfd/topology/nodes/1/properties": "",
      }),
    );
    expect(ProfileSchema.safeParse(r.profile).success).toBe(true);
    expect(r.report.messages.length).toBeGreaterThan(0);
  });

  it("a missing folder is a DetectError", async () => {
    await expect(detectFromDir(join(tmp, "does-not-exist"))).rejects.toBeInstanceOf(DetectError);
  });

  it("a file instead of a folder is a DetectError", async () => {
    writeFileSync(join(tmp, "plain-file"), "x");
    await expect(detectFromDir(join(tmp, "plain-file"))).rejects.toBeInstanceOf(DetectError);
  });
});
