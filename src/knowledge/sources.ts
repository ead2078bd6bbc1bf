/**
 * Citations for every hardware/engine fact hwflake relies on. A rule names the constant; the
 * plan prints `ref`. Commits are the versions that were read (see ../../docs/SOURCES.md).
 */
import type { Source } from "../plan/types.js";

const s = (ref: string, note?: string): Source => (note ? { ref, note } : { ref });

/** All sources, by short key. */
export const SRC = {
  vllmHipArchs: s(
    "vllm-project/vllm CMakeLists.txt @ 000a1ee9",
    "HIP_SUPPORTED_ARCHS = gfx906;gfx908;gfx90a;gfx942;gfx950;gfx1030;gfx1100;gfx1101;gfx1102;gfx1103;gfx1150;gfx1151;gfx1152;gfx1153;gfx1200;gfx1201",
  ),
  vllmRocmDocs: s(
    "vllm-project/vllm docs/getting_started/installation/gpu.rocm.inc.md @ 06d0369d",
    "supported: gfx90a, gfx942, gfx950, gfx1100/1101, gfx1200/1201, gfx1150/1151",
  ),
  vllmGfx906Triton: s(
    "vllm-project/vllm PR #33811 (closed); seed 001 appendix C",
    "ROCm Triton does not support Vega 20 (gfx906); model loading fails in Triton kernel compilation",
  ),
  vllmGfx1102: s("vllm-project/vllm PR #40037 (merged 2026-04-16)", "adds gfx1102/gfx1103; not in nixpkgs' vLLM 0.19.0"),
  nixpkgsVllm: s(
    "NixOS/nixpkgs pkgs/development/python-modules/vllm/default.nix @ 00fa62a8 (0.19.0)",
    "args cudaSupport/rocmSupport default to torch's; gpuTargets; VLLM_TARGET_DEVICE=cpu when neither",
  ),
  nixpkgsVllmRocmFix: s("NixOS/nixpkgs#495680", "vLLM ROCm build fixed, tested on MI100 (gfx908)"),
  nixpkgsTorch: s(
    "NixOS/nixpkgs pkgs/development/python-modules/torch/source/default.nix @ 6b516b42 (2.9.1)",
    "args cudaSupport, rocmSupport, gpuTargets",
  ),
  nixpkgsClr: s(
    "NixOS/nixpkgs pkgs/development/rocm-modules/clr/default.nix @ e62b4c77 (7.1.1)",
    "gpuTargets: gfx900 gfx906 gfx908 gfx90a gfx942 gfx1010 gfx1030 gfx1100 gfx1101 gfx1102 gfx1150 gfx1151 gfx1200 gfx1201; localGpuTargets",
  ),
  nixpkgsRocmScope: s(
    "NixOS/nixpkgs pkgs/development/rocm-modules/default.nix @ 77dc9f4b",
    "scopeForArches: overrideScope with clr.override { localGpuTargets }",
  ),
  nixpkgsCkGfx906: s("NixOS/nixpkgs#495648", "composable_kernel gfx906-only build fixed 2026-03-01"),
  nixpkgsLlamaCpp: s(
    "NixOS/nixpkgs pkgs/by-name/ll/llama-cpp/package.nix (build 10566; PR #518204)",
    "args rocmSupport, rocmGpuTargets, cudaSupport, cpuArchDynamicDispatch (GGML_CPU_ALL_VARIANTS + GGML_BACKEND_DL)",
  ),
  nixpkgsOllama: s(
    "NixOS/nixpkgs pkgs/by-name/ol/ollama/package.nix @ 0145c6da (0.32.0)",
    'args acceleration (null | false | "rocm" | "cuda" | "vulkan"), rocmGpuTargets, cudaArches',
  ),
  nixpkgsCudaConfig: s(
    "NixOS/nixpkgs pkgs/top-level/config.nix @ 032eb1b3; doc/languages-frameworks/cuda.section.md @ 0500b6b2",
    "cudaCapabilities, cudaForwardCompat; change the CUDA package set globally",
  ),
  nixpkgsPythonExtensions: s(
    "NixOS/nixpkgs doc/languages-frameworks/python.section.md @ b956f4b1",
    "pythonPackagesExtensions composes across overlays",
  ),
  ggmlAllVariants: s(
    "ggml-org/llama.cpp ggml/src/CMakeLists.txt @ 013991d8",
    "GGML_CPU_ALL_VARIANTS: x64 … sapphirerapids, power8_1/power8_2 … power11, armv8.0 … armv9.2, chosen at runtime",
  ),
  llamaCppHip: s(
    "ggml-org/llama.cpp docs/build.md @ 00fd5181",
    "GGML_HIP with GPU_TARGETS; HSA_OVERRIDE_GFX_VERSION (10.3.0 RDNA2, 11.0.0 RDNA3)",
  ),
  llamaCppGfx906: s("ggml-org/llama.cpp PR #14624 discussion; iacopPBK/llama.cpp-gfx906#16", "gfx906 runs on the HIP backend"),
  llamaServerArgs: s(
    "ggml-org/llama.cpp tools/server/README.md @ 00dc8057",
    "--host, --port, -m, -hf, -ngl/--n-gpu-layers, --numa, --api-key-file, --alias",
  ),
  vllmCpuCmake: s(
    "vllm-project/vllm cmake/cpu_extension.cmake (v0.17+; PR #35466)",
    "x86 always builds _C (AVX512+BF16+AMX), _C_AVX512 and _C_AVX2 and picks at runtime; no pre-AVX2 variant; POWER9+ only; aarch64 BF16 from the builder's cpuinfo",
  ),
  vllmCpuCmakeOld: s(
    "vllm-project/vllm cmake/cpu_extension.cmake @ 02045094 (v0.5.1–v0.16)",
    'ISA from the build host\'s /proc/cpuinfo; VLLM_CPU_DISABLE_AVX512 = "true" forces AVX2',
  ),
  vllmPower8: s(
    "vllm-project/vllm PRs #35674 and #37586 (closed unmerged); seed 000",
    "the CPU backend requires POWER9+; POWER8 needs a patched torch and an out-of-tree port",
  ),
  vllmCpuDtype: s("vllm-project/vllm vllm/platforms/cpu.py supported_dtypes", "POWERPC: bfloat16 and float32 only"),
  // CPU serving (issue #8) ------------------------------------------------------------------
  vllmCpuTips: s(
    "seed 004 (vLLM docs getting_started/installation/cpu, Performance tips and Other considerations)",
    "TCMalloc via LD_PRELOAD; reserve 1-2 cores for the serving framework; one OpenMP thread per physical core; NUMA: tensor parallel (-tp = nodes, VLLM_CPU_OMP_THREADS_BIND a|b, --distributed-executor-backend mp) for latency, data parallel (one server per node behind nginx/HAProxy) for throughput",
  ),
  vllmCpuEnvs: s(
    "vllm-project/vllm vllm/envs.py",
    "VLLM_CPU_KVCACHE_SPACE: int GiB, unset = 4 GB; VLLM_CPU_OMP_THREADS_BIND: cpulists, ranks separated by '|', default auto",
  ),
  vllmCpuAutobind: s(
    "vllm-project/vllm vllm/v1/worker/cpu_worker.py (_get_autobind_cpu_ids)",
    "auto binding: x86 one logical CPU per physical core; POWERPC SMT-8/4/2 CPUs with id % 8 < 4",
  ),
  vllmCpuDtypes: s(
    "seed 004 (vLLM CPU docs); vllm-project/vllm vllm/platforms/cpu.py supported_dtypes",
    "x86: FP32, FP16, BF16 (AVX512_BF16 gives native BF16); Arm: FP32, FP16, BF16 (NEON required); POWERPC: bfloat16 and float32",
  ),
  seedPower8: s(
    "seed 000 (vLLM on IBM POWER8, S824: 2 × 8-core POWER8, SMT8, 576 GB)",
    "OMP_NUM_THREADS=64 (not 128); numactl --interleave=all for large models; dtype float32, no bfloat16; vLLM needs a torch 2.4 VSX header patch and ten vLLM patches and still lacks cpu_attention_with_kv_cache",
  ),
  llamaCppNuma: s(
    "ggml-org/llama.cpp PR #5377 (merged); tools/server/README.md",
    "--numa distribute|isolate|numactl; one --numa isolate process per node gave almost twice the combined throughput of one process (multi-socket Genoa)",
  ),
  nixpkgsGperftools: s(
    "NixOS/nixpkgs pkgs/by-name/gp/gperftools/package.nix @ 16b3750d (2.17)",
    "one output; lib/libtcmalloc_minimal.so; platforms.all",
  ),
  nixpkgsNginx: s(
    "NixOS/nixpkgs nixos/modules/services/web-servers/nginx/default.nix @ 000007c1; vhost-options.nix @ 0050271e",
    "services.nginx.enable, upstreams.<name>.servers.<addr> (freeform server parameters, backup), upstreams.<name>.extraConfig, virtualHosts.<name>.listen [{ addr, port }], locations.<path>.proxyPass / extraConfig",
  ),
  nginxUpstream: s(
    "nginx docs ngx_http_upstream_module (least_conn, server max_fails/fail_timeout, keepalive); ngx_http_proxy_module (proxy_buffering, proxy_read_timeout)",
  ),
  systemdNuma: s(
    "systemd.exec(5) (systemd 252)",
    "CPUAffinity= cpulist; NUMAPolicy= default|preferred|bind|interleave|local; NUMAMask= node list or all",
  ),
  linuxCpuEnumeration: s(
    "Linux sysfs topology (thread_siblings_list); vLLM docs lscpu -e example (seed 004)",
    "x86/Arm usually number the first thread of every core first (0-7 cores, 8-15 their siblings); POWER numbers a core's SMT threads consecutively",
  ),
  vllmCudaArchs: s(
    "vllm-project/vllm CMakeLists.txt @ 000a1ee9; docs gpu.cuda.inc.md @ 0487d5c2",
    "CUDA >= 12.8: 7.5 … 12.1; docs: compute capability 7.5 or higher",
  ),
  vllmBf16: s("vllm-project/vllm vllm/platforms (check_if_supports_dtype)", "bfloat16 needs compute capability >= 8.0; use --dtype half"),
  vllmServeArgs: s(
    "vllm-project/vllm vllm/entrypoints/openai/cli_args.py @ 00522333; vllm/engine/arg_utils.py",
    "--host, --port, --api-key / VLLM_API_KEY, --tensor-parallel-size, --dtype",
  ),
  vllmUuid: s(
    "vllm-project/vllm issues #13815, #20939, #41848",
    "device_id_to_physical_device_id() calls int() on CUDA_VISIBLE_DEVICES: UUIDs raise ValueError",
  ),
  rocrVisible: s(
    'ROCm docs "GPU isolation techniques"',
    "ROCR_VISIBLE_DEVICES takes device indices or UUIDs; recommended on Linux",
  ),
  cudaVisible: s(
    "CUDA Programming Guide, environment variables",
    "CUDA_VISIBLE_DEVICES takes indices or GPU-UUIDs; CUDA_DEVICE_ORDER=PCI_BUS_ID makes indices match nvidia-smi",
  ),
  ollamaGpuDocs: s(
    "ollama/ollama docs/gpu.mdx @ fb307609",
    "AMD: gfx908 gfx90a gfx942 gfx950 gfx1030 gfx1100 gfx1101 gfx1102 gfx1150 gfx1151 gfx1200 gfx1201; NVIDIA CC >= 5.0",
  ),
  ollamaGfx906: s("ollama/ollama PR #12481; commit c68f367e (v0.12.4)", "gfx900 and gfx906 blocked on ROCm"),
  ollamaArch: s("ollama/ollama scripts/install.sh; issue #8722", "amd64 and arm64 only; ppc64le source builds fail"),
  ollamaNoAuth: s("ollama/ollama docs/api/authentication.mdx", "no authentication on the local API"),
  tpuNotPackaged: s(
    "NixOS/nixpkgs (no pkgs/development/python-modules/libtpu); vllm-project/tpu-inference requirements.txt",
    "vLLM on TPU needs tpu-inference with exact jax/libtpu pins; libtpu is not in nixpkgs",
  ),
  spyreNotPackaged: s(
    "vllm-project/vllm-spyre pyproject.toml @ fc6b54b9",
    "vllm-spyre pins one vLLM minor and torch_sendnn from IBM's base image; not in nixpkgs",
  ),
  psabi: s("x86-64 psABI (x86-64-v2/v3/v4 levels); NixOS/nixpkgs lib/systems/architectures.nix @ 3c42f11d"),
  seedMi50: s("seed 001 (MI50 desktop)", "vLLM CPU build SIGILL on Zen 2; vLLM gfx906 failed in Triton"),
  nixpkgsVariants: s(
    "NixOS/nixpkgs pkgs/top-level/variants.nix @ c1d241a1",
    "pkgsRocm: config // { cudaSupport = false; rocmSupport = true; }; pkgsForCudaArch.sm_XX: { cudaSupport = true; cudaCapabilities = [ XX ]; cudaForwardCompat = false; }",
  ),
  nixpkgsConfig: s("NixOS/nixpkgs pkgs/top-level/config.nix @ 032eb1b3", "cudaSupport and rocmSupport default to false"),
  nixpkgsCudaUnfree: s(
    "NixOS/nixpkgs pkgs/development/cuda-modules/_cuda/lib/cuda.nix @ 1da571d9; _cuda/lib/licenses.nix @ 0628f245; doc/languages-frameworks/cuda.section.md @ 92c54de1",
    "allowUnfreeCudaPredicate: free, or shortName in CUDA EULA (lib.licenses.nvidiaCuda) and _cuda.lib.licenses (cuDNN, cuSPARSELt, cuTENSOR, TensorRT EULA, NVIDIA Math SDK SLA)",
  ),
  nixpkgsNoPpc64Cache: s(
    "NixOS/nixpkgs ci/supportedSystems.json @ 3dc4f60b; lib/systems/flake-systems.nix @ e54ebecf",
    "Hydra builds aarch64/x86_64 Linux and Darwin; powerpc64le-linux is only in the stdenv-supported list",
  ),
  nixpkgsRocmHydra: s(
    "NixOS/nixpkgs#446976; pkgs/development/rocm-modules/release-attrPaths.json @ 6651d5f4",
    "Hydra builds packages rebuilt by enableRocm (torch, vllm, llama-cpp, ollama) for x86_64-linux with default GPU targets",
  ),
  nixosCudaCache: s(
    "nixos-cuda/infra README.md @ 052431c1; NixOS/nixpkgs#555389",
    "the community CUDA cache builds release-cuda.nix with default capabilities only (not an official NixOS project)",
  ),
  vllmMultiNode: s(
    "vllm-project/vllm docs/serving/parallelism_scaling.md @ f948f41e; examples/online_serving/run_cluster.sh @ 0c37e239",
    "ray start --head --port=6379 / --address=<head>:6379 on each node, then vllm serve with --tensor-parallel-size <GPUs per node> --pipeline-parallel-size <nodes>; identical environment and model path on every node; a unique VLLM_HOST_IP per node",
  ),
  vllmRayAddress: s(
    "vllm-project/vllm vllm/v1/executor/ray_utils.py @ 0057add1; docs.ray.io ray-core/starting-ray",
    "ray.init(address=None) reads RAY_ADDRESS first; the node running vllm serve needs a GPU",
  ),
  rayPorts: s(
    "ray-project/ray doc/source/ray-core/configure.rst @ 2135df0b",
    "GCS 6379 on the head; node manager, object manager and worker ports 10002-19999 on every node; --include-dashboard=false",
  ),
  ncclNoPortRange: s("NVIDIA/nccl#388", "NCCL connects ranks on ephemeral ports; no port range can be set"),
  nixpkgsRay: s(
    "NixOS/nixpkgs pkgs/development/python-modules/ray/default.nix @ bee96984",
    "ray 2.40.0 from manylinux2014_x86_64 wheels; meta.platforms = [ \"x86_64-linux\" ]",
  ),
  nixpkgsVllmRay: s("NixOS/nixpkgs pkgs/development/python-modules/vllm/default.nix @ ff7c264d", "ray is in vLLM's dependencies"),
  nixpkgsNoUnfreeCache: s("NixOS/nixpkgs pkgs/top-level/release.nix @ 0dbf591c", "Hydra: allowUnfree = false (\"Don't build packages marked as unfree\")"),
  systemManagerPlatforms: s(
    "numtide/system-manager docs/site/reference/supported-platforms.md @ 48d47346",
    "tested: Ubuntu 22.04+ and Debian 13; the pre-activation check allows os-release ID ubuntu, debian, nixos",
  ),
  systemManagerSystems: s(
    "numtide/system-manager flake.nix @ 48d47346",
    "systems = aarch64-linux, aarch64-darwin, x86_64-linux: no system-manager package for powerpc64le-linux",
  ),
  systemdCredentials: s(
    "systemd/systemd NEWS, CHANGES WITH 250",
    "\"the credential logic introduced with v247\": LoadCredential= and $CREDENTIALS_DIRECTORY need systemd 247",
  ),
  ubuntuFocalSystemd: s("Ubuntu focal (20.04) package systemd 245.4-4ubuntu3.x", "Ubuntu 20.04 ships systemd 245"),
} as const satisfies Record<string, Source>;

/** Join sources into the single `source` string of a finding. */
export function cite(...sources: Source[]): string {
  return sources.map((x) => x.ref).join("; ");
}
