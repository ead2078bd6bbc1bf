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

  # `import <nixpkgs> { ... }` again, for the platform the host's set is for. nixpkgs treats a
  # crossSystem equal to localSystem as a native build, as NixOS's own import does.
  packageSet =
    prev: set:
    let
      licences = set.allowUnfreeLicenses or [ ];
      targets = set.rocmGpuTargets or null;
    in
    import prev.path {
      localSystem = prev.stdenv.buildPlatform;
      crossSystem = prev.stdenv.hostPlatform;
      config =
        (set.config or { })
        // lib.optionalAttrs (licences != [ ]) { allowUnfreePredicate = unfreeOnly licences; };
      overlays = lib.optional (targets != null) (narrowRocm targets);
    };

  # Python packages take build-environment changes through overridePythonAttrs, the others
  # through overrideAttrs; both merge into nixpkgs' own `env` instead of replacing it.
  build =
    pkgs: p:
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
      built = lib.mapAttrs (_: build pkgs) (set.packages or { });
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
    };
in
{
  inherit unfreeOnly;

  # The overlay that adds `hwflake.<set>.<engine>` (and `hwflake.<set>.pkgs`, the set's whole
  # package set, and `hwflake.<set>.ray-env` where asked for) and nothing else.
  overlay = sets: _final: prev: { hwflake = lib.mapAttrs (mkSet prev) sets; };
}
