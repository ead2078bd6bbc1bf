/**
 * The generated build sets, applied with the module library's overlay to nixpkgs stand-ins that
 * take exactly nixpkgs' argument names (test/nix/support/fake-nixpkgs) and re-import
 * themselves through `pkgs.path` as nixpkgs does. This proves that each set gets its own config,
 * ROCm scope and torch, that the override arguments reach the packages they are meant for (a
 * misspelled one fails), and that the host's own package set only gains `hwflake`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { BuildSet, NixValue, Plan } from "../../src/plan/types.js";
import { nixString } from "../../src/render/nix.js";
import { renderFiles } from "../../src/render/render.js";
import { writeFiles } from "../../src/write/write.js";
import { cpuVllmPlan, cudaVllmPlan, FIXTURES, ollamaPlan, RENDER_OPTS, rocmLlamaPlan } from "../render/fixtures.js";
import { nixEvalError, nixEvalJson, nixpkgsLib, nixUnavailable, REPO_ROOT, skipNix } from "../helpers/nix.js";

if (skipNix) console.warn(`skipping build-set evaluation tests: ${nixUnavailable}`);

const FAKE_NIXPKGS = join(REPO_ROOT, "test", "nix", "support", "fake-nixpkgs");

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/**
 * A Nix expression binding `pkgs` (the stand-in package set with the plan's build sets added
 * through the generated module library's overlay) and `plain` (the same set without it), then
 * evaluating `body`.
 */
async function withSets(plan: Plan, body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hwflake-sets-"));
  dirs.push(dir);
  await writeFiles(renderFiles(plan, RENDER_OPTS), { outDir: dir });
  return `
let
  lib = import ${nixString(nixpkgsLib())};
  fake = import ${nixString(FAKE_NIXPKGS)};
  hw = import ${nixString(join(dir, "modules", "lib"))} { inherit lib; };
  overlay = hw.buildSetsOverlay (import ${nixString(join(dir, "build-sets.nix"))});
  pkgs = fake { inherit lib; overlays = [ overlay ]; };
  plain = fake { inherit lib; };
in
${body}`;
}

async function evalWith(plan: Plan, body: string): Promise<unknown> {
  return nixEvalJson(await withSets(plan, body));
}

/** `plan` with one set's package arguments replaced. */
function withArgs(plan: Plan, setName: string, engine: string, args: { readonly [k: string]: NixValue }): Plan {
  const buildSets = plan.buildSets.map(
    (s): BuildSet => (s.name === setName ? { ...s, packages: s.packages.map((p) => (p.engine === engine ? { ...p, args } : p)) } : s),
  );
  return { ...plan, buildSets };
}

