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
#
# Like nixpkgs, `pkgs.path` is the folder of this file, so `import pkgs.path { ... }` makes a
# new package set; the arguments are those of nixpkgs' pkgs/top-level/default.nix
# (localSystem, system, crossSystem, config, overlays, crossOverlays). `lib` is the one extra:
# the pinned nixpkgs lib, passed by the tests or found through $NIXPKGS_LIB on re-import.
{
  lib ? import (/. + builtins.getEnv "NIXPKGS_LIB"),
  localSystem ? null,
  system ? null,
  crossSystem ? null,
  overlays ? [ ],
  crossOverlays ? [ ],
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

  # A store path that changes with the arguments, the build environment and the package set's
  # config (as CUDA capabilities do in nixpkgs), so two references to one derivation have one
  # path and differently built ones differ.
  storePath =
    attrs:
    "${builtins.storeDir}/"
    + builtins.substring 0 32 (
      builtins.hashString "sha256" (builtins.toJSON [
        (attrs.pname or "")
        (attrs.args or { })
        (attrs.env or { })
        (removeAttrs fullConfig [ "allowUnfreePredicate" ])
      ])
    )
    + "-${attrs.pname or "fake"}";

  # stdenv.mkDerivation: keeps its attributes and supports overrideAttrs (old: { ... }).
  mkDerivation =
    attrs:
    attrs
    // {
      type = "derivation";
      outPath = storePath attrs;
      overrideAttrs = f: mkDerivation (attrs // f attrs);
    };

  # buildPythonPackage adds overridePythonAttrs, which nixpkgs provides for Python packages.
  buildPythonPackage =
    attrs:
    mkDerivation attrs
    // {
      overridePythonAttrs = f: buildPythonPackage (attrs // f attrs);
    };

  platform = {
    system = "x86_64-linux";
    isDarwin = false;
    isLinux = true;
    isAarch64 = false;
  };

  # The script writers the module library uses (shared with the module tests' stand-in).
  writers = import ../fake-pkgs.nix { inherit lib; };

  base = final: {
    inherit lib;
    inherit (writers)
      bash
      coreutils
      gperftools
      curl
      jq
      systemd
      writeShellApplication
      writeShellScript
      writeText
      ;
    # runCommand name env script: keeps the script (as `text` and `script`) so tests can read
    # what it copies.
    runCommand = name: env: script: writers.runCommand name env script // { inherit script; };
    config = fullConfig;
    path = ./.;
    # How this set was made, for tests of re-imports.
    importedWith = { inherit localSystem crossSystem system; };

    # pkgs.testers.runNixOSTest (nixos/lib/testing): the stand-in evaluates the test's node
    # with the typed NixOS stubs and the test script with `nodes`, and builds nothing.
    testers.runNixOSTest =
      args:
      let
        node = lib.evalModules {
          modules = [
            ../nixos-stubs.nix
            ./nixos-test-options.nix
            { _module.args.pkgs = final; }
            args.nodes.machine
          ];
        };
      in
      {
        type = "derivation";
        name = "vm-test-run-${args.name}";
        outPath = "${builtins.storeDir}/${builtins.substring 0 32 (builtins.hashString "sha256" args.name)}-vm-test-run-${args.name}";
        nodes.machine = node.config;
        failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) node.config.assertions);
        testScript = args.testScript { nodes.machine = node.config; };
      };

    stdenv = {
      hostPlatform = platform;
      buildPlatform = platform;
      inherit mkDerivation;
      # The compiler's C++ runtime, which prebuilt wheels link against (nixpkgs' jaxlib-bin
      # takes `lib.getLib stdenv.cc.cc`).
      cc.cc = mkDerivation { pname = "gcc-unwrapped"; };
    };
    # A setup hook in nixpkgs; here only something to put into nativeBuildInputs.
    autoPatchelfHook = mkDerivation { pname = "auto-patchelf-hook"; };
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

    # An unfree package under one of the CUDA licences, and one under another unfree licence,
    # for the build sets' allowUnfreePredicate (licence records as in nixpkgs lib/licenses.nix).
    cudaUnfreeSample = {
      meta.license = {
        shortName = "CUDA EULA";
        free = false;
      };
    };
    otherUnfreeSample = {
      meta.license = {
        shortName = "unfree";
        free = false;
      };
    };

    llama-cpp = final.callPackage ./pkgs/llama-cpp.nix { };
    ollama = final.callPackage ./pkgs/ollama.nix { };

    # fetchurl: a fixed-output download. The argument names are a subset of nixpkgs'
    # pkgs/build-support/fetchurl/default.nix (url, urls, name, hash, sha256, meta); the copy
    # stored in the code index (81392dd6) predates `hash`, so the current file's revision was
    # not read. No `...`: a misspelled argument fails here.
    fetchurl =
      {
        url ? "",
        urls ? [ ],
        name ? "",
        hash ? "",
        sha256 ? "",
        meta ? { },
      }:
      assert (hash != "") != (sha256 != "");
      mkDerivation {
        pname = "fetchurl";
        args = { inherit url hash sha256; };
        inherit url hash sha256;
      };

    # fetchFromGitHub with the arguments nixpkgs' jax/default.nix @ 0145c6da passes (owner,
    # repo, tag, hash); rev is its other way to name a commit.
    fetchFromGitHub =
      {
        owner,
        repo,
        tag ? null,
        rev ? null,
        hash ? "",
      }:
      mkDerivation {
        pname = "source";
        args = { inherit owner repo tag rev hash; };
        inherit owner repo tag hash;
      };

    # requireFile: a file the user adds to the store by hand, found by name and hash (names
    # from nixpkgs pkgs/build-support/trivial-builders requireFile; revision not read here).
    requireFile =
      {
        name,
        hash ? null,
        sha256 ? null,
        message ? null,
        url ? null,
      }:
      mkDerivation {
        pname = "requireFile";
        args = { inherit name hash; };
        inherit name hash message;
      };

    # python3 (the writers' interpreter, for the fetch script) whose withPackages is an
    # environment recording which packages it holds, by pname.
    python3 = writers.python3 // {
      withPackages =
        f:
        mkDerivation {
          pname = "python3-env";
          # The set's own Python packages, and the helpers' (model fetch, tiny models) by name.
          args.packages = map (p: p.pname) (
            f (
              lib.genAttrs [
                "gguf"
                "huggingface-hub"
                "numpy"
                "safetensors"
                "tokenizers"
                "transformers"
              ] (n: { pname = n; })
              // final.python3Packages
            )
          );
        };
    };

    # Python package sets are rebuilt from this list, as nixpkgs does for every interpreter.
    pythonPackagesExtensions = [ ];
    python3Packages = pythonSet "3.13";
    python312Packages = pythonSet "3.12";
    # python3.withPackages: an environment derivation that records what it holds.
    python312 = {
      pkgs = final.python312Packages;
      withPackages =
        f:
        mkDerivation {
          pname = "python3.12-env";
          packages = f final.python312Packages;
          args.packages = map (p: "${p.pname}-${p.version or ""}") (f final.python312Packages);
        };
    };
  };

  # One interpreter's package set: nixpkgs builds every one from pythonPackagesExtensions.
  pythonSet =
    pythonVersion:
    let
      final = self;
      pyBase = pyFinal: {
        callPackage = lib.callPackageWith (final // pyFinal);
        inherit buildPythonPackage pythonVersion;
        torch = pyFinal.callPackage ./pkgs/torch.nix { };
        ray = pyFinal.callPackage ./pkgs/ray.nix { };
        vllm = pyFinal.callPackage ./pkgs/vllm.nix { };
      };
    in
    lib.fix (lib.extends (lib.composeManyExtensions final.pythonPackagesExtensions) pyBase);

  self = lib.fix (lib.extends (lib.composeManyExtensions overlays) base);
in
self
