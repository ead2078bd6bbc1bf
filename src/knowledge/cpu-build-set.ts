/** The CPU build set: nixpkgs' default configuration, changed only where this CPU needs it. */
import type { Profile } from "../profile/schema.js";
import type { Engine } from "../plan/types.js";
import { BUILD_COST } from "./build-cost.js";
import { SRC } from "./sources.js";
import type { BuildSetRecipe, PackageRecipe } from "./types.js";

/** True when vLLM's CPU build must be told not to emit AVX-512 (x86 without avx512f). */
export function vllmCpuNeedsAvx512Off(p: Profile): boolean {
  return p.system === "x86_64-linux" && !!p.cpu.flags && !p.cpu.flags.includes("avx512f");
}

/** The CPU build set for this host. Packages it leaves stock come from the binary cache. */
export function cpuBuildSet(p: Profile): BuildSetRecipe {
  const avx512Off = vllmCpuNeedsAvx512Off(p);
  const pkg = (engine: Engine): PackageRecipe => {
    if (engine === "llama-cpp")
      return {
        args: { cpuArchDynamicDispatch: true, cudaSupport: false, rocmSupport: false },
        env: {},
        reason:
          "nixpkgs' default llama.cpp: CPU code for every x86/Arm/POWER variant, chosen at start (GGML_CPU_ALL_VARIANTS), so the binary never executes an instruction this CPU lacks",
        sources: [SRC.nixpkgsLlamaCpp, SRC.ggmlAllVariants],
      };
    if (engine === "ollama")
      return {
        args: {},
        env: {},
        reason: "nixpkgs' default Ollama: with CUDA and ROCm off in this set's config it builds only its CPU runners",
        sources: [SRC.nixpkgsOllama],
      };
    return {
      args: { cudaSupport: false, rocmSupport: false },
      env: avx512Off ? { VLLM_CPU_DISABLE_AVX512: "true" } : {},
      reason:
        "CPU backend (VLLM_TARGET_DEVICE=cpu), with nixpkgs' default CPU torch" +
        (avx512Off
          ? '; VLLM_CPU_DISABLE_AVX512="true" because this CPU has no AVX-512: vLLM 0.5.1–0.16 pick the ISA from the build machine and would emit AVX-512 (the SIGILL of seed 001); 0.17+ ignore it and dispatch at run time'
          : ""),
      sources: [SRC.nixpkgsVllm, ...(avx512Off ? [SRC.vllmCpuCmakeOld, SRC.vllmCpuCmake, SRC.seedMi50] : [])],
    };
  };
  return {
    // The vLLM build differs on CPUs without AVX-512, so such hosts get a set of their own.
    name: avx512Off ? "cpu-no-avx512" : "cpu",
    config: {
      value: { cudaSupport: false, rocmSupport: false },
      reason: "CUDA and ROCm off, nixpkgs' defaults: the set's packages are the ones nixpkgs builds, whatever the host's own config says",
      sources: [SRC.nixpkgsConfig],
    },
    rocmGpuTargets: null,
    allowUnfreeLicenses: null,
    pkg,
    // Everything compiles on POWER (no binary cache); elsewhere only what the set changes.
    compiles: (engines) => [
      ...(p.system === "powerpc64le-linux" && engines.includes("llama-cpp") ? [{ ...BUILD_COST.llamaCppCpu }] : []),
      ...(engines.includes("vllm") && (avx512Off || p.system === "powerpc64le-linux") ? [BUILD_COST.vllmCpu] : []),
      ...(p.system === "powerpc64le-linux" && engines.includes("vllm") ? [BUILD_COST.torchCpu] : []),
    ],
    cache: {
      text:
        p.system === "powerpc64le-linux"
          ? "there is no public binary cache for powerpc64le-linux: everything in this set, down to the compiler, compiles from source on your builder"
          : "packages the set leaves as nixpkgs builds them come from cache.nixos.org for a nixpkgs revision Hydra built",
      sources: [SRC.nixpkgsNoPpc64Cache],
    },
  };
}
