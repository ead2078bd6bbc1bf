# Pure helpers for the per-instance launcher (../launcher.nix): the shell text that starts an
# instance's server in the foreground with the unit's executable, arguments and environment.
{ lib }:

let
  inherit (lib)
    concatStringsSep
    escapeShellArg
    hasPrefix
    isAttrs
    mapAttrsToList
    removePrefix
    ;
in
rec {
  # What a launcher takes from its caller's environment when the unit does not set it.
  passThrough = [
    "PATH"
    "TERM"
    "LANG"
    "LC_ALL"
    "TZ"
  ];

  # One word of the server's command line. Plain strings are quoted; a word that systemd
  # would expand itself (`systemdVar` in ./default.nix, e.g. the credentials directory) is
  # expanded by the shell from the same variable, which the launcher sets.
  shellWord =
    value: arg:
    if isAttrs arg && arg ? hwflakeSystemdExpand then
      let
        m = builtins.match "\\$\\{([A-Za-z_][A-Za-z0-9_]*)}(.*)" arg.hwflakeSystemdExpand;
      in
      if m == null then
        throw "hwflake: cannot express ${builtins.toJSON arg.hwflakeSystemdExpand} in a launcher"
      else
        "\"\${${builtins.elemAt m 0}}\"" + escapeShellArg (builtins.elemAt m 1)
    else
      value (toString arg);

  # A value of the unit's environment. The unit's state and cache folders (systemd's
  # StateDirectory= and CacheDirectory=, which a user cannot write) become the launcher's
  # own, "$state" and "$cache"; everything else is passed as it is.
  shellValue =
    { stateDir, cacheDir }:
    value:
    let
      under = dir: var: value == dir || hasPrefix "${dir}/" value;
      swap = dir: var: "\"\$${var}\"" + escapeShellArg (removePrefix dir value);
    in
    if under stateDir "state" then
      swap stateDir "state"
    else if under cacheDir "cache" then
      swap cacheDir "cache"
    else
      escapeShellArg value;

  # The launcher's shell text (run by writeShellScript's bash). Arguments:
  #   name        instance name; executable, args, environment: what the unit runs
  #   stateDir, cacheDir: the unit's folders, replaced as in shellValue
  #   apiKeyFile  the instance's key file on the host, or null (no key)
  #   preflight   shell text that checks the GPU driver (./driver.nix `preflight`)
  #   coreutils   store path of coreutils (mkdir, ln, env)
  #   fetch       null, or { command; environment; }: the model download the unit needs first
  #               (its fetch unit's command line and environment), run before the server
  script =
    {
      name,
      executable,
      args,
      environment,
      stateDir,
      cacheDir,
      apiKeyFile,
      preflight,
      coreutils,
      fetch ? null,
    }:
    let
      value = shellValue { inherit stateDir cacheDir; };
      envWords = mapAttrsToList (k: v: escapeShellArg "${k}=" + value v) environment;
      withKey = apiKeyFile != null;
      me = "hwflake-${name}";
    in
    ''
      set -eu
      usage() {
        cat <<'USAGE'
      Usage: ${me} [--api-key-file FILE] [-- SERVER-ARGS...]

      Runs the ${name} server in the foreground with the command line, environment and device
      pinning of its service unit ${me}. SERVER-ARGS are appended to its command line.

        --api-key-file FILE  the API key (default: $HWFLAKE_API_KEY_FILE${
          if withKey then ", else ${apiKeyFile}" else ""
        })
      State and downloads go to $HWFLAKE_STATE_DIR and $HWFLAKE_CACHE_DIR (default:
      ~/.local/state/${me} and ~/.cache/${me}).
      USAGE
      }
      key_file=''${HWFLAKE_API_KEY_FILE:-}
      key_flag=0
      extra=()
      while [ "$#" -gt 0 ]; do
        case "$1" in
          --api-key-file)
            if [ "$#" -lt 2 ]; then echo "${me}: --api-key-file needs a file" >&2; exit 2; fi
            key_file=$2; key_flag=1; shift 2 ;;
          --api-key-file=*) key_file=''${1#--api-key-file=}; key_flag=1; shift ;;
          -h | --help) usage; exit 0 ;;
          --) shift; extra=("$@"); break ;;
          *) echo "${me}: unknown argument '$1' (server arguments go after --)" >&2; exit 2 ;;
        esac
      done

      state=''${HWFLAKE_STATE_DIR:-''${XDG_STATE_HOME:-$HOME/.local/state}/${me}}
      cache=''${HWFLAKE_CACHE_DIR:-''${XDG_CACHE_HOME:-$HOME/.cache}/${me}}
      ${coreutils}/bin/mkdir -p -m 0700 "$state" "$cache"

      ${preflight}
      ${
        if withKey then
          ''
            # The key is handed over as systemd's LoadCredential= does: a file named api-key in
            # $CREDENTIALS_DIRECTORY (here a link to the key file), never on the command line.
            key_file=''${key_file:-${escapeShellArg apiKeyFile}}
            case "$key_file" in /*) ;; *) key_file=$PWD/$key_file ;; esac
            if [ ! -r "$key_file" ]; then
              echo "${me}: cannot read the API key file $key_file; pass --api-key-file FILE or set HWFLAKE_API_KEY_FILE" >&2
              exit 1
            fi
            CREDENTIALS_DIRECTORY=$state/credentials
            ${coreutils}/bin/mkdir -p -m 0700 "$CREDENTIALS_DIRECTORY"
            ${coreutils}/bin/ln -sfn "$key_file" "$CREDENTIALS_DIRECTORY/api-key"
          ''
        else
          ''
            if [ "$key_flag" = 1 ]; then
              echo "${me}: this instance has no apiKeyFile, so its server checks no key; set apiKeyFile in the profile to use one" >&2
              exit 2
            fi
          ''
      }
      cd "$state"
      # A clean environment, as a unit gets: the unit's variables, plus the caller's PATH (unless
      # the unit sets one), terminal and locale settings.
      unit_env=(${concatStringsSep " " envWords})
      ${if withKey then ''unit_env+=("CREDENTIALS_DIRECTORY=$CREDENTIALS_DIRECTORY")'' else ""}
      for var in ${concatStringsSep " " (builtins.filter (v: !(environment ? ${v})) passThrough)}; do
        if [ -n "''${!var+x}" ]; then unit_env+=("$var=''${!var}"); fi
      done
      ${
        if fetch == null then
          ""
        else
          ''
            # The model first, as the fetch unit would: into this launcher's cache folder.
            fetch_env=(${concatStringsSep " " (mapAttrsToList (k: v: escapeShellArg "${k}=" + value v) fetch.environment)})
            ${coreutils}/bin/env -i "''${fetch_env[@]}" ${concatStringsSep " " (map (shellWord value) fetch.command)}
          ''
      }
      exec ${coreutils}/bin/env -i "''${unit_env[@]}" ${executable} ${concatStringsSep " " (map (shellWord value) args)} "''${extra[@]}"
    '';
}
