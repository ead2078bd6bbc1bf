/** AMD GPUs (ROCm), keyed by LLVM gfx target. */
import type { Accelerator } from "../../profile/schema.js";
import type { Engine } from "../../plan/types.js";
import { BUILD_COST } from "../build-cost.js";
import { SRC } from "../sources.js";
import { verdict, type AcceleratorFamily, type BuildSetRecipe, type PackageRecipe, type Verdict } from "../types.js";

type AmdGpu = Extract<Accelerator, { vendor: "amd" }>;

/** gfx targets nixpkgs' ROCm (clr 7.1.1) builds libraries for; localGpuTargets must come from here. */
export const CLR_GPU_TARGETS = [
  "gfx900", "gfx906", "gfx908", "gfx90a", "gfx942", "gfx1010", "gfx1030",
  "gfx1100", "gfx1101", "gfx1102", "gfx1150", "gfx1151", "gfx1200", "gfx1201",
] as const;

/** vLLM's HIP_SUPPORTED_ARCHS (the CMake list; wider than what actually runs). */
const VLLM_HIP_ARCHS = new Set([
  "gfx906", "gfx908", "gfx90a", "gfx942", "gfx950", "gfx1030", "gfx1100", "gfx1101", "gfx1102",
  "gfx1103", "gfx1150", "gfx1151", "gfx1152", "gfx1153", "gfx1200", "gfx1201",
]);
/** Archs vLLM's ROCm install docs list as supported. */
const VLLM_DOCUMENTED = new Set(["gfx90a", "gfx942", "gfx950", "gfx1100", "gfx1101", "gfx1150", "gfx1151", "gfx1200", "gfx1201"]);
/** Archs Ollama's docs list for ROCm. */
const OLLAMA_ROCM = new Set([
  "gfx908", "gfx90a", "gfx942", "gfx950", "gfx1030", "gfx1100", "gfx1101", "gfx1102", "gfx1150", "gfx1151", "gfx1200", "gfx1201",
]);

/**
 * Archs nixpkgs' ROCm does not build for but that run code built for a sibling target when
 * HSA_OVERRIDE_GFX_VERSION says so (RDNA2 → gfx1030 = 10.3.0, RDNA3 APU → gfx1100 = 11.0.0).
 */
const SIBLING: Record<string, { target: string; hsa: string }> = {
  gfx1031: { target: "gfx1030", hsa: "10.3.0" },
  gfx1032: { target: "gfx1030", hsa: "10.3.0" },
  gfx1033: { target: "gfx1030", hsa: "10.3.0" },
  gfx1034: { target: "gfx1030", hsa: "10.3.0" },
  gfx1035: { target: "gfx1030", hsa: "10.3.0" },
  gfx1036: { target: "gfx1030", hsa: "10.3.0" },
  gfx1103: { target: "gfx1100", hsa: "11.0.0" },
};

/** Every gfx target hwflake accepts in a profile. */
export const KNOWN_AMD_ARCHS: readonly string[] = [
  ...new Set([...CLR_GPU_TARGETS, ...VLLM_HIP_ARCHS, ...Object.keys(SIBLING), "gfx902", "gfx90c", "gfx940", "gfx941", "gfx1011", "gfx1012"]),
].sort();


