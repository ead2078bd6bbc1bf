# The host's GPU driver, for NixOS and for other distributions (system-manager):
#
# - every instance on a GPU checks for its driver before the server starts (ExecStartPre),
#   and fails with one line saying what is missing and what to set;
# - services.hwflake.hostDriver, for hosts that are not NixOS, links the distribution's NVIDIA
#   driver libraries into /run/opengl-driver/lib, where Nix-built CUDA programs look for them
#   (on NixOS, hardware.graphics fills that folder and this option must stay off).
{
  config,
  lib,
  options,
  pkgs,
  ...
}:

let
  inherit (lib)
    filterAttrs
    mapAttrs'
    mkIf
    mkMerge
    mkOption
    nameValuePair
    types
    ;

  cfg = config.services.hwflake;
  driver = import ./lib/driver.nix { inherit lib; };
  onGpu = filterAttrs (_: inst: inst.enable && inst.gpu != "none") cfg.instances;
  onNvidia = filterAttrs (_: inst: inst.gpu == "nvidia") onGpu;
  linkUnit = "hwflake-host-driver";
in
{
  options.services.hwflake.hostDriver = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Link the distribution's NVIDIA driver libraries (libcuda and friends) into
        /run/opengl-driver/lib at boot, the convention Nix-built CUDA programs follow
        (nixpkgs addDriverRunpath). For hosts that are not NixOS; on NixOS use
        hardware.graphics instead.
      '';
    };
    libraryDirs = mkOption {
      type = types.listOf (types.strMatching "/.*");
      default = driver.debianLibraryDirs pkgs.stdenv.hostPlatform.system;
      defaultText = lib.literalExpression ''[ "/usr/lib/<multiarch triplet>" ]'';
      description = "Folders of the host's driver libraries (Debian and Ubuntu: /usr/lib/<triplet>).";
    };
    libraries = mkOption {
      type = types.listOf types.str;
      default = driver.nvidiaLibraries;
      description = "Shell patterns of the libraries to link.";
    };
  };

  config = mkMerge [
    {
      systemd.services = mapAttrs' (
        name: inst:
        nameValuePair "hwflake-${name}" (
          {
            # A list, so that NixOS merges it with other ExecStartPre= lines instead of clashing.
            serviceConfig.ExecStartPre = [
              "${pkgs.writeShellScript "hwflake-${name}-preflight" (driver.preflight "hwflake-${name}" inst.gpu)}"
            ];
          }
          // lib.optionalAttrs (cfg.hostDriver.enable && inst.gpu == "nvidia") {
            after = [ "${linkUnit}.service" ];
            wants = [ "${linkUnit}.service" ];
          }
        )
      ) onGpu;
    }
    (mkIf cfg.hostDriver.enable {
      assertions = [
        {
          # NixOS owns /run/opengl-driver (hardware.graphics); two writers would fight.
          assertion = !(options ? hardware && options.hardware ? graphics);
          message = "services.hwflake.hostDriver: this is NixOS, where hardware.graphics provides /run/opengl-driver; turn hostDriver off and set hardware.graphics.enable = true.";
        }
      ];
      systemd.services.${linkUnit} = {
        description = "Link the host's NVIDIA driver libraries into /run/opengl-driver/lib for Nix-built programs";
        wantedBy = [ "multi-user.target" ];
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          ExecStart = "${pkgs.writeShellScript linkUnit (
            driver.linkHostDriver { inherit (cfg.hostDriver) libraryDirs libraries; }
          )}";
        };
      };
      warnings = lib.optional (onNvidia == { }) "services.hwflake.hostDriver is on, but no instance runs on an NVIDIA GPU.";
    })
  ];
}
