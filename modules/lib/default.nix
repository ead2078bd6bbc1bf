# Pure helpers for the hwflake module library. Only `lib` is needed, so tests can call these
# directly without a NixOS evaluation.
{ lib }:

let
  inherit (lib)
    concatMapStringsSep
    hasPrefix
    isAttrs
    replaceStrings
    ;

  # systemd expands `%` specifiers in ExecStart= and in most path settings before anything
  # else, so a literal `%` must be written `%%` (systemd.unit(5), "Specifiers").
  escapeSpecifiers = replaceStrings [ "%" ] [ "%%" ];

  # Inside a double-quoted word systemd applies C-style backslash escapes (systemd.service(5),
  # "Command lines"), so backslash and quote need escaping and the common control
  # characters get their C names. Other control characters have no short spelling there;
  # they are refused instead of being passed on half-escaped.
  quoteWord =
    s:
    let
      body = replaceStrings [ "\\" "\"" "\n" "\t" "\r" ] [ "\\\\" "\\\"" "\\n" "\\t" "\\r" ] s;
    in
    if builtins.match ".*[[:cntrl:]].*" body != null then
      throw "hwflake: cannot pass an argument with control characters to systemd: ${builtins.toJSON s}"
    else
      "\"${body}\"";

  # A word that must reach systemd's own `${VAR}` expansion (e.g. the credentials directory).
  # Built only by `systemdVar` below, never from user input.
  isExpanded = arg: isAttrs arg && arg ? hwflakeSystemdExpand;
in
rec {
  inherit escapeSpecifiers;

  # The overlay that adds hwflake's build sets as `pkgs.hwflake.<set>` (./build-sets.nix).
  buildSetsOverlay = (import ./build-sets.nix { inherit lib; }).overlay;

  # One argument of an ExecStart= line, quoted so that systemd hands it to the program
  # unchanged: `%` -> `%%` (specifiers), `$` -> `$$` (environment expansion,
  # systemd.service(5) "Command lines"), then quoted. A lone `;` is written `\;`, because
  # systemd treats an unescaped lone semicolon as a command separator.
  escapeSystemdExecArg =
    arg:
    if isExpanded arg then
      quoteWord (escapeSpecifiers arg.hwflakeSystemdExpand)
    else
      let
        s = toString arg;
      in
      if s == ";" then "\\;" else quoteWord (replaceStrings [ "$" ] [ "$$" ] (escapeSpecifiers s));

  escapeSystemdExecArgs = concatMapStringsSep " " escapeSystemdExecArg;

  # `systemdVar "CREDENTIALS_DIRECTORY" "/api-key"` is an argument that systemd itself
  # expands when it starts the process.
  systemdVar = name: suffix: { hwflakeSystemdExpand = "\${${name}}${suffix}"; };

  # The executable is written bare: systemd reads prefixes such as `-` or `@` from the first
  # word, and store paths never contain characters that need quoting.
  execLine = executable: args: "${executable}${
    lib.optionalString (args != [ ]) " ${escapeSystemdExecArgs args}"
  }";

  # Addresses that make a server listen on every interface.
  isWildcardHost =
    host:
    builtins.elem host [
      ""
      "0.0.0.0"
      "::"
      "[::]"
    ];

  # `host:port` with IPv6 literals in brackets, the form Go's net.JoinHostPort produces and
  # OLLAMA_HOST accepts.
  hostPort =
    host: port:
    let
      bare = lib.removeSuffix "]" (lib.removePrefix "[" host);
    in
    if lib.hasInfix ":" bare then "[${bare}]:${toString port}" else "${host}:${toString port}";

  # Addresses only the host itself can reach: 127.0.0.0/8, ::1 and `localhost`.
  isLoopbackHost =
    host:
    builtins.elem host [
      "localhost"
      "::1"
      "[::1]"
    ]
    || builtins.match "127\\.[0-9]+\\.[0-9]+\\.[0-9]+" host != null;

  # A systemd ListenStream= value (systemd.socket(5)): a bare port listens on every
  # interface, IPv6 literals go in brackets; systemd takes no host names, so `localhost` is
  # written 127.0.0.1 (see isSocketHost).
  listenStream =
    host: port:
    if host == "" then
      toString port
    else if host == "localhost" then
      "127.0.0.1:${toString port}"
    else
      hostPort host port;

  # Addresses a socket unit can bind: IP literals (IPv6 optionally bracketed and with a
  # %scope), `localhost` and "" (every interface).
  isSocketHost =
    host:
    host == ""
    || host == "localhost"
    || builtins.match "[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+" host != null
    || builtins.match "\\[?[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9_.-]+)?]?" host != null;

  # Where a local client should connect to reach a server bound to `host`.
  clientHost =
    host:
    if host == "::" || host == "[::]" then
      "::1"
    else if isWildcardHost host then
      "127.0.0.1"
    else
      host;

  # True when two listeners cannot both bind: same port and either the same address or one
  # of them on every interface.
  listenersClash =
    a: b: a.port == b.port && (a.host == b.host || isWildcardHost a.host || isWildcardHost b.host);

  # A CUDA_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES value that is not a plain list of indices
  # (e.g. `GPU-<uuid>` or `MIG-...`); `-1` (hide every device) is an index too.
  hasNonIndexDevice =
    value:
    builtins.any (d: builtins.match "-?[0-9]+" d == null) (
      builtins.filter (d: d != "") (lib.splitString "," (replaceStrings [ " " ] [ "" ] value))
    );

  isStorePath = p: hasPrefix builtins.storeDir p;
}
