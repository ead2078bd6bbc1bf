/** NVIDIA GPUs (CUDA), keyed by compute capability. */
import type { Accelerator } from "../../profile/schema.js";
import type { Engine } from "../../plan/types.js";
import { BUILD_COST } from "../build-cost.js";
import { SRC } from "../sources.js";
import { verdict, type AcceleratorFamily, type BuildSetRecipe, type PackageRecipe } from "../types.js";

type NvidiaGpu = Extract<Accelerator, { vendor: "nvidia" }>;

/** Compute capabilities accepted in profiles (Maxwell 5.0 … Blackwell 12.1, with a/f variants). */
export const KNOWN_CUDA_CAPABILITIES: readonly string[] = [
  "5.0", "5.2", "5.3", "6.0", "6.1", "6.2", "7.0", "7.2", "7.5", "8.0", "8.6", "8.7", "8.9",
  "9.0", "9.0a", "10.0", "10.0a", "10.0f", "10.1", "10.1a", "10.3", "10.3a", "11.0", "11.0a",
  "12.0", "12.0a", "12.0f", "12.1", "12.1a",
];

/** Numeric major.minor of a capability string ("9.0a" → 9.0). */
export function capabilityNumber(cap: string): number {
  return Number.parseFloat(cap);
}


/**
 * The unfree licences (nixpkgs shortNames) of NVIDIA's CUDA packages: the names nixpkgs'
 * own `_cuda.lib.allowUnfreeCudaPredicate` accepts (lib.licenses.nvidiaCuda plus
 * `_cuda.lib.licenses`), so a CUDA set may use CUDA and nothing else unfree.
 */
export const CUDA_UNFREE_LICENSES: readonly string[] = [
  "CUDA EULA", "NVIDIA Math SDK SLA", "TensorRT EULA", "cuDNN EULA", "cuSPARSELt EULA", "cuTENSOR EULA",
];

/** `sm_89`-style real architecture of a capability ("8.9" → "sm_89", "9.0a" → "sm_90a"). */
export function smArch(cap: string): string {
  return `sm_${cap.replace(".", "")}`;
}

/** The CUDA build set for these capabilities, as nixpkgs' pkgsForCudaArch.sm_XX makes it. */
function cudaBuildSet(caps: readonly string[]): BuildSetRecipe {
  const sorted = [...caps].sort((a, b) => capabilityNumber(a) - capabilityNumber(b) || (a < b ? -1 : 1));
  const list = sorted.join(", ");
  const dispatch =
    "CPU code for every x86/Arm/POWER variant, chosen at start (GGML_CPU_ALL_VARIANTS), so the binary never executes an instruction this CPU lacks";
  return {
    name: `cuda-${sorted.map((c) => smArch(c).replace("_", "")).join("-")}`,
    config: {
      value: { cudaCapabilities: sorted, cudaForwardCompat: false, cudaSupport: true, rocmSupport: false },
      reason: `CUDA code for capability ${list} only, without forward-compatible PTX, for every package of this set, as nixpkgs' pkgsForCudaArch does (the CUDA manual asks for one consistent CUDA configuration per package set); the host's own packages and config stay as they are`,
      sources: [SRC.nixpkgsVariants, SRC.nixpkgsCudaConfig],
    },
    rocmGpuTargets: null,
    allowUnfreeLicenses: {
      value: CUDA_UNFREE_LICENSES,
      reason: "the CUDA toolkit and libraries are unfree: this set, and nothing else, may use packages under NVIDIA's CUDA licences",
      sources: [SRC.nixpkgsCudaUnfree],
    },
    pkg(engine): PackageRecipe {
      if (engine === "llama-cpp")
        return {
          args: { cpuArchDynamicDispatch: true, cudaSupport: true, rocmSupport: false },
          env: {},
          reason: `CUDA for capability ${list} (from the set's cudaCapabilities); ${dispatch}`,
          sources: [SRC.nixpkgsLlamaCpp, SRC.ggmlAllVariants],
        };
      if (engine === "ollama")
        return {
          args: { acceleration: "cuda", cudaArches: sorted.map(smArch) },
          env: {},
          reason: `CUDA runners for ${sorted.map(smArch).join(", ")} only`,
          sources: [SRC.nixpkgsOllama],
        };
      return {
        args: { cudaSupport: true, gpuTargets: sorted, rocmSupport: false },
        env: {},
        reason: `CUDA kernels for ${list} only; vLLM follows its torch, and this set's torch is built for CUDA ${list} from the set's config`,
        sources: [SRC.nixpkgsVllm, SRC.nixpkgsTorch],
      };
    },
    compiles(engines) {
      return [
        ...(engines.includes("llama-cpp") ? [BUILD_COST.llamaCppCuda] : []),
        ...(engines.includes("ollama") ? [BUILD_COST.ollamaCuda] : []),
        ...(engines.includes("vllm") ? [BUILD_COST.torchCuda, BUILD_COST.vllmCuda] : []),
      ];
    },
    cache: {
      text: "CUDA is unfree, so cache.nixos.org has no CUDA builds; the community CUDA cache holds nixpkgs' default capabilities only, so builds narrowed to these are in no public cache",
      sources: [SRC.nixpkgsNoUnfreeCache, SRC.nixosCudaCache],
    },
  };
}

