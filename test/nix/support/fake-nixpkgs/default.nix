# A tiny stand-in for nixpkgs, just big enough to apply hwflake's generated overlay.
#
# It uses the real override machinery from the pinned nixpkgs lib (callPackageWith and so
# makeOverridable, makeScope/overrideScope, fix/extends/composeManyExtensions), so an overlay
# that works here uses nixpkgs' mechanisms the way nixpkgs does. The packages in ./pkgs take
# exactly the formal argument names of the nixpkgs files they stand for and have no `...`,
# so an override argument nixpkgs does not know fails here as it would there.
#
# Nothing here builds: "derivations" are attribute sets that record the arguments they were
# called with (`args`) and the attributes given to mkDerivation (`env`, ...).
{
  lib,
  overlays ? [ ],
  config ? { },
}:
let
  # The config switches the stand-ins read; nixpkgs' config.nix gives them these defaults.
  fullConfig = {
    cudaSupport = false;
    rocmSupport = false;
    cudaCapabilities = [ ];
    allowUnfree = false;
  }
  // config;

  # stdenv.mkDerivation: keeps its attributes and supports overrideAttrs (old: { ... }).
  mkDerivation =
    attrs:
    attrs
    // {
      overrideAttrs = f: mkDerivation (attrs // f attrs);
    };

  # buildPythonPackage adds overridePythonAttrs, which nixpkgs provides for Python packages.
  buildPythonPackage =
    attrs:
    mkDerivation attrs
    // {
      overridePythonAttrs = f: buildPythonPackage (attrs // f attrs);
    };

  base = final: {
    inherit lib;
    config = fullConfig;

    stdenv = {
      hostPlatform = {
        isDarwin = false;
        isLinux = true;
        isAarch64 = false;
      };
      inherit mkDerivation;
    };
    buildGoModule = mkDerivation;

    newScope = extra: lib.callPackageWith (final // extra);
    callPackage = final.newScope { };

    cudaPackages = {
      flags = {
        inherit (final.config) cudaCapabilities;
        realArches = map (c: "sm_" + lib.replaceStrings [ "." ] [ "" ] c) final.config.cudaCapabilities;
        cmakeCudaArchitecturesString = lib.concatStringsSep ";" (
          map (lib.replaceStrings [ "." ] [ "" ]) final.config.cudaCapabilities
        );
      };
      backendStdenv = final.stdenv;
      cudaMajorVersion = "12";
    };

    # The ROCm scope: a real lib.makeScope, so overrideScope behaves as in nixpkgs.
    rocmPackages = lib.makeScope final.newScope (self: {
      clr = self.callPackage ./pkgs/clr.nix { };
    });

    llama-cpp = final.callPackage ./pkgs/llama-cpp.nix { };
    ollama = final.callPackage ./pkgs/ollama.nix { };

    # Python package sets are rebuilt from this list, as nixpkgs does for every interpreter.
    pythonPackagesExtensions = [ ];
    python3Packages =
      let
        pyBase = pyFinal: {
          callPackage = lib.callPackageWith (final // pyFinal);
          inherit buildPythonPackage;
          torch = pyFinal.callPackage ./pkgs/torch.nix { };
          vllm = pyFinal.callPackage ./pkgs/vllm.nix { };
        };
      in
      lib.fix (lib.extends (lib.composeManyExtensions final.pythonPackagesExtensions) pyBase);
  };
in
lib.fix (lib.extends (lib.composeManyExtensions overlays) base)
