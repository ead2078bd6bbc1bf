/**
 * What heavy derivations cost to compile from source: recorded data points with their
 * sources, for the build-cost forecast. Figures are rough ranges on the builders the sources
 * describe (`assumes`); where no source gives a figure the item says so (`hours: null`)
 * instead of guessing.
 */
import type { Forecast, ForecastItem, Source } from "../plan/types.js";

const s = (ref: string, note: string): Source => ({ ref, note });

/** Citations for build-time and disk figures (see the forecast section of the README). */
export const COST_SRC = {
  seed001: s("seed 001 (MI50 desktop), \"Build Time Expectations\"", "torch (ROCm) 2-6 hours, ~50GB; vllm (ROCm) 30-60 minutes, ~10GB (estimates)"),
  torchRocmCi: s("pytorch/pytorch#162601", "ROCm wheel builds at 3.8 h on upstream CI, over the 4 h cap with new sources"),
  torchCpuCi: s("pytorch/pytorch#124667", "\"CPU builds have been pretty fast (30 mins)\" on upstream CI"),
  torchCudaCi: s("pytorch/pytorch#124667; pytorch/pytorch#120913", "CUDA build step ~30 min → ~2.5 h; then 2.4 h → 3+ h on a 12-core machine"),
  torchCudaNix: s("NixOS/nixpkgs#555389", "torch with cudaCapabilities [ \"12.0\" ]: not cached, \"a full local build that takes several hours even with high parallelism\"; 7 derivations incl. magma, gdrcopy, nccl, ucc"),
  vllmRocmDocs: s(
    "vllm-project/vllm docs/getting_started/installation/gpu.rocm.inc.md @ b4ae92e3",
    "PYTORCH_ROCM_ARCH for a single architecture: \"This may take 5-10 minutes.\"",
  ),
  vllmCudaNix: s("NixOS/nixpkgs#379715", "\"over 60 GB of RAM and 35 minutes to build for a single CUDA architecture\" on a 16-core aarch64 server"),
  vllmCudaDocs: s("vllm-project/vllm docs/getting_started/installation/gpu.cuda.inc.md @ 8744bb09", "GH200, max_jobs=66: ~15 GB RAM, ~25 min"),
  vllmCudaUsers: s("vllm-project/vllm#14452", "MAX_JOBS=4 on a 64 GB machine: roughly 3 to 4 hours"),
  rocblasNarrowed: s("spack/spack#25778", "narrowing rocBLAS' GPU targets reduced its build from 2 h to 26 min"),
  hipblasltOneTarget: s("ROCm/composable_kernel#3362", "building hipBLASLt for gfx90a takes an extra hour and about 35 GB of disk"),
  rocmPerArchLinear: s("spack/spack#31450", "the build time cost of each architecture is basically linear"),
  rocmTorchLibs: s("pytorch/builder#1286", "ROCm 5.2 image: install_rocm_magma.sh 71 min, install_miopen.sh 67 min"),
  ckNarrowed: s("NixOS/nixpkgs#298388", "composable_kernel library 3.7 GB for 9 targets, 1.9 GB for 3; build times much lower"),
  llamaCppNarrowing: s("NixOS/nixpkgs#435263", "overriding llama.cpp's ROCm targets \"significantly reduce[s] build time\"; no figure given"),
} as const satisfies Record<string, Source>;

const item = (what: string, hours: [number, number] | null, diskGB: number | null, assumes: string, ...sources: Source[]): ForecastItem => ({
  what,
  hours,
  diskGB,
  assumes,
  sources,
});

const NO_FIGURE = "no recorded build time found; it compiles, so expect minutes to hours on your builder";

/** Recorded build costs, by derivation and backend. */
export const BUILD_COST = {
  rocmMathLibs: item(
    "ROCm math libraries (rocBLAS, hipBLASLt, …)",
    [1.5, 3],
    35,
    "one gfx target; rocBLAS 26 min once narrowed, hipBLASLt about an hour and 35 GB for one target (cost grows linearly with targets)",
    COST_SRC.rocblasNarrowed, COST_SRC.hipblasltOneTarget, COST_SRC.rocmPerArchLinear,
  ),
  rocmTorchLibs: item(
    "ROCm libraries torch needs (MIOpen, composable_kernel, magma, …)",
    [2, 4],
    null,
    "MIOpen 67 min and magma 71 min in an upstream image build; composable_kernel shrinks with fewer targets",
    COST_SRC.rocmTorchLibs, COST_SRC.ckNarrowed,
  ),
  torchRocm: item(
    "torch (ROCm)",
    [2, 6],
    50,
    "seed 001's estimate for its 12-core desktop; upstream CI's all-target ROCm build takes 3.8 h",
    COST_SRC.seed001, COST_SRC.torchRocmCi,
  ),
  vllmRocm: item(
    "vLLM (ROCm)",
    [0.1, 1],
    10,
    "5–10 min for one target per vLLM's docs; 30–60 min in seed 001's estimate for a 12-core desktop",
    COST_SRC.vllmRocmDocs, COST_SRC.seed001,
  ),
  torchCuda: item(
    "torch (CUDA) with magma, NCCL, gdrcopy and UCC",
    [2.5, 6],
    null,
    "upstream CI builders (12 cores): 2.5 to 3+ h; nixpkgs users report several hours even with high parallelism; 32 GB of RAM can run out",
    COST_SRC.torchCudaCi, COST_SRC.torchCudaNix,
  ),
  vllmCuda: item(
    "vLLM (CUDA)",
    [0.5, 4],
    null,
    "one CUDA architecture: 25–35 min on 16–72-core servers with 60 GB of RAM or more; 3–4 h with 4 jobs on a 64 GB machine (nixpkgs runs as many jobs as NIX_BUILD_CORES)",
    COST_SRC.vllmCudaNix, COST_SRC.vllmCudaDocs, COST_SRC.vllmCudaUsers,
  ),
  llamaCppRocm: item("llama.cpp (HIP)", null, null, NO_FIGURE, COST_SRC.llamaCppNarrowing),
  llamaCppCuda: item("llama.cpp (CUDA)", null, null, NO_FIGURE),
  ollamaRocm: item("Ollama (ROCm runner)", null, null, NO_FIGURE),
  ollamaCuda: item("Ollama (CUDA runner)", null, null, NO_FIGURE),
  vllmCpu: item("vLLM (CPU)", null, null, NO_FIGURE),
  llamaCppCpu: item("llama.cpp (CPU)", null, null, NO_FIGURE),
  torchCpu: item("torch (CPU)", [0.5, 0.5], null, "upstream CI's CPU-only build (cores not stated)", COST_SRC.torchCpuCi),
} as const satisfies Record<string, ForecastItem>;

/** A forecast from the items that compile; `cache` says where the rest comes from. */
export function forecastOf(compiles: readonly ForecastItem[], cache: { readonly text: string; readonly sources: readonly Source[] }): Forecast {
  const hours: [number, number] = [0, 0];
  let diskGB = 0;
  for (const c of compiles) {
    if (c.hours) {
      hours[0] += c.hours[0];
      hours[1] += c.hours[1];
    }
    diskGB += c.diskGB ?? 0;
  }
  const round = (h: number) => Math.round(h * 100) / 100;
  return {
    compiles,
    hours: [round(hours[0]), round(hours[1])],
    diskGB,
    unmeasured: compiles.filter((c) => c.hours === null).map((c) => c.what),
    cache: cache.text,
    cacheSources: cache.sources,
  };
}
