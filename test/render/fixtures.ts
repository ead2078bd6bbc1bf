/**
 * Hand-built Plans for the render, overlay and write tests.
 *
 * Each builder returns a complete Plan for one scenario; `withOverrides` lets a test change a
 * single field (a model name, a misspelled override argument) without restating the rest.
 */
import type { BuildSet, Instance, PackageBuild, Plan, Source } from "../../src/plan/types.js";

const src = (ref: string): Source => ({ ref });

/** A build set with a nothing-compiles forecast unless `over` says otherwise. */
function set(over: Partial<BuildSet> & Pick<BuildSet, "name" | "backend" | "packages" | "instances">): BuildSet {
  return {
    targets: [],
    config: { value: { cudaSupport: false, rocmSupport: false }, reason: "nixpkgs defaults", sources: [src("NixOS/nixpkgs pkgs/top-level/config.nix")] },
    rocmGpuTargets: null,
    allowUnfreeLicenses: null,
    forecast: { compiles: [], hours: [0, 0], diskGB: 0, unmeasured: [], cache: "from cache.nixos.org", cacheSources: [] },
    ...over,
  };
}

/** Fields shared by every fixture plan. */
function basePlan(host: string): Omit<Plan, "instances" | "buildSets" | "findings"> {
  return {
    version: 1,
    host,
    system: "x86_64-linux",
    cpu: { x86Level: 3, gccArch: "znver2", relevantFlags: ["avx2", "fma"] },
    refused: false,
  };
}

function instance(over: Partial<Instance> & Pick<Instance, "name" | "engine" | "buildSet" | "model">): Instance {
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
    base: "llama-cpp",
    engine: "llama-cpp",
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
        buildSet: "rocm-gfx906",
        backend: "rocm",
        on: ["gpu0"],
        gpuVendor: "amd",
        model: { kind: "gguf-file", path: "/srv/models/qwen2.5-7b-q4_k_m.gguf" },
        environment: { ROCR_VISIBLE_DEVICES: "GPU-0e54792172da5eeb", HIP_VISIBLE_DEVICES: "0" },
        extraArgs: ["--n-gpu-layers", "999"],
        apiKeyFile: "/run/secrets/llm-key",
      }),
    ],
    buildSets: [
      set({
        name: "rocm-gfx906",
        backend: "rocm",
        targets: ["gfx906"],
        config: { value: { cudaSupport: false, rocmSupport: true }, reason: "as pkgsRocm", sources: [src("NixOS/nixpkgs pkgs/top-level/variants.nix")] },
        rocmGpuTargets: {
          value: ["gfx906"],
          reason: "Build ROCm libraries for the installed GPU only: gfx906",
          sources: [src("NixOS/nixpkgs pkgs/development/rocm-modules/default.nix (scopeForArches)")],
        },
        packages: [pkg],
        instances: ["chat"],
        forecast: {
          compiles: [{ what: "llama.cpp (HIP)", hours: [0.25, 0.5], diskGB: 2, assumes: "8 cores", sources: [src("seed 001")] }],
          hours: [0.25, 0.5],
          diskGB: 2,
          unmeasured: [],
          cache: "narrowed ROCm is in no public cache",
          cacheSources: [],
        },
      }),
    ],
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

/** vLLM on an RTX 3090 (8.6) in its own CUDA set. */
export function cudaVllmPlan(): Plan {
  const pkg: PackageBuild = {
    base: "python3Packages.vllm",
    engine: "vllm",
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
        buildSet: "cuda-sm86",
        backend: "cuda",
        on: ["gpu0"],
        gpuVendor: "nvidia",
        port: 8000,
        model: { kind: "hf", id: "Qwen/Qwen2.5-Coder-7B-Instruct" },
        environment: { CUDA_VISIBLE_DEVICES: "GPU-12345678-1234-1234-1234-123456789abc" },
        extraArgs: ["--dtype", "bfloat16"],
      }),
    ],
    buildSets: [
      set({
        name: "cuda-sm86",
        backend: "cuda",
        targets: ["8.6"],
        config: {
          value: { cudaCapabilities: ["8.6"], cudaForwardCompat: false, cudaSupport: true, rocmSupport: false },
          reason: "build only for capability 8.6",
          sources: [src("NixOS/nixpkgs pkgs/top-level/config.nix @ 032eb1b3")],
        },
        allowUnfreeLicenses: { value: ["CUDA EULA", "cuDNN EULA"], reason: "CUDA is unfree", sources: [src("nixpkgs CUDA manual")] },
        packages: [pkg],
        instances: ["coder"],
      }),
    ],
    findings: [],
  };
}

/** vLLM on an AVX2-only CPU: the AVX512 path is switched off at build time. */
export function cpuVllmPlan(): Plan {
  const pkg: PackageBuild = {
    base: "python3Packages.vllm",
    engine: "vllm",
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
        buildSet: "cpu",
        port: 8001,
        model: { kind: "hf", id: "Qwen/Qwen2.5-0.5B-Instruct" },
        environment: { VLLM_CPU_KVCACHE_SPACE: "4" },
      }),
    ],
    buildSets: [set({ name: "cpu", backend: "cpu", packages: [pkg], instances: ["small"] })],
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
  const ollama: PackageBuild = {
    base: "ollama",
    engine: "ollama",
    args: { acceleration: "rocm", rocmGpuTargets: ["gfx1100"] },
    env: {},
    reason: "Ollama runs GGUF models on RDNA3",
    sources: [src("NixOS/nixpkgs pkgs/by-name/ol/ollama/package.nix @ 0145c6da")],
  };
  const llama: PackageBuild = {
    base: "llama-cpp",
    engine: "llama-cpp",
    args: { cpuArchDynamicDispatch: true },
    env: { GGML_EXTRA: "1" },
    reason: "CPU fallback with runtime ISA dispatch",
    sources: [],
  };
  return {
    ...basePlan("desk"),
    instances: [
      instance({
        name: "ollama",
        engine: "ollama",
        buildSet: "rocm-gfx1100",
        backend: "rocm",
        on: ["gpu0"],
        gpuVendor: "amd",
        port: 11434,
        model: { kind: "ollama", tag: "qwen2.5:7b" },
      }),
      instance({
        name: "cpu-chat",
        engine: "llama-cpp",
        buildSet: "cpu",
        port: 8081,
        model: { kind: "gguf-repo", repo: "Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M" },
      }),
    ],
    buildSets: [
      set({ name: "cpu", backend: "cpu", packages: [llama], instances: ["cpu-chat"] }),
      set({
        name: "rocm-gfx1100",
        backend: "rocm",
        targets: ["gfx1100"],
        config: { value: { cudaSupport: false, rocmSupport: true }, reason: "as pkgsRocm", sources: [] },
        rocmGpuTargets: { value: ["gfx1100"], reason: "RDNA3 only", sources: [] },
        packages: [ollama],
        instances: ["ollama"],
      }),
    ],
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

/** Render options with a fixed nixpkgs URL; the module library travels with the output. */
export const RENDER_OPTS = { nixpkgsUrl: "github:NixOS/nixpkgs/nixos-unstable" };

/** Render options that take the module library from a hwflake flake input instead. */
export const RENDER_OPTS_INPUT = { hwflakeUrl: "github:example/hwflake", nixpkgsUrl: "github:NixOS/nixpkgs/nixos-unstable" };
