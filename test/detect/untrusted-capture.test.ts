/**
 * Issue #9: a capture folder is untrusted input. `detect --from` reads only regular files inside
 * it, within size caps, and reports what it skipped; no capture may hang it or make it read
 * outside the folder.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.js";
import { CAPTURE_LIMITS, readCapture } from "../../src/detect/io.js";

const MACHINE = join(import.meta.dirname, "..", "fixtures", "machines", "x86-intel-i7-1165g7");
const work = mkdtempSync(join(tmpdir(), "hwflake-untrusted-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** A copy of a real capture to plant things in. */
function capture(): string {
  const dir = join(work, `cap${n++}`);
  cpSync(MACHINE, dir, { recursive: true });
  return dir;
}

async function detectJson(dir: string): Promise<{ code: number; report: { messages: string[] }; profile: Record<string, unknown>; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(["detect", "--from", dir, "--json"], { out: (t) => (out += t), err: (t) => (err += t) });
  const parsed = code === 0 ? (JSON.parse(out) as { report: { messages: string[] }; profile: Record<string, unknown> }) : { report: { messages: [] }, profile: {} };
  return { code, ...parsed, err };
}

describe("detect --from an untrusted capture", () => {
  it("does not follow a symlink to a device out of the folder (it used to read /dev/urandom)", async () => {
    const dir = capture();
    rmSync(join(dir, "proc", "cpuinfo"));
    symlinkSync("/dev/urandom", join(dir, "proc", "cpuinfo"));
    const r = await detectJson(dir);
    expect(r.code).toBe(0);
    expect(r.report.messages).toContain("proc/cpuinfo: skipped, a symlink that leads out of the capture folder");
  });

  it("does not read a file outside the folder through a symlink, nor list a folder outside it", async () => {
    const dir = capture();
    const secret = join(work, "secret-hostname");
    writeFileSync(secret, "outside-host\n");
    mkdirSync(join(dir, "proc", "sys", "kernel"), { recursive: true });
    symlinkSync(secret, join(dir, "proc", "sys", "kernel", "hostname"));
    rmSync(join(dir, "sys", "devices", "system", "cpu"), { recursive: true, force: true });
    symlinkSync("/sys/devices/system/cpu", join(dir, "sys", "devices", "system", "cpu"));
    const r = await detectJson(dir);
    expect(r.code).toBe(0);
    expect(r.profile.host).not.toBe("outside-host");
    expect(r.report.messages).toContain("proc/sys/kernel/hostname: skipped, a symlink that leads out of the capture folder");
    expect(r.report.messages).toContain("sys/devices/system/cpu: skipped, a symlink that leads out of the capture folder");
  });

  it("follows a symlink that stays inside the folder", async () => {
    const dir = capture();
    mkdirSync(join(dir, "elsewhere"));
    cpSync(join(dir, "proc", "cpuinfo"), join(dir, "elsewhere", "cpuinfo"));
    rmSync(join(dir, "proc", "cpuinfo"));
    symlinkSync(join("..", "elsewhere", "cpuinfo"), join(dir, "proc", "cpuinfo"));
    const { files, skipped } = await readCapture(dir);
    expect(files.has("proc/cpuinfo")).toBe(true);
    expect(skipped).toEqual([]);
  });

  it("skips a FIFO instead of waiting on it forever", async () => {
    const dir = capture();
    rmSync(join(dir, "proc", "cpuinfo"));
    execFileSync("mkfifo", [join(dir, "proc", "cpuinfo")]);
    const t0 = performance.now();
    const r = await detectJson(dir);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(r.report.messages).toContain("proc/cpuinfo: skipped, not a regular file (a FIFO)");
  }, 10_000);

  it("skips a folder where a file should be, and a file over the size cap", async () => {
    const dir = capture();
    rmSync(join(dir, "proc", "cpuinfo"));
    mkdirSync(join(dir, "proc", "cpuinfo"));
    mkdirSync(join(dir, "commands"), { recursive: true });
    writeFileSync(join(dir, "commands", "lscpu-huge.txt"), Buffer.alloc(CAPTURE_LIMITS.maxFileBytes + 1, "a"));
    const { files, skipped } = await readCapture(dir);
    expect(files.has("commands/lscpu-huge.txt")).toBe(false);
    expect(skipped).toEqual([
      { path: "commands/lscpu-huge.txt", reason: `${CAPTURE_LIMITS.maxFileBytes + 1} bytes, more than the ${CAPTURE_LIMITS.maxFileBytes}-byte limit per file` },
      { path: "proc/cpuinfo", reason: "not a regular file (a folder)" },
    ]);
  });

  it("accepts a capture folder that is itself reached through a symlink", async () => {
    const dir = capture();
    const link = join(work, `link${n++}`);
    symlinkSync(dir, link);
    const { skipped, files } = await readCapture(link);
    expect(skipped).toEqual([]);
    expect(files.size).toBeGreaterThan(3);
  });

  it("does not hang on cpulists with numbers above 2^53", async () => {
    const dir = capture();
    writeFileSync(join(dir, "sys", "devices", "system", "cpu", "online"), "0-9007199254740993\n");
    mkdirSync(join(dir, "sys", "devices", "system", "node", "node0"), { recursive: true });
    writeFileSync(join(dir, "sys", "devices", "system", "node", "node0", "cpulist"), "9007199254740993\n");
    const t0 = performance.now();
    const r = await detectJson(dir);
    expect(r.code).toBe(0);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