/** NVIDIA GPU knowledge. */
export const nvidiaGpu: AcceleratorFamily<NvidiaGpu> = {
  matches: (a): a is NvidiaGpu => a.kind === "gpu" && a.vendor === "nvidia",
  label: "NVIDIA GPU",
  backend: "cuda",
  knownArchs: KNOWN_CUDA_CAPABILITIES,
  support(acc, engine: Engine) {
    const cc = capabilityNumber(acc.arch);
    if (engine === "vllm") {
      if (cc >= 7.5) return verdict("supported", `vLLM's CUDA kernels cover compute capability ${acc.arch} (7.5 or higher)`, SRC.vllmCudaArchs);
      if (cc >= 7.0)
        return verdict(
          "unsupported",
          `vLLM dropped compute capability ${acc.arch} from builds with CUDA 12.8 and later, which nixpkgs uses`,
          SRC.vllmCudaArchs, SRC.nixpkgsCudaConfig,
        );
      return verdict("unsupported", `vLLM needs compute capability 7.5 or higher; this GPU has ${acc.arch}`, SRC.vllmCudaArchs);
    }
    if (engine === "ollama") {
      return cc >= 5.0
        ? verdict("supported", `Ollama supports compute capability 5.0 and up`, SRC.ollamaGpuDocs)
        : verdict("unsupported", `Ollama needs compute capability 5.0 or higher`, SRC.ollamaGpuDocs);
    }
    if (cc < 7.5)
      return verdict(
        "experimental",
        `nixpkgs' default CUDA no longer targets compute capability ${acc.arch} by default (Pascal/Volta are dropped from CUDA 13); llama.cpp itself still supports it`,
        SRC.nixpkgsCudaConfig,
      );
    return verdict("supported", `llama.cpp's CUDA backend builds for compute capability ${acc.arch}`, SRC.nixpkgsLlamaCpp);
  },
  buildTarget: (acc) => acc.arch,
  buildSet: cudaBuildSet,
  pinning(accs, all, engine) {
    const warnings: string[] = [];
    const indexOf = (a: NvidiaGpu) => {
      if (a.index !== undefined) return a.index;
      const i = all.indexOf(a);
      warnings.push(`accelerators "${a.id}" has no index: assuming nvidia-smi index ${i} from its position in the profile`);
      return i;
    };
    // vLLM int()-parses CUDA_VISIBLE_DEVICES, so it only ever gets indices.
    const useUuid = engine !== "vllm" && accs.every((a) => a.uuid);
    const ids = accs.map((a) => (useUuid ? a.uuid! : String(indexOf(a))));
    return {
      env: { CUDA_DEVICE_ORDER: "PCI_BUS_ID", CUDA_VISIBLE_DEVICES: ids.join(",") },
      reason: useUuid
        ? "CUDA_VISIBLE_DEVICES by UUID, which survives reordering"
        : engine === "vllm"
          ? "vLLM rejects UUIDs in CUDA_VISIBLE_DEVICES, so the pin is the nvidia-smi index; CUDA_DEVICE_ORDER=PCI_BUS_ID makes CUDA count in the same order as nvidia-smi"
          : "no UUID in the profile: pinned by nvidia-smi index with CUDA_DEVICE_ORDER=PCI_BUS_ID",
      sources: [SRC.cudaVisible, ...(engine === "vllm" ? [SRC.vllmUuid] : [])],
      warnings,
    };
  },
  engineArgs(accs, engine) {
    if (engine !== "vllm") return null;
    const args: string[] = [];
    const why: string[] = [];
    if (accs.some((a) => capabilityNumber(a.arch) < 8.0)) {
      args.push("--dtype", "half");
      why.push("bfloat16 needs compute capability 8.0, so weights run in float16");
    }
    if (accs.length > 1) {
      args.push("--tensor-parallel-size", String(accs.length));
      why.push(`split the model over the ${accs.length} GPUs it is pinned to`);
    }
    return args.length ? { args, reason: why.join("; "), sources: [SRC.vllmBf16, SRC.vllmServeArgs] } : null;
  },
};
