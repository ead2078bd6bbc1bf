# Device access and start-up time for accelerators that are neither AMD nor NVIDIA GPUs (TPU,
# IBM Spyre): their device nodes are VFIO (or /dev/accel) files, named per chip or card by the
# plan. An instance that lists `devices` may open exactly those nodes; everything else of
# inference.nix's hardening stays as it is.
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
    mkForce
    mkOption
    nameValuePair
    optionalAttrs
    types
    ;

  enabled = filterAttrs (_: inst: inst.enable) config.services.hwflake.instances;

  driver = import ./lib/driver.nix { inherit lib; };
  # Before the server: every device node the instance needs exists (lib/driver.nix).
  devicePreflight = name: devices: pkgs.writeShellScript "hwflake-${name}-devices" (driver.devicesPreflight "hwflake-${name}" devices);
in
{
  options.services.hwflake.instances = mkOption {
    type = types.attrsOf (
      types.submodule {
        options = {
          devices = mkOption {
            type = types.listOf (types.strMatching "(/dev/.+|char-[a-z0-9_-]+)");
            default = [ ];
            example = [
              "/dev/vfio/vfio"
              "/dev/vfio/0"
            ];
            description = ''
              Device nodes (or `char-<class>` device classes from /proc/devices) the service may
              open read-write (systemd DeviceAllow=), e.g. a TPU's /dev/vfio/<chip>. When set, the service gets the host's /dev (PrivateDevices=false)
              and may still open only these nodes and the standard pseudo-devices.
            '';
          };
          startTimeout = mkOption {
            type = types.nullOr types.str;
            default = null;
            example = "20min";
            description = "TimeoutStartSec= of the service, for engines that compile before they serve.";
          };
        };
      }
    );
  };

  config.systemd.services = mapAttrs' (
    name: inst:
    nameValuePair "hwflake-${name}" {
      serviceConfig =
        optionalAttrs (inst.devices != [ ]) {
          # DevicePolicy=closed (inference.nix) keeps every other device node out.
          DeviceAllow = map (d: "${d} rw") inst.devices;
          PrivateDevices = mkForce false;
          # A list, so that it merges with the other ExecStartPre= lines.
          ExecStartPre = [ "${devicePreflight name inst.devices}" ];
        }
        // optionalAttrs (inst.startTimeout != null) { TimeoutStartSec = inst.startTimeout; };
    }
  ) (filterAttrs (_: inst: inst.devices != [ ] || inst.startTimeout != null) enabled);
}
