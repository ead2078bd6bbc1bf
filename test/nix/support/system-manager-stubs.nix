# Typed stand-ins for the options numtide/system-manager declares that the hwflake module
# library touches, under system-manager's own names and types, so the library can be
# evaluated as system-manager would evaluate it (lib.evalModules without a class, no NixOS
# modules beyond those it imports). Read from numtide/system-manager @
# 48d47346e0c6ad05b6c869ea92649c47723d1cfc:
#
#   nix/lib.nix                              makeSystemConfig: lib.evalModules { specialArgs, modules }
#                                            with no `class`; pkgs = import nixpkgs { overlays =
#                                            overlays ++ config.nixpkgs.overlays; inherit (config.nixpkgs) config; … }
#   nix/modules/default.nix                  nixpkgs.{hostPlatform,overlays,config}, assertions,
#                                            warnings, networking.enableIPv6, system-manager.allowAnyDistro
#                                            (pre-activation check: os-release ID nixos, ubuntu or debian)
#   nix/modules/systemd.nix                  systemd.services: NixOS's systemdUtils.types.services
#                                            (so the same unit options; "multi-user.target" in
#                                            wantedBy becomes system-manager.target)
#   nix/modules/tmpfiles.nix                 systemd.tmpfiles.rules
#   nix/modules/environment.nix              environment.systemPackages
#   nix/modules/upstream/nixpkgs/default.nix boot (raw) and system.activationScripts.users (str)
#                                            only: there is no system.activationScripts.<name>,
#                                            and no hardware.graphics
#   nix/modules/upstream/nixpkgs/firewall.nix a mock networking.firewall that only warns
#
# The unit options are the NixOS stand-ins' (./nixos-stubs.nix), since system-manager uses
# NixOS's own unit types.
{ lib, ... }:

let
  inherit (lib) mkOption types;
  nixos = import ./nixos-stubs.nix { inherit lib; };
in
{
  options = {
    inherit (nixos.options) assertions warnings systemd;

    nixpkgs = {
      hostPlatform = mkOption { type = with types; either str attrs; };
      buildPlatform = mkOption {
        type = types.str;
        default = "";
      };
      overlays = mkOption {
        type = with types; listOf anything;
        default = [ ];
      };
      config = mkOption {
        type = types.attrs;
        default = { };
      };
    };

    system-manager.allowAnyDistro = lib.mkEnableOption "the usage of system-manager on untested distributions";

    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };

    boot = mkOption { type = types.raw; };

    system.activationScripts.users = mkOption {
      type = types.str;
      default = "";
    };

    networking.enableIPv6 = lib.mkEnableOption "IPv6" // {
      default = true;
    };
    networking.firewall.allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
    };
  };
}
