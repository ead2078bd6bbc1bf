# services.hwflake.buildSets: the engines' own package sets, one per hardware class. Each set
# is a fresh import of the host's nixpkgs with its own config (ROCm/CUDA switches, CUDA
# capabilities, unfree licences) and its ROCm scope narrowed, so nothing the set changes
# reaches the host's packages or nixpkgs.config: the host's pkgs only gains `pkgs.hwflake`.
{ config, lib, ... }:

let
  inherit (lib)
    attrNames
    filterAttrs
    mapAttrsToList
    mkIf
    mkOption
    types
    ;

  cfg = config.services.hwflake;
  hwlib = import ./lib { inherit lib; };

  packageModule = {
    options = {
      base = mkOption {
        type = types.enum [
          "llama-cpp"
          "ollama"
          "python3Packages.vllm"
          "python312Packages.vllm-tpu"
          "python312Packages.vllm"
          "pythonEnv"
        ];
        description = "Attribute of the set's package set the engine is built from; `pythonEnv` is the set's Python environment of pinned wheels.";
      };
      override = mkOption {
        type = types.attrsOf types.anything;
        default = { };
        description = "Arguments for the package's `.override`, with nixpkgs' argument names.";
      };
      env = mkOption {
        type = types.attrsOf types.str;
        default = { };
        description = "Build environment merged into the derivation's `env`.";
      };
    };
  };

  setModule = {
    options = {
      config = mkOption {
        type = types.attrsOf types.anything;
        default = { };
        example = {
          rocmSupport = true;
        };
        description = ''
          nixpkgs `config` of this set's own package set (e.g. `rocmSupport`, `cudaSupport`,
          `cudaCapabilities`). The host's `nixpkgs.config` is never changed.
        '';
      };
      rocmGpuTargets = mkOption {
        type = types.nullOr (types.listOf types.str);
        default = null;
        example = [ "gfx906" ];
        description = "When set, the set's ROCm scope (clr `localGpuTargets`) is built for these gfx targets only.";
      };
      allowUnfreeLicenses = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "CUDA EULA" ];
        description = "Unfree licences (nixpkgs shortNames) this set may use; nothing else unfree is allowed in it.";
      };
      python = mkOption {
        type = types.nullOr (types.attrsOf types.anything);
        default = null;
        description = ''
          Python wheels pinned at exact versions in this set's own Python package sets
          (`interpreter`, and `wheels.<attr>` = { pname, version, url, hash, deps, ... }). A wheel
          without url/hash stops evaluation with the command that prints them.
        '';
      };
      packages = mkOption {
        type = types.attrsOf (types.submodule packageModule);
        default = { };
        description = "Engine packages built in this set, available as `pkgs.hwflake.<set>.<name>`.";
      };
      rayEnv = mkOption {
        type = types.bool;
        default = false;
        description = "Also provide `pkgs.hwflake.<set>.ray-env`, a Python with the set's vLLM and Ray, for Ray nodes.";
      };
    };
  };

  # Unfree software is allowed per licence, never wholesale: allowUnfree in a set's config
  # would let anything unfree in.
  wholesaleUnfree = attrNames (
    filterAttrs (_: s: s.config ? allowUnfree || s.config ? allowUnfreePredicate) cfg.buildSets
  );
in
{
  imports = [
    (lib.mkRemovedOptionModule [ "services" "hwflake" "cudaCapabilities" ]
      "CUDA capabilities are set per build set (services.hwflake.buildSets.<set>.config.cudaCapabilities) and never host-wide; run hwflake generate again."
    )
    (lib.mkRemovedOptionModule [ "services" "hwflake" "overlays" ]
      "hwflake no longer changes the host's package set; engines come from services.hwflake.buildSets. Run hwflake generate again."
    )
  ];

  options.services.hwflake.buildSets = mkOption {
    type = types.attrsOf (types.submodule setModule);
    default = { };
    description = ''
      The engines' package sets, one per hardware class, available as `pkgs.hwflake.<set>`
      (the engines) and `pkgs.hwflake.<set>.pkgs` (the whole set).
    '';
  };

  config = mkIf (cfg.buildSets != { }) {
    assertions =
      mapAttrsToList (name: _: {
        assertion = builtins.match "[a-z0-9][a-z0-9-]*" name != null;
        message = "services.hwflake.buildSets.${name}: set names must match [a-z0-9][a-z0-9-]* (they become attribute names); rename the set.";
      }) cfg.buildSets
      ++ map (name: {
        assertion = false;
        message = "services.hwflake.buildSets.${name}.config: allow unfree software by licence with allowUnfreeLicenses, not with allowUnfree/allowUnfreePredicate.";
      }) wholesaleUnfree;
    nixpkgs.overlays = [ (hwlib.buildSetsOverlay cfg.buildSets) ];
  };
}
