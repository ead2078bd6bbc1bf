/**
 * Hand-built Plans for the render, overlay and write tests.
 *
 * Each builder returns a complete Plan for one scenario; `withOverrides` lets a test change a
 * single field (a model name, a misspelled override argument) without restating the rest.
 */
import type { Instance, PackageBuild, Plan, Source } from "../../src/plan/types.js";

const src = (ref: string): Source => ({ ref });

/** Fields shared by every fixture plan. */
function basePlan(host: string): Omit<Plan, "instances" | "packages" | "shared" | "findings"> {
  return {
    version: 1,
    host,
    system: "x86_64-linux",
    cpu: { x86Level: 3, gccArch: "znver2", relevantFlags: ["avx2", "fma"] },
    refused: false,
  };
}

function instance(over: Partial<Instance> & Pick<Instance, "name" | "engine" | "package" | "model">): Instance {
  return {
    on: [],
    backend: "cpu",
    listen: "127.0.0.1",
    port: 8080,
    apiKeyFile: null,
    environment: {},
    extraArgs: [],
    gpuVendor: null,
    engineDecision: { value: over.engine, reason: `${over.engine} fits this device`, sources: [src("seed: engines")] },
    pinning: null,
    ...over,
  };
}

/** llama.cpp on one MI50 (gfx906) with the ROCm scope narrowed to gfx906. */
export function rocmLlamaPlan(): Plan {
  const pkg: PackageBuild = {
    name: "llama-cpp-rocm",
    base: "llama-cpp",
    engine: "llama-cpp",
    backend: "rocm",
    args: { rocmSupport: true, rocmGpuTargets: ["gfx906"] },
    env: {},
    reason: "vLLM does not support gfx906; llama.cpp's HIP backend does",
    sources: [src("NixOS/nixpkgs pkgs/by-name/ll/llama-cpp/package.nix (rocmGpuTargets)")],
  };
  return {
    ...basePlan("mi50box"),
    instances: [
      instance({
        name: "chat",
        engine: "llama-cpp",
        package: "llama-cpp-rocm",
        backend: "rocm",
        on: ["gpu0"],
        gpuVendor: "amd",
        model: { kind: "gguf-file", path: "/srv/models/qwen2.5-7b-q4_k_m.gguf" },
        environment: { ROCR_VISIBLE_DEVICES: "GPU-0e54792172da5eeb", HIP_VISIBLE_DEVICES: "0" },
        extraArgs: ["--n-gpu-layers", "999"],
        apiKeyFile: "/run/secrets/llm-key",
      }),
    ],
    packages: [pkg],
    shared: {
      torch: null,
      rocmLocalGpuTargets: {
        value: ["gfx906"],
        reason: "Build ROCm libraries for the installed GPU only: gfx906",
        sources: [src("NixOS/nixpkgs pkgs/development/rocm-modules/default.nix (scopeForArches)")],
      },
      nixpkgsConfig: null,
    },
    findings: [
      {
        code: "ROCM_GFX906_DEPRECATED",
        severity: "warning",
        subject: "accelerators[0]",
        message: "gfx906 is in maintenance mode in ROCm | may drop soon",
        fix: "Plan for a newer GPU",
        source: "ROCm release notes",
      },
    ],
  };
}

/** vLLM on an RTX 3090 (8.6) with torch overridden and CUDA switched on in nixpkgs config. */
export function cudaVllmPlan(): Plan {
  const pkg: PackageBuild = {
    name: "vllm-cuda",
    base: "python3Packages.vllm",
    engine: "vllm",
    backend: "cuda",
    args: { cudaSupport: true, gpuTargets: ["8.6"] },
    env: {},
    reason: "NVIDIA 8.6 is supported by vLLM's CUDA kernels",
    sources: [src("NixOS/nixpkgs pkgs/development/python-modules/vllm/default.nix @ 00fa62a8")],
  };
  return {
    ...basePlan("rtxbox"),
    instances: [
      instance({
        name: "coder",
        engine: "vllm",
        package: "vllm-cuda",
        backend: "cuda",
        on: ["gpu0"],
        gpuVendor: "nvidia",
        port: 8000,
        model: { kind: "hf", id: "Qwen/Qwen2.5-Coder-7B-Instruct" },
        environment: { CUDA_VISIBLE_DEVICES: "GPU-12345678-1234-1234-1234-123456789abc" },
        extraArgs: ["--dtype", "bfloat16"],
      }),
    ],
    packages: [pkg],
    shared: {
      torch: {
        value: { cudaSupport: true, gpuTargets: ["8.6"] },
        reason: "torch must be built for CUDA 8.6 so vLLM's kernels match it",
        sources: [src("NixOS/nixpkgs pkgs/development/python-modules/torch/source/default.nix @ 7dec1fd5")],
      },
      rocmLocalGpuTargets: null,
      nixpkgsConfig: {
        value: { allowUnfree: true, cudaSupport: true, cudaCapabilities: ["8.6"] },
        reason: "CUDA packages are unfree; build only for capability 8.6",
        sources: [src("NixOS/nixpkgs pkgs/top-level/config.nix @ 032eb1b3")],
      },
    },
    findings: [],
  };
}

