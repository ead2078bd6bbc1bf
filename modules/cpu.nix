# services.hwflake.instances.<name>.cpu: where a CPU inference server runs and what its build
# needs. Cores and NUMA memory through systemd CPUAffinity=, NUMAPolicy= and NUMAMask=
# (systemd.exec(5)), TCMalloc preloaded from nixpkgs' gperftools (vLLM's CPU notes, seed 004),
# and an ExecStartPre check of /proc/cpuinfo against the CPU features the build needs
# (./lib/preflight.nix), so a missing ISA fails with one clear journal line instead of SIGILL.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    filterAttrs
    mapAttrs'
    mapAttrsToList
    mkOption
    nameValuePair
    optionalAttrs
    types
    ;

  hwlib = import ./lib { inherit lib; };
  enabled = filterAttrs (_: inst: inst.enable) config.services.hwflake.instances;

  preflight = pkgs.writeShellScript "hwflake-cpu-preflight" (import ./lib/preflight.nix);

  # A Linux cpulist ("0-13,28-41"), the syntax CPUAffinity= and NUMAMask= take.
  cpulist = types.strMatching "[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*";

  cpuOptions = {
    options.cpu = {
      affinity = mkOption {
        type = types.nullOr cpulist;
        default = null;
        example = "0-12,28-40";
        description = "CPUs the server may run on (systemd `CPUAffinity=`); null leaves the unit unbound.";
      };
      numaPolicy = mkOption {
        type = types.nullOr (
          types.enum [
            "default"
            "preferred"
            "bind"
            "interleave"
            "local"
          ]
        );
        default = null;
        description = "NUMA memory policy (systemd `NUMAPolicy=`); `bind`, `preferred` and `interleave` need `numaMask`.";
      };
      numaMask = mkOption {
        type = types.nullOr (types.either cpulist (types.enum [ "all" ]));
        default = null;
        example = "0";
        description = "NUMA nodes for `numaPolicy` (systemd `NUMAMask=`), a node list or `all`.";
      };
      tcmalloc = mkOption {
        type = types.bool;
        default = false;
        description = "Preload TCMalloc (`libtcmalloc_minimal.so` from `pkgs.gperftools`), as vLLM's CPU backend recommends.";
      };
      requiredFeatures = mkOption {
        type = types.listOf (types.strMatching "[a-z0-9_.]+");
        default = [ ];
        example = [ "avx2" ];
        description = ''
          CPU features the package needs: /proc/cpuinfo flags (`avx2`, `asimd`), `powerN` (a
          POWER generation of at least N) or `vsx`. Checked in `ExecStartPre` at every start;
          a missing one fails the unit with one journal line naming it.
        '';
      };
    };
  };

  isSet = inst: inst.cpu != {
    affinity = null;
    numaPolicy = null;
    numaMask = null;
    tcmalloc = false;
    requiredFeatures = [ ];
  };

  unitFor =
    name: inst:
    let
      c = inst.cpu;
    in
    {
      environment = optionalAttrs c.tcmalloc {
        LD_PRELOAD = "${pkgs.gperftools}/lib/libtcmalloc_minimal.so";
      };
      serviceConfig =
        optionalAttrs (c.affinity != null) { CPUAffinity = c.affinity; }
        // optionalAttrs (c.numaPolicy != null) { NUMAPolicy = c.numaPolicy; }
        // optionalAttrs (c.numaMask != null) { NUMAMask = c.numaMask; }
        // optionalAttrs (c.requiredFeatures != [ ]) {
          # A list, so NixOS merges it with other ExecStartPre= lines of the unit, and first
          # of them: nothing else (a model download, say) should run on a CPU that cannot.
          ExecStartPre = lib.mkBefore [
            (hwlib.execLine "${preflight}" ([ "hwflake-${name}" ] ++ c.requiredFeatures))
          ];
        };
    };
in
{
  _class = "nixos";

  # Extends the instance submodule of ./inference.nix (option declarations of a submodule merge).
  options.services.hwflake.instances = mkOption {
    type = types.attrsOf (types.submodule cpuOptions);
  };

  config = {
    assertions = mapAttrsToList (name: inst: {
      assertion = !(builtins.elem inst.cpu.numaPolicy [ "bind" "preferred" "interleave" ]) || inst.cpu.numaMask != null;
      message = "services.hwflake.instances.${name}.cpu: numaPolicy \"${toString inst.cpu.numaPolicy}\" needs numaMask (the NUMA nodes it applies to, systemd.exec(5) NUMAMask=).";
    }) enabled;

    systemd.services = mapAttrs' (name: inst: nameValuePair "hwflake-${name}" (unitFor name inst)) (
      filterAttrs (_: isSet) enabled
    );
  };
}
