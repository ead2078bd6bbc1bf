/** The CLI on seed 002's and seed 003's hosts: served, and the deadlocks refused with exit 1. */
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../src/cli/main.js";

const ROOT = join(import.meta.dirname, "..", "..");
const TPU = join(ROOT, "examples", "tpu-v6e-host.yaml");
const SPYRE = join(ROOT, "examples", "spyre-host.yaml");

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli([...argv, "--color", "never"], { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

/** Seed 002's first environment: torch_xla 2.8.1 with jax 0.7.2 and libtpu 0.0.17. */
function seed002Deadlock(): string {
  const dir = mkdtempSync(join(tmpdir(), "hwflake-tpu-"));
  const f = join(dir, "p.yaml");
  writeFileSync(f, readFileSync(TPU, "utf8").replace('libtpu: "0.0.23"', 'libtpu: "0.0.17"\n      torch_xla: "2.8.1"'));
  return f;
}

describe("seed 002 and seed 003 hosts", () => {
  it("plan serves the TPU v6e host from its pinned set and explains the pins", async () => {
    const r = await run("plan", "--profile", TPU);
    expect(r.code).toBe(0);
    expect(r.out).toContain("pkgs.hwflake.tpu-0-11-1.vllm");
    expect(r.out).toContain("TPU_RELEASE");
    expect(r.out).toContain("jax 0.7.2, jaxlib 0.7.2, libtpu 0.0.23");
  });

  it("plan serves the Spyre host and says what compiles at start", async () => {
    const r = await run("plan", "--profile", SPYRE);
    expect(r.code).toBe(0);
    expect(r.out).toContain("pkgs.hwflake.spyre-1-10-0-sendnn.vllm");
    expect(r.out).toContain("SPYRE_WARMUP");
  });

  it("seed 002's deadlocked environment is refused with exit 1 and the way out; generate writes nothing", async () => {
    const f = seed002Deadlock();
    const r = await run("plan", "--profile", f);
    expect(r.code).toBe(1);
    expect(r.out).toContain("TPU_PIN_TORCH_XLA");
    expect(r.out).toContain("TPU_PIN_LIBTPU_TOO_OLD");
    expect(r.out).toMatch(/versions that work together:\s+vllm-tpu\/tpu-inference 0\.11\.1/);
    const out = mkdtempSync(join(tmpdir(), "hwflake-out-"));
    const g = await run("generate", "--profile", f, "--out", join(out, "flake"));
    expect(g.code).toBe(1);
    expect(existsSync(join(out, "flake", "flake.nix"))).toBe(false);
  });

  it("generate writes the TPU set's Python environment as a flake package", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "hwflake-out-")), "flake");
    const g = await run("generate", "--profile", TPU, "--out", out);
    expect(g.code).toBe(0);
    expect(readFileSync(join(out, "flake.nix"), "utf8")).toContain("python-tpu-0-11-1");
    expect(readFileSync(join(out, "README.md"), "utf8")).toContain('runtime_env={"py_executable": ENGINE_PY}');
  });
});
