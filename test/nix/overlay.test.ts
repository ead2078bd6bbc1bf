/**
 * The generated overlay, applied with nixpkgs' real override machinery to stand-ins that take
 * exactly nixpkgs' argument names (test/nix/support/fake-nixpkgs). This is what proves the
 * planner's argument names and the overlay's plumbing (pythonPackagesExtensions, overrideScope,
 * env merging) reach the packages they are meant for, and that a misspelled argument fails.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { NixValue, PackageBuild, Plan } from "../../src/plan/types.js";
import { nixString, toNix } from "../../src/render/nix.js";
import { renderFiles } from "../../src/render/render.js";
import { writeFiles } from "../../src/write/write.js";
import { cpuVllmPlan, cudaVllmPlan, ollamaPlan, RENDER_OPTS, rocmLlamaPlan } from "../render/fixtures.js";
import { nixEvalError, nixEvalJson, nixpkgsLib, nixUnavailable, REPO_ROOT, skipNix } from "../helpers/nix.js";

if (skipNix) console.warn(`skipping overlay evaluation tests: ${nixUnavailable}`);

const FAKE_NIXPKGS = join(REPO_ROOT, "test", "nix", "support", "fake-nixpkgs");

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/**
 * A Nix expression binding `pkgs` (the fake package set with the plan's overlay and nixpkgs
 * config applied) and `plain` (the same set without the overlay), then evaluating `body`.
 */
async function withOverlay(plan: Plan, body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hwflake-overlay-"));
  dirs.push(dir);
  await writeFiles(renderFiles(plan, RENDER_OPTS), { outDir: dir });
  const config = toNix(plan.shared.nixpkgsConfig?.value ?? {});
  return `
let
  lib = import ${nixString(nixpkgsLib())};
  fake = import ${nixString(FAKE_NIXPKGS)};
  config = ${config};
  pkgs = fake { inherit lib config; overlays = [ (import ${nixString(join(dir, "overlays", "default.nix"))}) ]; };
  plain = fake { inherit lib config; };
in
${body}`;
}

async function evalWith(plan: Plan, body: string): Promise<unknown> {
  return nixEvalJson(await withOverlay(plan, body));
}

/** `plan` with one package's override arguments replaced. */
function withArgs(plan: Plan, name: string, args: { readonly [k: string]: NixValue }): Plan {
  return { ...plan, packages: plan.packages.map((p): PackageBuild => (p.name === name ? { ...p, args } : p)) };
}

