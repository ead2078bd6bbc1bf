# services.hwflake.instances.<name>.launcher: the instance's server as a script that runs in
# the foreground, for `nix run .#<name>` (the generated flake's apps) on NixOS and elsewhere.
# It runs what the unit runs: the same executable, arguments, environment (device pinning
# included) and build set package, after the same driver preflight; the API key reaches it
# the way systemd's LoadCredential= hands it to the unit, never on the command line.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  # The whole configuration; inside instanceModule, `config` is the instance's.
  top = config;
  inherit (lib) mkOption types;

  engines = import ./engines.nix { inherit lib pkgs; };
  driver = import ./lib/driver.nix { inherit lib; };
  launcher = import ./lib/launcher.nix { inherit lib; };

  instanceModule =
    { name, config, ... }:
    let
      engine = engines.${config.engine} name config;
      me = "hwflake-${name}";
      unit = top.systemd.services.${me} or null;
    in
    {
      options.launcher = mkOption {
        type = types.package;
        readOnly = true;
        description = ''
          Script that starts this instance's server in the foreground with the unit's command
          line and environment (`--api-key-file FILE` or `HWFLAKE_API_KEY_FILE` gives the key;
          `--` passes extra server arguments). The generated flake exposes it as
          `apps.<system>.<name>`.
        '';
      };
      config.launcher = pkgs.writeShellScript me (
        launcher.script {
          inherit name;
          inherit (engine) executable args;
          # The unit's own environment, read from the unit itself (on NixOS that includes its
          # PATH); a disabled instance has no unit, and gets what inference.nix would compose.
          environment = if unit != null then unit.environment else engine.environment // config.environment;
          stateDir = "/var/lib/${me}";
          cacheDir = "/var/cache/${me}";
          inherit (config) apiKeyFile;
          preflight = driver.preflight me config.gpu;
          coreutils = pkgs.coreutils;
          fetch =
            if engine.fetchCommand == null then
              null
            else
              {
                command = engine.fetchCommand;
                environment = top.systemd.services."${me}-fetch".environment or { };
              };
        }
      );
    };
in
{
  # A second declaration of the instances option only adds `launcher` to each instance; the
  # module system merges submodule declarations.
  options.services.hwflake.instances = mkOption {
    type = types.attrsOf (types.submodule instanceModule);
  };
}
