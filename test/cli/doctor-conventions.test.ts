/** `hwflake doctor` end to end, and the CLI conventions: --json, NO_COLOR/--color, completion. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { runCli, type CliIO } from "../../src/cli/main.js";
import { colorEnabled } from "../../src/cli/color.js";
import { detectFromDir } from "../../src/detect/index.js";

const ROOT = join(import.meta.dirname, "..", "..");
const MI210 = join(ROOT, "test/fixtures/machines/gpu-amd-mi210-x8-kfd");
const MI300X = join(ROOT, "test/fixtures/machines/gpu-amd-mi300x-x8-cpx-kfd");

async function run(argv: string[], io: Partial<CliIO> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, { out: (t) => (out += t), err: (t) => (err += t), ...io });
  return { code, out, err };
}

/** The MI210 machine's own profile, written where doctor can read it. */
async function mi210Profile(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "hwflake-doctor-"));
  const f = join(dir, "host.yaml");
  writeFileSync(f, stringify((await detectFromDir(MI210, { host: "gpu-box" })).profile));
  return f;
}

describe("hwflake doctor", () => {
  it("exit 0 when the capture matches the profile", async () => {
    const r = await run(["doctor", "--profile", await mi210Profile(), "--from", MI210]);
    expect(r).toMatchObject({ code: 0, err: "" });
    expect(r.out).toMatch(/^✓ host "gpu-box" matches .*host\.yaml \(\d+ facts compared\)/);
  });

  it("exit 1 on drift: eight MI210s gone, eight partitioned MI300X cards new, NUMA changed", async () => {
    const r = await run(["doctor", "--profile", await mi210Profile(), "--from", MI300X]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^✘ host "gpu-box" differs/);
    for (const code of ["ACCELERATOR_MISSING", "ACCELERATOR_NEW", "NUMA_CHANGED"]) expect(r.out).toContain(code);
  });

  it("--json is the drift report", async () => {
    const r = await run(["doctor", "--profile", await mi210Profile(), "--from", MI300X, "--json"]);
    const report = JSON.parse(r.out) as { ok: boolean; drift: Array<{ code: string }> };
    expect(r.code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.drift.filter((d) => d.code === "ACCELERATOR_MISSING")).toHaveLength(8);
  });

  it("exit 2 for a missing profile or capture", async () => {
    expect((await run(["doctor", "--profile", "/nonexistent.yaml", "--from", MI210])).code).toBe(2);
    expect((await run(["doctor", "--profile", await mi210Profile(), "--from", "/nonexistent-dir"])).code).toBe(2);
    expect((await run(["doctor"])).code).toBe(2);
  });
});

describe("colour (no-color.org)", () => {
  it.each([
    ["auto", {}, true, true],
    ["auto", {}, false, false],
    ["auto", { NO_COLOR: "1" }, true, false],
    ["auto", { NO_COLOR: "" }, true, true],
    ["always", { NO_COLOR: "1" }, false, true],
    ["never", {}, true, false],
  ] as const)("--color %s, env %j, tty %s → %s", (mode, env, tty, want) => expect(colorEnabled(mode, env, tty)).toBe(want));

  it("a terminal gets colour unless NO_COLOR; --color always forces it; --color never drops it", async () => {
    const argv = ["doctor", "--profile", await mi210Profile(), "--from", MI300X];
    expect((await run(argv, { isTTY: true, env: {} })).out).toContain("\x1b[31m");
    expect((await run(argv, { isTTY: true, env: { NO_COLOR: "1" } })).out).not.toContain("\x1b[");
    expect((await run([...argv, "--color", "always"], { isTTY: false, env: {} })).out).toContain("\x1b[31m");
    expect((await run([...argv, "--color=never"], { isTTY: true, env: {} })).out).not.toContain("\x1b[");
    expect((await run([...argv, "--no-color"], { isTTY: true, env: {} })).out).not.toContain("\x1b[");
  });

  it("a --color value other than auto, always, never is bad input (exit 2)", async () => {
    const r = await run(["schema", "--color=bogus"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--color bogus: use auto, always or never/);
  });
});

describe("--json on every reporting command", () => {
  it("generate --json and generate --check --json", async () => {
    const out = mkdtempSync(join(tmpdir(), "hwflake-gen-"));
    const seed = join(ROOT, "examples", "mi50-desktop.yaml");
    const w = await run(["generate", "--profile", seed, "--out", out, "--json"]);
    expect(w.code).toBe(0);
    expect(JSON.parse(w.out)).toMatchObject({ host: "l", written: expect.arrayContaining(["flake.nix"]) });
    const c = await run(["generate", "--profile", seed, "--out", out, "--check", "--json"]);
    expect(JSON.parse(c.out)).toMatchObject({ stale: [] });
  });
});

describe("hwflake completion", () => {
  it("prints yargs' completion script and completes command names", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      expect((await run(["completion"])).code).toBe(0);
      expect(log.mock.calls.flat().join("\n")).toMatch(/hwflake --get-yargs-completions/);
      log.mockClear();
      await run(["--get-yargs-completions", "hwflake", "doc"]);
      expect(log.mock.calls.flat()).toContain("doctor");
    } finally {
      log.mockRestore();
    }
  });
});
