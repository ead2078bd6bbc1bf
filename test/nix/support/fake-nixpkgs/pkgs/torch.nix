# Stand-in for nixpkgs pkgs/development/python-modules/torch/source/default.nix
# @ 7dec1fd5f3d23b500258549ad5e0cee5e53a7d2b (torch 2.13.0; nixpkgs-facts.md section 2).
# Every formal argument of that file is here under its own name. Defaults of the switches
# follow the original where they only read config or other switches; defaults that consult
# packages this stand-in does not have (magma, triton, nccl availability) are simplified,
# and build-only inputs default to null because nothing is built.
{
  stdenv,
  lib,
  fetchFromGitHub ? null,
  fetchFromGitLab ? null,
  fetchpatch ? null,
  git-unroll ? null,
  buildPythonPackage,
  buildPackages ? null,
  python ? null,
  runCommand ? null,
  writeShellScript ? null,
  config,
  cudaSupport ? config.cudaSupport,
  cudaPackages,
  autoAddDriverRunpath ? null,
  effectiveMagma ? null,
  magma ? null,
  magma-hip ? null,
  magma-cuda-static ? null,
  useSystemNccl ? (cudaSupport || rocmSupport),
  withNvshmem ? cudaSupport,
  withTensorboard ? false,
  MPISupport ? false,
  mpi ? null,
  buildDocs ? false,
  pkgsHostHost ? null,

  callPackage ? null,

  cmake ? null,
  ninja ? null,
  numpy ? null,
  packaging ? null,
  pyyaml ? null,
  requests ? null,
  six ? null,

  symlinkJoin ? null,
  which ? null,
  pybind11 ? null,
  pkg-config ? null,
  removeReferencesTo ? null,

  openssl ? null,
  numactl ? null,
  llvmPackages ? null,

  filelock ? null,
  fsspec ? null,
  jinja2 ? null,
  networkx ? null,
  setuptools ? null,
  sympy ? null,
  typing-extensions ? null,

  binutils ? null,
  hypothesis ? null,
  psutil ? null,
  tritonSupport ? true,
  triton ? null,

  _tritonEffective ? null,
  triton-cuda ? null,

  mklDnnSupport ? !(stdenv.hostPlatform.isDarwin && stdenv.hostPlatform.isAarch64),

  blas ? null,

  pillow ? null,
  tensorboard ? null,
  protobuf ? null,

  rocmSupport ? config.rocmSupport,
  rocmPackages,
  gpuTargets ? [ ],

  vulkanSupport ? false,
  vulkan-headers ? null,
  vulkan-loader ? null,
  shaderc ? null,
}:
let
  # Same precedence as the original: explicit gpuTargets, then CUDA capabilities, then the
  # ROCm scope's (possibly narrowed) clr targets minus the two RDNA1 targets torch drops.
  gpuTargetList =
    if gpuTargets != [ ] then
      gpuTargets
    else if cudaSupport then
      cudaPackages.flags.cudaCapabilities
    else if rocmSupport then
      lib.subtractLists [
        "gfx1010"
        "gfx1012"
      ] (rocmPackages.clr.localGpuTargets or rocmPackages.clr.gpuTargets)
    else
      [ ];
in
buildPythonPackage {
  pname = "torch";
  # vLLM's argument defaults read these, as they read torch's passthru in nixpkgs.
  inherit cudaSupport rocmSupport;
  gpuTargetString = lib.concatStringsSep ";" gpuTargetList;
  args = {
    inherit
      cudaSupport
      rocmSupport
      gpuTargets
      useSystemNccl
      withNvshmem
      MPISupport
      mklDnnSupport
      vulkanSupport
      ;
  };
}
