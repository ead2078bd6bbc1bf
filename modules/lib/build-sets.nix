# Build sets: one nixpkgs package set per hardware class, made from the host's own nixpkgs
# (`prev.path`, same revision) the way nixpkgs makes pkgsRocm and pkgsForCudaArch.sm_XX:
# a fresh import with its own `config` and overlays. Whatever a set changes (ROCm targets,
# CUDA capabilities, unfree licences, its torch) stays inside it; the host's package set only
# gains the attribute `hwflake`. Pure: needs only `lib`.
{ lib }:

let
  # allowUnfreePredicate that accepts free licences and exactly the unfree licences named by
  # their nixpkgs shortName, in the shape the nixpkgs CUDA manual recommends.
  unfreeOnly =
    shortNames: pkg:
    builtins.all (
      license:
      if builtins.isAttrs license then
        (license.free or false) || builtins.elem (license.shortName or "") shortNames
      else
        false
    ) (lib.toList (pkg.meta.license or [ ]));

  # The set's ROCm scope built for `targets` only: the same overrideScope that nixpkgs'
  # rocmPackages.<gfx> scopes use (rocm-modules/default.nix, scopeForArches).
  narrowRocm = targets: _final: prev: {
    rocmPackages = prev.rocmPackages.overrideScope (
      _rfinal: rprev: {
        clr = rprev.clr.override { localGpuTargets = targets; };
      }
    );
  };

  # The message a wheel without a known URL/hash stops evaluation with: before anything is
  # downloaded or built, never a fake hash that fails hours later.
  missingWheel =
    w:
    "hwflake: the build set pins ${w.pname} ${w.version}, but hwflake has no public record of its wheel's "
    + "URL and sha256. Run: ${w.prefetch}. Then add wheels: { \"${w.pname}==${w.version}\": { url: <url>, sha256: <sha256> } } "
    + "to the hwflake profile and run hwflake generate again.";

  # A file only the user has (IBM's torch_sendnn): the profile names it and its hash; without
  # the hash the set refuses with the command that prints it.
  missingFile =
    w:
    "hwflake: the build set needs ${w.pname} ${w.version} (${w.file}), which is not public. Run: ${w.prefetch}. "
    + "Then set its sha256 in the hwflake profile and run hwflake generate again.";

  # One pinned wheel as a Python package of the set. Its dependencies are the set's other
  # pinned wheels, the dependencies of the nixpkgs package it replaces (jax, jaxlib, flax: their
  # numpy, scipy, ml-dtypes, ...), and (vllm-tpu) those of another nixpkgs package. Like
  # nixpkgs' jaxlib-bin, prebuilt wheels get autoPatchelfHook and the C++ runtime, since they
  # are linked against libraries Nix must point them to (a no-op for pure-Python wheels).
  wheelPackage =
    pyfinal: pyprev: attr: w:
    {
      buildPythonPackage,
      fetchurl,
      requireFile,
      autoPatchelfHook,
      stdenv,
    }:
    buildPythonPackage {
      inherit (w) pname version;
      format = "wheel";
      nativeBuildInputs = lib.optionals stdenv.hostPlatform.isLinux [ autoPatchelfHook ];
      buildInputs = [ (lib.getLib stdenv.cc.cc) ];
      src =
        if (w.fetch or "url") == "requireFile" then
          if w.hash != null then
            requireFile {
              name = w.file;
              inherit (w) hash;
              message = "hwflake: add ${w.file} to the Nix store: ${w.prefetch}";
            }
          else
            throw (missingFile w)
        else if w.url != null && w.hash != null then
          fetchurl { inherit (w) url hash; }
        else
          throw (missingWheel w);
      dependencies =
        map (d: pyfinal.${d}) w.deps
        ++ (pyprev.${attr}.dependencies or [ ])
        ++ lib.optionals (w.inheritDependencies != null) (
          pyprev.${w.inheritDependencies}.dependencies or [ ]
        );
      meta = lib.optionalAttrs (w.license != null) { inherit (w) license; };
    };

  # The set's wheels, added to (or replacing) its Python package sets through
  # pythonPackagesExtensions, inside this set's own import only.
  # A "github" pin keeps nixpkgs' own expression for the package and replaces only its version
  # and source (e.g. vLLM at the minor a plug-in requires).
  pinnedPython = python: final: prev: {
    pythonPackagesExtensions = prev.pythonPackagesExtensions ++ [
      (
        pyfinal: pyprev:
        lib.mapAttrs (
          attr: w:
          if (w.fetch or "url") == "github" then
            pyprev.${attr}.overridePythonAttrs (_old: {
              inherit (w) version;
              src =
                if w.hash != null then
                  final.fetchFromGitHub {
                    inherit (w.github) owner repo tag;
                    inherit (w) hash;
                  }
                else
                  throw (missingWheel w);
            })
          else
            pyfinal.callPackage (wheelPackage pyfinal pyprev attr w) { }
        ) python.wheels
      )
    ];
  };

  # `import <nixpkgs> { ... }` again, for the platform the host's set is for. nixpkgs treats a
  # crossSystem equal to localSystem as a native build, as NixOS's own import does.
  packageSet =
    prev: set:
    let
      licences = set.allowUnfreeLicenses or [ ];
      targets = set.rocmGpuTargets or null;
      python = set.python or null;
    in
    import prev.path {
      localSystem = prev.stdenv.buildPlatform;
      crossSystem = prev.stdenv.hostPlatform;
      config =
        (set.config or { })
        // lib.optionalAttrs (licences != [ ]) { allowUnfreePredicate = unfreeOnly licences; };
      overlays =
        lib.optional (targets != null) (narrowRocm targets)
        ++ lib.optional (python != null) (pinnedPython python);
    };

  # Python packages take build-environment changes through overridePythonAttrs, the others
  # through overrideAttrs; both merge into nixpkgs' own `env` instead of replacing it.
  # The Python environment of a set with pinned wheels: every wheel importable, and the
  # engines' commands (bin/vllm) run with that environment's interpreter.
  pythonEnv =
    pkgs: set:
    pkgs.${set.python.interpreter}.withPackages (
      ps: map (attr: ps.${attr}) (builtins.attrNames set.python.wheels)
    );

  build =
    pkgs: set: p:
    if p.base == "pythonEnv" then
      # A plug-in (vllm-spyre) is found through vLLM's entry points only when both are in one
      # environment, so the engine is the set's environment itself.
      pythonEnv pkgs set
    else
    let
      base = lib.getAttrFromPath (lib.splitString "." p.base) pkgs;
      drv = base.override (p.override or { });
      env = p.env or { };
      method = if lib.hasPrefix "python3Packages." p.base then "overridePythonAttrs" else "overrideAttrs";
    in
    if env == { } then drv else drv.${method} (old: { env = (old.env or { }) // env; });

  mkSet =
    prev: _name: set:
    let
      pkgs = packageSet prev set;
      built = lib.mapAttrs (_: build pkgs set) (set.packages or { });
    in
    built
    // { inherit pkgs; }
    # A Ray node starts vLLM's workers with its own Python, so it needs one that imports both
    # the set's vLLM and Ray (vLLM's multi-node backend).
    // lib.optionalAttrs (set.rayEnv or false) {
      ray-env = pkgs.python3.withPackages (ps: [
        built.vllm
        ps.ray
      ]);
    }
    # A set with pinned wheels also gives its Python environment (every wheel importable), so
    # other programs (a Ray driver's actors: runtime_env py_executable) can run the engine's
    # exact versions without holding them in their own environment.
    // lib.optionalAttrs ((set.python or null) != null) { python = pythonEnv pkgs set; };
in
{
  inherit unfreeOnly missingWheel missingFile;

  # The overlay that adds `hwflake.<set>.<engine>` (and `hwflake.<set>.pkgs`, the set's whole
  # package set, `hwflake.<set>.ray-env` where asked for, and `hwflake.<set>.python` for sets
  # with pinned wheels) and nothing else.
  overlay = sets: _final: prev: { hwflake = lib.mapAttrs (mkSet prev) sets; };
}