function vllmVerdict(arch: string): Verdict {
  if (arch === "gfx906")
    return verdict(
      "unsupported",
      "vLLM's CMake lists gfx906, but ROCm Triton has no Vega 20 (gfx906) backend, and vLLM's attention and fused kernels need Triton: the build succeeds and model loading then fails",
      SRC.vllmGfx906Triton, SRC.vllmHipArchs, SRC.seedMi50,
    );
  if (arch === "gfx1102" || arch === "gfx1103")
    return verdict(
      "experimental",
      `${arch} was added to vLLM by PR #40037 after 0.19.0 (the version nixpkgs packages); it is not in vLLM's documented support list, so it needs a newer vLLM and is untested upstream`,
      SRC.vllmGfx1102, SRC.vllmRocmDocs, SRC.nixpkgsVllm,
    );
  if (VLLM_DOCUMENTED.has(arch)) return verdict("supported", `${arch} is on vLLM's documented ROCm support list`, SRC.vllmRocmDocs);
  if (VLLM_HIP_ARCHS.has(arch))
    return verdict(
      "experimental",
      `${arch} is in vLLM's HIP_SUPPORTED_ARCHS but not on its documented support list`,
      SRC.vllmHipArchs, SRC.vllmRocmDocs, ...(arch === "gfx908" ? [SRC.nixpkgsVllmRocmFix] : []),
    );
  return verdict("unsupported", `${arch} is not in vLLM's HIP_SUPPORTED_ARCHS; the CMake configure step rejects it`, SRC.vllmHipArchs);
}

function llamaCppVerdict(arch: string): Verdict {
  if ((CLR_GPU_TARGETS as readonly string[]).includes(arch))
    return verdict(
      "supported",
      arch === "gfx906"
        ? "llama.cpp's HIP backend runs on gfx906 (MI50/MI60, Radeon VII)"
        : `llama.cpp's HIP backend builds for ${arch}, and nixpkgs' ROCm builds its libraries for it`,
      SRC.llamaCppHip, ...(arch === "gfx906" ? [SRC.llamaCppGfx906] : []), SRC.nixpkgsClr,
    );
  const sib = SIBLING[arch];
  if (sib)
    return verdict(
      "supported",
      `built for ${sib.target} and run with HSA_OVERRIDE_GFX_VERSION=${sib.hsa}, since nixpkgs' ROCm has no ${arch} libraries`,
      SRC.llamaCppHip, SRC.nixpkgsClr,
    );
  return verdict("unsupported", `nixpkgs' ROCm builds no libraries for ${arch}`, SRC.nixpkgsClr);
}

function ollamaVerdict(arch: string): Verdict {
  if (arch === "gfx906" || arch === "gfx900")
    return verdict("unsupported", `Ollama blocks ${arch} on ROCm since v0.12.4 (rocBLAS has no kernels for it in ROCm 7)`, SRC.ollamaGfx906, SRC.ollamaGpuDocs);
  if (OLLAMA_ROCM.has(arch)) return verdict("supported", `${arch} is on Ollama's ROCm support list`, SRC.ollamaGpuDocs);
  return verdict("unsupported", `${arch} is not on Ollama's ROCm support list`, SRC.ollamaGpuDocs);
}

