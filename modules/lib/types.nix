# Option types for every string the module library writes into a systemd unit (a unit line,
# an Environment= entry, an ExecStart= word) or a script. One rule for all of them:
#
#   - no control characters: C0 (newline, CR, tab, ESC, …), DEL and C1 (U+0080–U+009F).
#     NixOS writes serviceConfig values into the unit file verbatim (nixos/lib/systemd-lib.nix
#     attrsToSection), so a newline would start a new directive;
#   - no lone UTF-16 surrogates (bytes ED A0–ED BF: not UTF-8, and not representable in
#     the JSON and YAML the CLI reads and writes);
#   - where a value becomes a command-line word of its own (a model id, a repository, a
#     listen address), no leading `-`, which the engine would read as an option.
#
# `%` and `$` are allowed: the library escapes them where systemd would expand them
# (./default.nix escapeSpecifiers, escapeSystemdExecArg; inference.nix for Environment=).
# The types refuse at evaluation, and the error names the option (`The option
# `services.hwflake.instances.x.model' has value … is not of type …`).
{ lib }:

let
  inherit (lib) types;

  # One character from its code point, through JSON (Nix string literals have no \u escape).
  chr = cp: builtins.fromJSON "\"\\u${lib.fixedWidthString 4 "0" (lib.toHexString cp)}\"";
  # The second UTF-8 byte of a two-byte character: a lone continuation byte 0x80–0xBF.
  continuation = cp: builtins.substring 1 1 (chr cp);

  # C1 controls, U+0080–U+009F (two bytes each in UTF-8).
  c1Controls = map chr (lib.range 128 159);
  # A surrogate code point U+D800–U+DFFF would be encoded ED A0..BF xx ("WTF-8"); builtins.fromJSON
  # refuses them, but builtins.readFile can produce them.
  surrogatePrefixes =
    let
      ed = builtins.substring 0 1 (chr 53248); # U+D000 = ED 80 80
    in
    map (cp: ed + continuation cp) (lib.range 160 191); # A0..BF

  # C0 and DEL: POSIX [[:cntrl:]] in the C locale. `.` matches newlines in Nix's regexes.
  hasAsciiControl = s: builtins.match ".*[[:cntrl:]].*" s != null;

  isSingleLine =
    s:
    builtins.isString s
    && !hasAsciiControl s
    && !(builtins.any (c: lib.hasInfix c s) c1Controls)
    && !(builtins.any (p: lib.hasInfix p s) surrogatePrefixes);

  isWord = s: isSingleLine s && !(lib.hasPrefix "-" s);

  # An absolute path: starts with `/`, no control characters, and no white space at either
  # end (systemd strips it from setting values, so the unit would name another file).
  isAbsolutePath =
    s:
    isSingleLine s
    && lib.hasPrefix "/" s
    && builtins.match "[[:space:]].*|.*[[:space:]]" s == null;

  # Listen addresses: IPv4/IPv6 literals (optionally bracketed, with a %scope), host names,
  # or empty for every interface.
  isListenHost = s: isWord s && builtins.match "[][A-Za-z0-9.:%_-]*" s != null;

  # Hugging Face `owner/repo` with an optional `:tag` (llama-server -hf), as the Hub names
  # repositories: letters, digits, `-`, `_`, `.`.
  isHfRepo = s: isWord s && builtins.match "[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)?" s != null;

  # Environment variable names as POSIX shells and systemd accept them.
  isEnvName = s: builtins.match "[A-Za-z_][A-Za-z0-9_]*" s != null;

  refine =
    base: name: description: check:
    lib.types.addCheck base check // { inherit name description; };
in
{
  inherit
    isSingleLine
    isWord
    isAbsolutePath
    isListenHost
    isHfRepo
    isEnvName
    ;

  # A string without control characters or lone surrogates.
  singleLineStr = refine types.str "singleLineStr" "single-line string (no control characters)" isSingleLine;

  # A single-line string that does not start with `-` (never read as an option).
  word = refine types.str "hwflakeWord" "single-line string not starting with '-'" isWord;

  # An absolute path on the target, given as a string so it never enters the Nix store.
  absolutePath = refine types.str "hwflakeAbsolutePath" "absolute path (starts with '/', single line, no surrounding white space)" isAbsolutePath;

  listenHost = refine types.str "hwflakeListenHost" "listen address (IP literal or host name; letters, digits and . : % _ - [ ]; not starting with '-')" isListenHost;

  # systemd IPAddressAllow= entries: an address or prefix, or one of its symbolic names.
  ipRange = refine types.str "hwflakeIpRange" "IP address or prefix, or any, localhost, link-local, multicast" (
    s: isWord s && builtins.match "[0-9A-Fa-f.:]+(/[0-9]+)?|any|localhost|link-local|multicast" s != null
  );

  hfRepo = refine types.str "hwflakeHfRepo" "Hugging Face repository owner/name[:tag]" isHfRepo;

  # attrsOf single-line strings whose names are valid environment variable names.
  environment =
    let
      base = types.attrsOf (refine types.str "singleLineStr" "single-line string (no control characters)" isSingleLine);
    in
    lib.types.addCheck base (env: builtins.all isEnvName (builtins.attrNames env))
    // {
      name = "hwflakeEnvironment";
      description = "attribute set of single-line strings named like environment variables ([A-Za-z_][A-Za-z0-9_]*)";
    };
}