describe.skipIf(skipNix)("generated build sets on nixpkgs stand-ins", () => {
  it("ROCm: llama.cpp gets rocmSupport and exactly gfx906 in a set whose ROCm scope is narrowed, made by re-importing nixpkgs", async () => {
    const got = await evalWith(
      rocmLlamaPlan(),
      `let set = pkgs.hwflake.rocm-gfx906; in {
        args = set.llama-cpp.args;
        clr = set.pkgs.rocmPackages.clr.localGpuTargets;
        config = { inherit (set.pkgs.config) rocmSupport cudaSupport; };
        # The set is a new nixpkgs import for the host's platforms, like NixOS's own import.
        importedWith = set.pkgs.importedWith;
        # Inside the set the change is global: packages taking targets from the scope see it.
        ollamaInSet = set.pkgs.ollama.args.rocmGpuTargets;
      }`,
    );
    expect(got).toEqual({
      args: expect.objectContaining({ rocmSupport: true, rocmGpuTargets: ["gfx906"], cudaSupport: false, blasSupport: false }),
      clr: ["gfx906"],
      config: { rocmSupport: true, cudaSupport: false },
      importedWith: { localSystem: expect.objectContaining({ system: "x86_64-linux" }), crossSystem: expect.objectContaining({ system: "x86_64-linux" }), system: null },
      ollamaInSet: ["gfx906"],
    });
  });

  it("CUDA: vLLM is built against the set's own torch, which the set's config makes a CUDA 8.6 torch", async () => {
    const got = await evalWith(
      cudaVllmPlan(),
      `let set = pkgs.hwflake.cuda-sm86; in {
        vllm = set.vllm.args;
        vllmEnv = set.vllm.env;
        torch = { inherit (set.vllm.torch) cudaSupport gpuTargetString; };
        config = { inherit (set.pkgs.config) cudaSupport cudaCapabilities cudaForwardCompat allowUnfree; };
        unfreeCuda = set.pkgs.config.allowUnfreePredicate set.pkgs.cudaUnfreeSample;
        unfreeOther = set.pkgs.config.allowUnfreePredicate set.pkgs.otherUnfreeSample;
        hostTorch = { inherit (pkgs.python3Packages.torch) cudaSupport gpuTargetString; };
        hostUnfree = pkgs.config ? allowUnfreePredicate;
      }`,
    );
    expect(got).toEqual({
      vllm: expect.objectContaining({ cudaSupport: true, gpuTargets: ["8.6"] }),
      vllmEnv: { VLLM_TARGET_DEVICE: "cuda" },
      torch: { cudaSupport: true, gpuTargetString: "8.6" },
      config: { cudaSupport: true, cudaCapabilities: ["8.6"], cudaForwardCompat: false, allowUnfree: false },
      // Only the licences the set names are allowed, and only inside the set.
      unfreeCuda: true,
      unfreeOther: false,
      hostTorch: { cudaSupport: false, gpuTargetString: "" },
      hostUnfree: false,
    });
  });

  it("CPU vLLM: env is merged into nixpkgs' env, not replacing it", async () => {
    const got = await evalWith(cpuVllmPlan(), "{ env = pkgs.hwflake.cpu.vllm.env; before = plain.python3Packages.vllm.env; }");
    expect(got).toEqual({
      env: { VLLM_TARGET_DEVICE: "cpu", VLLM_CPU_DISABLE_AVX512: "true" },
      before: { VLLM_TARGET_DEVICE: "cpu" },
    });
  });

  it("Ollama gets acceleration and targets; llama.cpp without an env of its own gets one", async () => {
    const got = await evalWith(
      ollamaPlan(),
      `{ ollama = pkgs.hwflake.rocm-gfx1100.ollama.args; ollamaEnv = pkgs.hwflake.rocm-gfx1100.ollama.env;
         cpu = pkgs.hwflake.cpu.llama-cpp.args.cpuArchDynamicDispatch; cpuEnv = pkgs.hwflake.cpu.llama-cpp.env; }`,
    );
    expect(got).toEqual({
      ollama: { acceleration: "rocm", rocmGpuTargets: ["gfx1100"], cudaArches: [] },
      ollamaEnv: { ROCM_PATH: "rocm-path" },
      cpu: true,
      cpuEnv: { GGML_EXTRA: "1" },
    });
  });

  describe.each(FIXTURES)("the host's own packages stay stock: %s", (_name, make) => {
    it("the overlay adds only `hwflake`, and every stock attribute evaluates to the same arguments", async () => {
      const got = await evalWith(
        make(),
        `let
          stock = p: {
            torch = p.python3Packages.torch.args;
            vllm = p.python3Packages.vllm.args;
            llama-cpp = p.llama-cpp.args;
            ollama = p.ollama.args;
            clr = p.rocmPackages.clr.localGpuTargets or null;
            config = p.config;
            extensions = builtins.length p.pythonPackagesExtensions;
          };
        in {
          added = lib.subtractLists (builtins.attrNames plain) (builtins.attrNames pkgs);
          removed = lib.subtractLists (builtins.attrNames pkgs) (builtins.attrNames plain);
          same = stock pkgs == stock plain;
        }`,
      );
      expect(got).toEqual({ added: ["hwflake"], removed: [], same: true });
    });
  });

  describe("a misspelled argument makes evaluation fail", () => {
    it.each([
      ["llama.cpp rocmGpuTarget", rocmLlamaPlan(), "rocm-gfx906", "llama-cpp", { rocmSupport: true, rocmGpuTarget: ["gfx906"] }, "rocmGpuTarget"],
      ["vLLM gpuTarget", cudaVllmPlan(), "cuda-sm86", "vllm", { cudaSupport: true, gpuTarget: ["8.6"] }, "gpuTarget"],
      ["Ollama accelerations", ollamaPlan(), "rocm-gfx1100", "ollama", { accelerations: "rocm" }, "accelerations"],
      ["vLLM with a torch-only argument", cpuVllmPlan(), "cpu", "vllm", { mklDnnSupport: false }, "mklDnnSupport"],
    ] as const)("%s", async (_name, plan, setName, engine, args, bad) => {
      const expr = await withSets(withArgs(plan, setName, engine, args), `builtins.attrNames pkgs.hwflake.${setName}.${engine}.args`);
      const err = nixEvalError(expr);
      expect(err).not.toBeNull();
      expect(err).toContain(`unexpected argument '${bad}'`);
    });

    it("the correctly spelled control case evaluates", async () => {
      const expr = await withSets(rocmLlamaPlan(), "builtins.attrNames pkgs.hwflake.rocm-gfx906.llama-cpp.args");
      expect(nixEvalError(expr)).toBeNull();
    });
  });
});
