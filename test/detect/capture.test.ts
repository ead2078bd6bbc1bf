import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DetectError } from "../../src/errors.js";
import { captureHost, detectFromDir, detectLive, redactSerials } from "../../src/detect/index.js";
import { ProfileSchema } from "../../src/profile/schema.js";

const tmp = mkdtempSync(join(tmpdir(), "hwflake-capture-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("captureHost on this machine", () => {
  it("writes proc files and a manifest; detection of the capture matches live detection", async () => {
    const dir = join(tmp, "cap");
    const rep = await captureHost(dir);
    expect(rep.files).toContain("proc/cpuinfo");
    expect(rep.files).toContain("proc/meminfo");
    // The distribution, where this machine has an os-release file.
    if (existsSync("/etc/os-release")) expect(rep.files).toContain("etc/os-release");
    expect(existsSync(join(dir, "proc/cpuinfo"))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(dir, "capture.json"), "utf8"));
    expect(manifest.format).toBe("hwflake-capture");
    expect(manifest.files).toEqual(rep.files);
    expect([...manifest.tools.ran, ...manifest.tools.missing, ...manifest.tools.failed.map((f: { tool: string }) => f.tool)].length).toBeGreaterThan(0);

    const fromCapture = await detectFromDir(dir);
    const live = await detectLive();
    expect(ProfileSchema.safeParse(fromCapture.profile).success).toBe(true);
    const { numa: _a, ...capCpu } = fromCapture.profile.cpu ?? {};
    const { numa: _b, ...liveCpu } = live.profile.cpu ?? {};
    expect(capCpu).toEqual(liveCpu);
    expect(fromCapture.profile.cpu?.numa?.map((n) => [n.id, n.cpus])).toEqual(live.profile.cpu?.numa?.map((n) => [n.id, n.cpus]));
    expect(fromCapture.profile.system).toEqual(live.profile.system);
    expect(fromCapture.profile.host).toEqual(live.profile.host);

    // A previous capture may be overwritten.
    await expect(captureHost(dir)).resolves.toMatchObject({ dir });
  });

  it("refuses a non-empty folder that is not a capture", async () => {
    const dir = join(tmp, "busy");
    mkdirSync(dir);
    writeFileSync(join(dir, "precious.txt"), "keep me");
    await expect(captureHost(dir)).rejects.toBeInstanceOf(DetectError);
    expect(readFileSync(join(dir, "precious.txt"), "utf8")).toBe("keep me");
  });
});

describe("redactSerials", () => {
  it("drops serial lines from nvidia-smi -q, rocm-smi and cpuinfo, keeps UUIDs", () => {
    const text = "    Serial Number                         : 1652222014738\n    GPU UUID : GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1\nGPU[0]\t\t: Serial Number: 692347006052\nSerial\t\t: 0000000012345678\n";
    const out = redactSerials(text);
    expect(out).not.toMatch(/1652222014738|692347006052|12345678/);
    expect(out).toContain("GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1");
  });
});