/** The ROCm build set for these gfx targets: nixpkgs' pkgsRocm config with the ROCm scope narrowed. */
function rocmBuildSet(targets: readonly string[]): BuildSetRecipe {
  const list = targets.join(", ");
  const dispatch =
    "CPU code for every x86/Arm/POWER variant, chosen at start (GGML_CPU_ALL_VARIANTS), so the binary never executes an instruction this CPU lacks";
  return {
    name: `rocm-${targets.join("-")}`,
    config: {
      value: { cudaSupport: false, rocmSupport: true },
      reason: "ROCm on and CUDA off for every package of this set, as nixpkgs' pkgsRocm does; the host's own packages and config stay as they are",
      sources: [SRC.nixpkgsVariants],
    },
    rocmGpuTargets: {
      value: [...targets],
      reason: `the set's ROCm libraries (rocBLAS, MIOpen, …) and its torch are built for ${list} only instead of all 14 targets clr knows`,
      sources: [SRC.nixpkgsRocmScope, SRC.nixpkgsClr, ...(targets.includes("gfx906") ? [SRC.nixpkgsCkGfx906] : [])],
    },
    allowUnfreeLicenses: null,
    pkg(engine): PackageRecipe {
      if (engine === "llama-cpp")
        return {
          args: { cpuArchDynamicDispatch: true, cudaSupport: false, rocmGpuTargets: [...targets], rocmSupport: true },
          env: {},
          reason: `HIP kernels for ${list} only; ${dispatch}`,
          sources: [SRC.nixpkgsLlamaCpp, SRC.ggmlAllVariants, SRC.llamaCppHip],
        };
      if (engine === "ollama")
        return {
          args: { acceleration: "rocm", rocmGpuTargets: [...targets] },
          env: {},
          reason: `ROCm runners for ${list} only`,
          sources: [SRC.nixpkgsOllama],
        };
      return {
        args: { cudaSupport: false, gpuTargets: [...targets], rocmSupport: true },
        env: {},
        reason: `ROCm kernels for ${list} only; vLLM follows its torch, and this set's torch is built for ROCm ${list} from the set's config and ROCm scope`,
        sources: [SRC.nixpkgsVllm, SRC.nixpkgsTorch],
      };
    },
    compiles(engines) {
      if (engines.length === 0) return [];
      return [
        { ...BUILD_COST.rocmMathLibs, what: `ROCm math libraries for ${list} (rocBLAS, hipBLASLt, …)` },
        ...(engines.includes("llama-cpp") ? [BUILD_COST.llamaCppRocm] : []),
        ...(engines.includes("ollama") ? [BUILD_COST.ollamaRocm] : []),
        ...(engines.includes("vllm")
          ? [{ ...BUILD_COST.rocmTorchLibs, what: `ROCm libraries torch needs, for ${list} (MIOpen, composable_kernel, magma, …)` }, BUILD_COST.torchRocm, BUILD_COST.vllmRocm]
          : []),
      ];
    },
    cache: {
      text: `cache.nixos.org serves nixpkgs' ROCm packages (x86_64-linux) built for clr's default targets; builds narrowed to ${list} are in no public cache`,
      sources: [SRC.nixpkgsRocmHydra],
    },
  };
}

/** AMD GPU knowledge. */
export const amdGpu: AcceleratorFamily<AmdGpu> = {
  matches: (a): a is AmdGpu => a.kind === "gpu" && a.vendor === "amd",
  label: "AMD GPU",
  backend: "rocm",
  knownArchs: KNOWN_AMD_ARCHS,
  support(acc, engine: Engine) {
    if (engine === "vllm") return vllmVerdict(acc.arch);
    if (engine === "llama-cpp") return llamaCppVerdict(acc.arch);
    return ollamaVerdict(acc.arch);
  },
  buildTarget: (acc) => SIBLING[acc.arch]?.target ?? acc.arch,
  buildSet: rocmBuildSet,
  pinning(accs, all) {
    const warnings: string[] = [];
    const ids = accs.map((a) => {
      if (a.uuid) return a.uuid;
      const index = a.index ?? all.indexOf(a);
      warnings.push(`accelerators "${a.id}" has no uuid: pinned by ROCm index ${index}, which can change when devices are added or reordered; add the uuid rocminfo prints`);
      return String(index);
    });
    const env: Record<string, string> = { ROCR_VISIBLE_DEVICES: ids.join(",") };
    const overrides = [...new Set(accs.map((a) => SIBLING[a.arch]?.hsa).filter((x): x is string => !!x))];
    if (overrides.length === 1) env.HSA_OVERRIDE_GFX_VERSION = overrides[0]!;
    return {
      env,
      reason:
        "ROCR_VISIBLE_DEVICES is the ROCm runtime's own filter and takes UUIDs, so the pin survives reordering; HIP/CUDA_VISIBLE_DEVICES are left unset because vLLM parses them as integers" +
        (overrides.length === 1 ? `; HSA_OVERRIDE_GFX_VERSION=${overrides[0]} runs the sibling target's code` : ""),
      sources: [SRC.rocrVisible, SRC.vllmUuid, ...(overrides.length ? [SRC.llamaCppHip] : [])],
      warnings,
    };
  },
  engineArgs(accs, engine) {
    if (engine === "vllm" && accs.length > 1)
      return {
        args: ["--tensor-parallel-size", String(accs.length)],
        reason: `split the model over the ${accs.length} GPUs it is pinned to`,
        sources: [SRC.vllmServeArgs],
      };
    return null;
  },
};
