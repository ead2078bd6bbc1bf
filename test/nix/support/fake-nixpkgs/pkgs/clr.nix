# Stand-in for nixpkgs pkgs/development/rocm-modules/clr/default.nix
# @ e62b4c774e245ef611d1cbaf560712fca60229f5 (clr 7.1.1; nixpkgs-facts.md section 2).
# Every formal argument of that file is here under its own name; build-only inputs default
# to null. The passthru mirrors the original: localGpuTargets exists only when it is set.
{
  lib,
  stdenv,
  callPackage ? null,
  fetchFromGitHub ? null,
  fetchpatch ? null,
  rocmUpdateScript ? null,
  makeWrapper ? null,
  cmake ? null,
  perl ? null,
  hip-common ? null,
  hipcc ? null,
  rocm-device-libs ? null,
  rocm-comgr ? null,
  rocm-runtime ? null,
  rocm-toolchain ? null,
  rocm-core ? null,
  roctracer ? null,
  rocminfo ? null,
  rocm-smi ? null,
  symlinkJoin ? null,
  numactl ? null,
  libffi ? null,
  zstd ? null,
  zlib ? null,
  libGL ? null,
  libxml2 ? null,
  libX11 ? null,
  python3Packages ? null,
  llvm ? null,
  khronos-ocl-icd-loader ? null,
  gcc-unwrapped ? null,
  writeShellScriptBin ? null,
  localGpuTargets ? null,
}:
stdenv.mkDerivation (
  {
    pname = "clr";
    version = "7.1.1";
    gpuTargets = [
      "gfx900"
      "gfx906"
      "gfx908"
      "gfx90a"
      "gfx942"
      "gfx1010"
      "gfx1030"
      "gfx1100"
      "gfx1101"
      "gfx1102"
      "gfx1150"
      "gfx1151"
      "gfx1200"
      "gfx1201"
    ];
  }
  // lib.optionalAttrs (localGpuTargets != null) { inherit localGpuTargets; }
)
