# services.hwflake.doctor: run `hwflake doctor` when the system is activated (every switch and
# boot) and print a warning when the hardware no longer matches the profile the flake was
# generated from: a GPU gone, a new one, CPU flags or NUMA changed. It never fails activation:
# a drifted host still boots, and the warning says what to regenerate.
{
  config,
  lib,
  options,
  pkgs,
  ...
}:

let
  inherit (lib)
    escapeShellArg
    mkEnableOption
    mkIf
    mkOption
    types
    ;

  cfg = config.services.hwflake.doctor;

  # NixOS declares system.activationScripts as one option; system-manager declares only
  # system.activationScripts.users (numtide/system-manager
  # nix/modules/upstream/nixpkgs/default.nix @ 48d47346), so there the check cannot run.
  hasActivationScripts = lib.isOption (options.system.activationScripts or null);
in
{
  options.services.hwflake.doctor = {
    enable = mkEnableOption "a hardware drift check (`hwflake doctor`) at system activation";

    package = mkOption {
      type = types.nullOr types.package;
      default = null;
      description = ''
        The hwflake command-line package (the hwflake flake's `packages.<system>.default`).
        It is not in nixpkgs, so it has no default.
      '';
    };

    profile = mkOption {
      type = types.path;
      description = "The hardware profile (YAML or JSON) this host was generated from.";
    };

    timeout = mkOption {
      type = types.ints.positive;
      default = 60;
      description = ''
        Seconds the check may take. Detection runs tools such as rocminfo and nvidia-smi, which
        can hang on a broken driver; activation must not.
      '';
    };
  };

  config = mkIf cfg.enable ({
    assertions = [
      {
        assertion = cfg.package != null;
        message = "services.hwflake.doctor.package: set it to the hwflake CLI package (hwflake.packages.\${system}.default)";
      }
      {
        assertion = hasActivationScripts;
        message = "services.hwflake.doctor: runs at NixOS activation, which this system (system-manager) does not have; run `hwflake doctor --profile …` yourself instead.";
      }
    ];
  } // lib.optionalAttrs hasActivationScripts {
    # Activation scripts run with `trap ... ERR`; a failing command inside `if` does not trip
    # it, so a drifted host (exit 1), bad input (2) or a timeout only prints the warning.
    system.activationScripts.hwflake-doctor = mkIf (cfg.package != null) {
      deps = [ "specialfs" ];
      text = ''
        if ! hwflake_doctor_out=$(${pkgs.coreutils}/bin/timeout ${toString cfg.timeout} \
            ${cfg.package}/bin/hwflake doctor --profile ${escapeShellArg "${cfg.profile}"} --color never 2>&1); then
          echo "warning: hwflake doctor: this host does not match its hardware profile; regenerate the flake (hwflake detect, hwflake generate):" >&2
          printf '%s\n' "$hwflake_doctor_out" >&2
        fi
        unset hwflake_doctor_out
      '';
    };
  });
}