describe.skipIf(skipNix)("generated overlay on nixpkgs stand-ins", () => {
  it("llama.cpp on ROCm gets rocmSupport and exactly gfx906, and the clr scope is narrowed", async () => {
    const got = await evalWith(
      rocmLlamaPlan(),
      `{
        args = pkgs.hwflake.llama-cpp-rocm.args;
        clr = pkgs.rocmPackages.clr.localGpuTargets;
        clrBefore = plain.rocmPackages.clr ? localGpuTargets;
        # Packages that take their targets from the scope now see the narrowed list too.
        defaultTargets = (pkgs.llama-cpp.override { rocmSupport = true; }).args.rocmGpuTargets;
        ollamaTargets = pkgs.ollama.args.rocmGpuTargets;
      }`,
    );
    expect(got).toMatchObject({
      args: { rocmSupport: true, rocmGpuTargets: ["gfx906"], cudaSupport: false, blasSupport: false },
      clr: ["gfx906"],
      clrBefore: false,
      defaultTargets: ["gfx906"],
      ollamaTargets: ["gfx906"],
    });
  });

  it("vLLM on CUDA: torch gets the override, and vLLM is built against that torch", async () => {
    const got = await evalWith(
      cudaVllmPlan(),
      `{
        torch = pkgs.python3Packages.torch.args;
        torchBefore = plain.python3Packages.torch.args.gpuTargets;
        vllm = pkgs.hwflake.vllm-cuda.args;
        vllmTorch = pkgs.hwflake.vllm-cuda.torch.args;
        vllmEnv = pkgs.hwflake.vllm-cuda.env;
        # The plain python3Packages.vllm of the overlaid set uses the overridden torch as well.
        plainVllmTorch = pkgs.python3Packages.vllm.torch.args.gpuTargets;
        config = { inherit (pkgs.config) cudaSupport cudaCapabilities allowUnfree; };
      }`,
    );
    expect(got).toEqual({
      torch: expect.objectContaining({ cudaSupport: true, gpuTargets: ["8.6"] }),
      torchBefore: [],
      vllm: expect.objectContaining({ cudaSupport: true, rocmSupport: false, gpuTargets: ["8.6"] }),
      vllmTorch: expect.objectContaining({ cudaSupport: true, gpuTargets: ["8.6"] }),
      vllmEnv: { VLLM_TARGET_DEVICE: "cuda" },
      plainVllmTorch: ["8.6"],
      config: { cudaSupport: true, cudaCapabilities: ["8.6"], allowUnfree: true },
    });
  });

  it("vLLM's GPU switches default to its torch's (the reason torch is overridden at all)", async () => {
    const plan = withArgs(cudaVllmPlan(), "vllm-cuda", { gpuTargets: ["8.6"] });
    const noConfig: Plan = { ...plan, shared: { ...plan.shared, nixpkgsConfig: null } };
    expect(await evalWith(noConfig, "pkgs.hwflake.vllm-cuda.args.cudaSupport")).toBe(true);
  });

  it("CPU vLLM: env is merged into nixpkgs' env, not replacing it", async () => {
    const got = await evalWith(cpuVllmPlan(), "{ env = pkgs.hwflake.vllm-cpu.env; before = plain.python3Packages.vllm.env; }");
    expect(got).toEqual({
      env: { VLLM_TARGET_DEVICE: "cpu", VLLM_CPU_DISABLE_AVX512: "true" },
      before: { VLLM_TARGET_DEVICE: "cpu" },
    });
  });

  it("Ollama gets acceleration and targets; llama.cpp without an env of its own gets one", async () => {
    const got = await evalWith(
      ollamaPlan(),
      "{ ollama = pkgs.hwflake.ollama-rocm.args; ollamaEnv = pkgs.hwflake.ollama-rocm.env; cpu = pkgs.hwflake.llama-cpp-cpu.args.cpuArchDynamicDispatch; cpuEnv = pkgs.hwflake.llama-cpp-cpu.env; }",
    );
    expect(got).toEqual({
      ollama: { acceleration: "rocm", rocmGpuTargets: ["gfx1100"], cudaArches: [] },
      ollamaEnv: { ROCM_PATH: "rocm-path" },
      cpu: true,
      cpuEnv: { GGML_EXTRA: "1" },
    });
  });

  describe("a misspelled argument makes evaluation fail", () => {
    it.each([
      ["llama.cpp rocmGpuTarget", rocmLlamaPlan(), "llama-cpp-rocm", { rocmSupport: true, rocmGpuTarget: ["gfx906"] }, "rocmGpuTarget"],
      ["vLLM gpuTarget", cudaVllmPlan(), "vllm-cuda", { cudaSupport: true, gpuTarget: ["8.6"] }, "gpuTarget"],
      ["Ollama accelerations", ollamaPlan(), "ollama-rocm", { accelerations: "rocm" }, "accelerations"],
      ["vLLM with a torch-only argument", cpuVllmPlan(), "vllm-cpu", { mklDnnSupport: false }, "mklDnnSupport"],
    ] as const)("%s", async (_name, plan, pkg, args, bad) => {
      const expr = await withOverlay(withArgs(plan, pkg, args), `builtins.attrNames pkgs.hwflake.${pkg}.args`);
      const err = nixEvalError(expr);
      expect(err).not.toBeNull();
      expect(err).toContain(`unexpected argument '${bad}'`);
    });

    it("torch override with a misspelled argument", async () => {
      const plan = cudaVllmPlan();
      const torch = plan.shared.torch;
      if (!torch) throw new Error("fixture has a torch override");
      const bad: Plan = { ...plan, shared: { ...plan.shared, torch: { ...torch, value: { cudaSupport: true, cudaCapabilities: ["8.6"] } } } };
      const err = nixEvalError(await withOverlay(bad, "pkgs.hwflake.vllm-cuda.torch.args.gpuTargets"));
      expect(err).toContain("unexpected argument 'cudaCapabilities'");
    });

    it("the correctly spelled control case evaluates", async () => {
      const expr = await withOverlay(rocmLlamaPlan(), "builtins.attrNames pkgs.hwflake.llama-cpp-rocm.args");
      expect(nixEvalError(expr)).toBeNull();
    });
  });
});
