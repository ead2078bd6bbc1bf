# services.hwflake: OpenAI-compatible inference servers (vLLM, llama.cpp, Ollama) as hardened
# systemd services, one unit per instance. Host files written by the hwflake CLI set only
# options under services.hwflake.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    attrNames
    concatStringsSep
    filterAttrs
    literalExpression
    mapAttrsToList
    mkOption
    optional
    optionalAttrs
    optionals
    types
    ;

  cfg = config.services.hwflake;
  hwlib = import ./lib { inherit lib; };
  hwTypes = import ./lib/types.nix { inherit lib; };
  engines = import ./engines.nix { inherit lib pkgs; };

  enabledInstances = filterAttrs (_: inst: inst.enable) cfg.instances;

  # The sandbox every unit starts from (./lib/hardening.nix), shared with the Ray units.
  inherit (import ./lib/hardening.nix { inherit lib; }) hardening;

  # Who may connect to a listener beyond loopback: localhost and `allowedClients`
  # (systemd.resource-control(5) IPAddressAllow=/IPAddressDeny=, on the socket unit); null
  # leaves it unrestricted. Loopback listeners are reachable from the host only anyway.
  clientAllow =
    inst:
    if hwlib.isLoopbackHost inst.host || inst.allowedClients == null then
      null
    else
      [ "localhost" ] ++ inst.allowedClients;

  # Environment= values are literal: systemd expands `%` specifiers in them
  # (systemd.exec(5), Environment=), so `%` is written `%%` (e.g. an IPv6 scope id).
  literalEnvironment = lib.mapAttrs (_: hwlib.escapeSpecifiers);

  # Inside its own network namespace every server listens here; the proxy carries the
  # user's address to it.
  innerHost = "127.0.0.1";

  # The readiness probe (ExecStartPost=), ./readiness.nix.
  readinessScript = import ./readiness.nix { inherit pkgs; };

  # Every instance is three units and a socket:
  #   hwflake-<name>           the server, in a private network namespace (PrivateNetwork=)
  #                            with only its own loopback: no outbound network at all;
  #   hwflake-<name>-proxy     systemd-socket-proxyd, in the server's namespace
  #                            (JoinsNamespaceOf=), forwarding to the server's loopback;
  #   hwflake-<name>-proxy.socket  the listener on the user's address and port, in the
  #                            host's namespace, restricted to `allowedClients`;
  #   hwflake-<name>-fetch     the model download (network allowed), before the server.
  # This is the pattern of systemd-socket-proxyd(8) ("Namespace example").
  mkUnits =
    name: inst:
    let
      unit = "hwflake-${name}";
      proxy = "${unit}-proxy";
      # The engine sees the listener inside the namespace. Ollama refuses requests whose Host
      # header is not local when it listens on loopback (allowedHostsMiddleware, DNS-rebinding
      # protection, server/routes.go, ollama/ollama), so for a listener beyond loopback it
      # binds 0.0.0.0 in the namespace, which holds only the loopback interface anyway.
      # network = "host": the server needs other hosts (vLLM's Ray driver talks to the cluster),
      # so it keeps the host's network and listens on `host` itself, without the proxy.
      private = inst.network == "private";
      engine = engines.${inst.engine} name (
        inst
        // lib.optionalAttrs private {
          host =
            if inst.engine == "ollama" && !(hwlib.isLoopbackHost inst.host) then "0.0.0.0" else innerHost;
        }
      );
      allow = clientAllow inst;
      fetchUnits = lib.optional (engine.fetchUnit != null) "${engine.fetchUnit}.service";
    in
    {
      services = {
        ${unit} = {
          description = "hwflake ${inst.engine} inference server ${name}";
          wantedBy = [ "multi-user.target" ];
          after = fetchUnits;
          requires = fetchUnits;
          environment = literalEnvironment (engine.environment // inst.environment);
          # A model that cannot load must not restart forever: at most 5 starts in 1 hour,
          # then the unit stays failed until `systemctl reset-failed` (systemd.unit(5)).
          unitConfig = {
            StartLimitBurst = 5;
            StartLimitIntervalSec = "1h";
          };
          serviceConfig =
            hardening inst.gpu engine.extraSyscalls
            // engine.serviceConfig
            // {
              Type = "exec";
              ExecStart = hwlib.execLine engine.executable engine.args;
              ExecStartPost = hwlib.execLine "${readinessScript name}" [
                "http://${hwlib.hostPort (if private then innerHost else hwlib.clientHost inst.host) inst.port}${engine.healthPath}"
              ];
              # The engine's default; an instance that knows better (startTimeout, Spyre) wins.
              TimeoutStartSec = lib.mkDefault engine.startTimeout;
              DynamicUser = true;
              # Named, so the fetch unit runs as the same dynamic user and both own the cache.
              User = unit;
              StateDirectory = unit;
              CacheDirectory = unit;
              WorkingDirectory = "/var/lib/${unit}";
              # Restart with backoff: 10 s, growing in 5 steps to 10 min (RestartSteps= and
              # RestartMaxDelaySec=, systemd ≥ 254; NixOS ships newer).
              Restart = "on-failure";
              RestartSec = "10s";
              RestartSteps = 5;
              RestartMaxDelaySec = "10min";
            }
            // optionalAttrs private {
              # No network but the namespace's own loopback: the model is downloaded by the
              # fetch unit, clients come through the proxy.
              PrivateNetwork = true;
              IPAddressDeny = "any";
              IPAddressAllow = "localhost";
            }
            // optionalAttrs (inst.apiKeyFile != null) {
              # The file stays on the target; systemd copies it into a per-service directory
              # only this unit's dynamic user can read (systemd.exec(5), LoadCredential=).
              LoadCredential = "api-key:${hwlib.escapeSpecifiers inst.apiKeyFile}";
              # The key is in the server's memory (and, for vLLM, its environment), and
              # systemd-coredump stores a crashed process's memory and its environment
              # (COREDUMP_ENVIRON) in the journal: no core dumps for this unit.
              LimitCORE = 0;
            };
        };

      }
      // optionalAttrs private {
        ${proxy} = {
          description = "hwflake ${name}: connections from ${hwlib.escapeSpecifiers (hwlib.hostPort inst.host inst.port)} to the server";
          # Started by its socket; stopped and restarted with the server.
          requires = [ "${unit}.service" "${proxy}.socket" ];
          after = [ "${unit}.service" "${proxy}.socket" ];
          bindsTo = [ "${unit}.service" ];
          unitConfig.JoinsNamespaceOf = "${unit}.service";
          serviceConfig = hardening "none" [ ] // {
            ExecStart = hwlib.execLine "${pkgs.systemd}/lib/systemd/systemd-socket-proxyd" [
              (hwlib.hostPort innerHost inst.port)
            ];
            DynamicUser = true;
            PrivateNetwork = true;
            IPAddressDeny = "any";
            IPAddressAllow = "localhost";
            MemoryDenyWriteExecute = true;
            ProcSubset = "pid";
          };
        };
      }
      // lib.mapAttrs (
        _: helper:
        helper
        // {
          environment = literalEnvironment (helper.environment or { });
          serviceConfig =
            hardening "none" [ ]
            // {
              DynamicUser = true;
            }
            // helper.serviceConfig;
        }
      ) engine.extraUnits;

      sockets = optionalAttrs private {
        ${proxy} = {
          description = "hwflake ${name}: OpenAI-compatible API on ${hwlib.escapeSpecifiers (hwlib.hostPort inst.host inst.port)}";
          wantedBy = [ "sockets.target" ];
          listenStreams = [ (hwlib.escapeSpecifiers (hwlib.listenStream inst.host inst.port)) ];
          socketConfig = {
            # Bind an address before the interface has it (systemd.socket(5)).
            FreeBind = true;
          }
          // optionalAttrs (allow != null) {
            IPAddressDeny = "any";
            IPAddressAllow = allow;
          };
        };
      };
    };

  # Assertions ---------------------------------------------------------------------------

  prefix = name: "services.hwflake.instances.${name}: ";

  instanceAssertions =
    name: inst:
    let
      others = attrNames (
        filterAttrs (n: o: n != name && hwlib.listenersClash inst o) enabledInstances
      );
      helperClashes = builtins.filter (h: enabledInstances ? ${h}) [
        "${name}-fetch"
        "${name}-proxy"
      ];
      ggufCount = lib.count (x: x != null) [
        inst.gguf.file
        inst.gguf.repo
      ];
    in
    [
      {
        assertion = builtins.match "[a-z][a-z0-9-]*" name != null;
        message = "${prefix name}instance names must match [a-z][a-z0-9-]* (they become unit and directory names); rename the instance.";
      }
      {
        assertion = hwlib.isSocketHost inst.host;
        message = "${prefix name}`host` must be an IP address, `localhost` or \"\" (every interface): systemd binds the listening socket and resolves no names; got \"${inst.host}\".";
      }
      {
        assertion = others == [ ];
        message = "${prefix name}${hwlib.hostPort inst.host inst.port} is also used by ${concatStringsSep ", " others}; give each instance its own port.";
      }
      {
        assertion = !(builtins.elem inst.engine [ "vllm" "ollama" ]) || inst.model != null;
        message =
          "${prefix name}engine \"${inst.engine}\" needs `model`; set it to "
          + (
            if inst.engine == "vllm" then
              "a Hugging Face model id or an absolute path."
            else
              "an Ollama model tag such as \"llama3.2:3b\"."
          );
      }
      {
        assertion = inst.engine != "llama-cpp" || ggufCount == 1;
        message =
          "${prefix name}engine \"llama-cpp\" needs exactly one of `gguf.file` (absolute path to a .gguf) and `gguf.repo` (Hugging Face repo[:quant]); "
          + (if ggufCount == 0 then "neither is set." else "both are set.");
      }
      {
        assertion = inst.gguf.file == null || lib.hasPrefix "/" inst.gguf.file;
        message = "${prefix name}`gguf.file` must be an absolute path on the target, got \"${toString inst.gguf.file}\".";
      }
      {
        assertion = helperClashes == [ ];
        message = "${prefix name}its helper units ${concatStringsSep ", " (map (h: "hwflake-${h}") helperClashes)} have the names of other instances' services; rename one of them.";
      }
      {
        # "No authentication is required when accessing Ollama's API locally"
        # (docs/api/authentication.mdx, ollama/ollama; engine-facts §9).
        assertion = inst.engine != "ollama" || inst.apiKeyFile == null;
        message = "${prefix name}Ollama has no API-key support; remove `apiKeyFile`, or use engine \"llama-cpp\" or \"vllm\", which check the key.";
      }
    ];

  instanceWarnings =
    name: inst:
    let
      env = inst.environment;
      pinsByUuid =
        var: env ? ${var} && hwlib.hasNonIndexDevice env.${var};
    in
    # vLLM parses these with int() and fails on GPU-/MIG- UUIDs (vllm-project/vllm#13815,
    # #20939; engine-facts §10).
    optionals (inst.engine == "vllm") (
      map
        (
          var:
          "${prefix name}vLLM accepts only numeric indices in ${var} (it fails on GPU/MIG UUIDs); map the UUID to an index with nvidia-smi -L or rocm-smi."
        )
        (
          builtins.filter pinsByUuid [
            "CUDA_VISIBLE_DEVICES"
            "HIP_VISIBLE_DEVICES"
          ]
        )
    )
    ++ optional (inst.apiKeyFile != null && hwlib.isStorePath inst.apiKeyFile)
      "${prefix name}apiKeyFile is in the Nix store, which every local user can read; keep the key outside the store (e.g. /run/secrets)."
    ++ optional (inst.engine != "llama-cpp" && (inst.gguf.file != null || inst.gguf.repo != null))
      "${prefix name}`gguf` is only used by engine \"llama-cpp\" and is ignored for \"${inst.engine}\"."
    ++ optional (inst.engine == "llama-cpp" && inst.model != null)
      "${prefix name}`model` is ignored for engine \"llama-cpp\"; use `gguf.file` or `gguf.repo`.";

  # The construction guarantee, checked on what was built: no value of a hwflake unit (a
  # unit line, an Environment= entry, a command line) spans lines or carries a control
  # character, whichever option or engine default it came from.
  unitValueAssertions =
    let
      units = filterAttrs (n: _: lib.hasPrefix "hwflake-" n) config.systemd.services;
      strings =
        v:
        if builtins.isList v then
          lib.concatMap strings v
        else if builtins.isString v then
          [ v ]
        else
          [ ];
      bad =
        unitName: u:
        lib.concatLists (
          mapAttrsToList (k: v: lib.optional (builtins.any (x: !hwTypes.isSingleLine x) (strings v)) k) (
            u.serviceConfig // u.unitConfig // u.environment // { Description = u.description; }
          )
        );
    in
    mapAttrsToList (unitName: u: {
      assertion = bad unitName u == [ ];
      message = "systemd unit ${unitName}: ${concatStringsSep ", " (bad unitName u)} would span lines or carry a control character; hwflake refuses to write it.";
    }) units;

  # Options ------------------------------------------------------------------------------

  instanceModule =
    { name, config, ... }:
    {
      options = {
        enable = mkOption {
          type = types.bool;
          default = true;
          description = "Whether to run this inference server.";
        };

        engine = mkOption {
          type = types.enum [
            "vllm"
            "llama-cpp"
            "ollama"
          ];
          description = "Inference engine that serves the OpenAI-compatible API.";
        };

        package = mkOption {
          type = types.package;
          # The engine names are also the nixpkgs attribute names.
          default = pkgs.${config.engine};
          defaultText = literalExpression "pkgs.\${engine}";
          example = literalExpression "pkgs.llama-cpp.override { rocmSupport = true; }";
          description = "Engine package, usually one built for this host's GPU and CPU by the overlays.";
        };

        model = mkOption {
          type = types.nullOr hwTypes.word;
          default = null;
          example = "Qwen/Qwen3-8B";
          description = ''
            vLLM: Hugging Face model id or absolute path, passed as `vllm serve <model>`.
            Ollama: model tag pulled after the server starts. Unused by llama-cpp.
          '';
        };

        gguf = {
          file = mkOption {
            type = types.nullOr hwTypes.absolutePath;
            default = null;
            example = "/var/lib/models/qwen3-8b-q4_k_m.gguf";
            description = "llama-cpp: absolute path of a GGUF file on the target (`llama-server -m`).";
          };
          repo = mkOption {
            type = types.nullOr hwTypes.hfRepo;
            default = null;
            example = "ggml-org/gemma-3-1b-it-GGUF:Q4_K_M";
            description = "llama-cpp: Hugging Face repository with an optional `:quant` suffix (`llama-server -hf`).";
          };
        };

        host = mkOption {
          type = hwTypes.listenHost;
          default = "127.0.0.1";
          description = "Address to listen on. `0.0.0.0` or `::` listens on every interface.";
        };

        allowedClients = mkOption {
          type = types.nullOr (types.listOf hwTypes.ipRange);
          default = null;
          example = [ "192.168.1.0/24" ];
          description = ''
            For a listener beyond loopback: the addresses (systemd `IPAddressAllow=` syntax:
            prefixes, `link-local`, `multicast`, `any`) that may reach the server; every other
            address, in and out, is refused (`IPAddressDeny=any`). Localhost is always
            allowed. null leaves IP traffic unrestricted. Loopback listeners allow localhost
            only, whatever this says.
          '';
        };

        port = mkOption {
          type = types.port;
          example = 8080;
          description = "TCP port of the OpenAI-compatible API.";
        };

        network = mkOption {
          type = types.enum [
            "private"
            "host"
          ];
          default = "private";
          description = ''
            `private`: the server runs in its own network namespace with only loopback, clients
            reach it through a socket proxy on `host`:`port`, and it has no outbound network.
            `host`: it keeps the host's network and listens on `host` itself, for servers that
            must talk to other hosts (the vLLM server of a model served across hosts on Ray).
          '';
        };

        openFirewall = mkOption {
          type = types.bool;
          default = false;
          description = "Whether to open `port` in the firewall.";
        };

        apiKeyFile = mkOption {
          # A string, not a path: a path literal would be copied into the world-readable store.
          type = types.nullOr hwTypes.absolutePath;
          default = null;
          example = "/run/secrets/llm-api-key";
          description = ''
            Absolute path on the target of a file holding the API key. It is handed to the
            service with systemd `LoadCredential=` and never enters the Nix store or the
            command line. Not supported by Ollama.
          '';
        };

        huggingFaceTokenFile = mkOption {
          type = types.nullOr hwTypes.absolutePath;
          default = null;
          example = "/run/secrets/hf-token";
          description = ''
            Absolute path on the target of a file holding a Hugging Face token, for gated or
            private models. Only the model download unit (`hwflake-<name>-fetch`) gets it, as a
            systemd credential read through `HF_TOKEN_PATH`; the server never does.
          '';
        };

        gpu = mkOption {
          type = types.enum [
            "none"
            "amd"
            "nvidia"
          ];
          default = "none";
          description = "GPU vendor the service may access; decides the allowed device nodes and groups.";
        };

        environment = mkOption {
          type = hwTypes.environment;
          default = { };
          example = {
            ROCR_VISIBLE_DEVICES = "GPU-0e54792172da5eeb";
          };
          description = "Extra environment, e.g. device pinning. Overrides the engine defaults.";
        };

        extraArgs = mkOption {
          type = types.listOf hwTypes.singleLineStr;
          default = [ ];
          example = [
            "--max-model-len"
            "8192"
          ];
          description = "Extra command-line arguments for the server, each passed as one argument.";
        };
      };
    };
in
{
  _class = "nixos";

  options.services.hwflake = {
    instances = mkOption {
      type = types.attrsOf (types.submodule instanceModule);
      default = { };
      description = "Inference servers; each becomes the systemd service `hwflake-<name>`.";
    };
  };

  config = {
    assertions =
      lib.concatLists (mapAttrsToList instanceAssertions enabledInstances) ++ unitValueAssertions;
    warnings = lib.concatLists (mapAttrsToList instanceWarnings enabledInstances);
    systemd.services = lib.foldl' (acc: units: acc // units.services) { } (
      mapAttrsToList mkUnits enabledInstances
    );
    systemd.sockets = lib.foldl' (acc: units: acc // units.sockets) { } (
      mapAttrsToList mkUnits enabledInstances
    );
    networking.firewall.allowedTCPPorts = mapAttrsToList (_: inst: inst.port) (
      filterAttrs (_: inst: inst.openFirewall) enabledInstances
    );
  };
}