/** vLLM on an AVX2-only CPU: the AVX512 path is switched off at build time. */
export function cpuVllmPlan(): Plan {
  const pkg: PackageBuild = {
    name: "vllm-cpu",
    base: "python3Packages.vllm",
    engine: "vllm",
    backend: "cpu",
    args: { cudaSupport: false, rocmSupport: false },
    env: { VLLM_CPU_DISABLE_AVX512: "true" },
    reason: "The CPU has AVX2 but no AVX512",
    sources: [src("vllm-project/vllm cmake/cpu_extension.cmake @ 02045094")],
  };
  return {
    ...basePlan("cpubox"),
    instances: [
      instance({
        name: "small",
        engine: "vllm",
        package: "vllm-cpu",
        port: 8001,
        model: { kind: "hf", id: "Qwen/Qwen2.5-0.5B-Instruct" },
        environment: { VLLM_CPU_KVCACHE_SPACE: "4" },
      }),
    ],
    packages: [pkg],
    shared: { torch: null, rocmLocalGpuTargets: null, nixpkgsConfig: null },
    findings: [
      {
        code: "CPU_NO_AVX512",
        severity: "info",
        subject: "cpu.flags",
        message: "No AVX512: the vLLM CPU build uses the AVX2 path",
        source: "vllm-project/vllm#18660",
      },
    ],
  };
}

/** Ollama on ROCm plus a llama.cpp GGUF repo instance on the CPU. */
export function ollamaPlan(): Plan {
  const packages: PackageBuild[] = [
    {
      name: "ollama-rocm",
      base: "ollama",
      engine: "ollama",
      backend: "rocm",
      args: { acceleration: "rocm", rocmGpuTargets: ["gfx1100"] },
      env: {},
      reason: "Ollama runs GGUF models on RDNA3",
      sources: [src("NixOS/nixpkgs pkgs/by-name/ol/ollama/package.nix @ 0145c6da")],
    },
    {
      name: "llama-cpp-cpu",
      base: "llama-cpp",
      engine: "llama-cpp",
      backend: "cpu",
      args: { cpuArchDynamicDispatch: true },
      env: { GGML_EXTRA: "1" },
      reason: "CPU fallback with runtime ISA dispatch",
      sources: [],
    },
  ];
  return {
    ...basePlan("desk"),
    instances: [
      instance({
        name: "ollama",
        engine: "ollama",
        package: "ollama-rocm",
        backend: "rocm",
        on: ["gpu0"],
        gpuVendor: "amd",
        port: 11434,
        model: { kind: "ollama", tag: "qwen2.5:7b" },
      }),
      instance({
        name: "cpu-chat",
        engine: "llama-cpp",
        package: "llama-cpp-cpu",
        port: 8081,
        model: { kind: "gguf-repo", repo: "Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M" },
      }),
    ],
    packages,
    shared: { torch: null, rocmLocalGpuTargets: null, nixpkgsConfig: null },
    findings: [],
  };
}

/** Every fixture, by name, for table-driven tests. */
export const FIXTURES: ReadonlyArray<readonly [string, () => Plan]> = [
  ["rocm llama.cpp", rocmLlamaPlan],
  ["cuda vLLM", cudaVllmPlan],
  ["cpu vLLM", cpuVllmPlan],
  ["ollama + llama.cpp cpu", ollamaPlan],
];

/** Render options with fixed URLs so output does not depend on the caller. */
export const RENDER_OPTS = { hwflakeUrl: "github:example/hwflake", nixpkgsUrl: "github:NixOS/nixpkgs/nixos-unstable" };
