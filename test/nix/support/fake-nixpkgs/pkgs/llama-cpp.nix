# Stand-in for nixpkgs pkgs/by-name/ll/llama-cpp/package.nix, newest version read
# (version "0.2.0", buildNumber 10566; index id 57505597977, the file that goes with
# pkgs/by-name/ll/llama-cpp/update.sh @ 57672ec9d68b0f29bf2f1d202dfbace60e8531da; see
# nixpkgs-facts.md section 3). Every formal argument of that file is here under its own
# name. Defaults of the arguments hwflake may override follow the original; build-only
# inputs default to null because nothing is built.
{
  lib,
  autoAddDriverRunpath ? null,
  cmake ? null,
  fetchFromGitHub ? null,
  installShellFiles ? null,
  stdenv,

  config,
  cudaSupport ? config.cudaSupport,
  cudaPackages ? { },

  rocmSupport ? config.rocmSupport,
  rocmPackages ? { },
  rocmGpuTargets ? rocmPackages.clr.localGpuTargets or rocmPackages.clr.gpuTargets,

  cpuArchDynamicDispatch ? true,

  openclSupport ? false,
  clblast ? null,

  blasSupport ? builtins.all (x: !x) [
    cudaSupport
    metalSupport
    openclSupport
    rocmSupport
    vulkanSupport
  ],
  blas ? null,

  fetchNpmDeps ? null,
  nodejs_latest ? null,
  npmHooks ? null,

  pkg-config ? null,
  metalSupport ? stdenv.hostPlatform.isDarwin && !openclSupport,
  vulkanSupport ? false,
  rpcSupport ? false,
  openssl ? null,
  shaderc ? null,
  vulkan-headers ? null,
  vulkan-loader ? null,
  spirv-headers ? null,
  ninja ? null,
}:
stdenv.mkDerivation {
  pname = "llama-cpp";
  # What the overlay test inspects: the effective value of every switch.
  args = {
    inherit
      cudaSupport
      rocmSupport
      rocmGpuTargets
      cpuArchDynamicDispatch
      openclSupport
      blasSupport
      metalSupport
      vulkanSupport
      rpcSupport
      ;
  };
  # The original sets no `env`, so an overlay must cope with `old.env` being absent.
}
