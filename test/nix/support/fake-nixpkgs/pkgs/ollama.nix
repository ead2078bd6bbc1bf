# Stand-in for nixpkgs pkgs/by-name/ol/ollama/package.nix
# @ 0145c6da2896513d94440e7fb41c11487aa3de16 (version 0.32.0; nixpkgs-facts.md section 4).
# Every formal argument of that file is here under its own name; build-only inputs default
# to null because nothing is built.
{
  lib,
  buildGoModule,
  fetchFromGitHub ? null,
  buildEnv ? null,
  makeBinaryWrapper ? null,
  stdenv,
  addDriverRunpath ? null,
  nix-update-script ? null,

  cmake ? null,
  gitMinimal ? null,
  clblast ? null,
  libdrm ? null,
  rocmPackages,
  rocmGpuTargets ? rocmPackages.clr.localGpuTargets or (rocmPackages.clr.gpuTargets or [ ]),
  cudaPackages,
  cudaArches ? cudaPackages.flags.realArches or [ ],
  autoAddDriverRunpath ? null,
  apple-sdk_15 ? null,
  vulkan-tools ? null,
  vulkan-headers ? null,
  vulkan-loader ? null,
  spirv-headers ? null,
  shaderc ? null,
  ccache ? null,

  versionCheckHook ? null,
  writableTmpDirAsHomeHook ? null,

  # passthru
  nixosTests ? null,
  ollama ? null,
  ollama-rocm ? null,
  ollama-cuda ? null,
  ollama-vulkan ? null,

  config,
  acceleration ? null,
}:
# The original asserts the same set of accepted values.
assert builtins.elem acceleration [
  null
  false
  "rocm"
  "cuda"
  "vulkan"
];
let
  enableRocm = acceleration == "rocm" || (acceleration == null && config.rocmSupport && !config.cudaSupport);
  enableCuda = acceleration == "cuda" || (acceleration == null && config.cudaSupport && !config.rocmSupport);
in
buildGoModule {
  pname = "ollama";
  args = {
    inherit acceleration rocmGpuTargets cudaArches;
  };
  env =
    lib.optionalAttrs enableRocm { ROCM_PATH = "rocm-path"; }
    // lib.optionalAttrs enableCuda { CUDA_PATH = "cuda-path"; };
}
