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
  engines = import ./engines.nix { inherit lib pkgs; };

  enabledInstances = filterAttrs (_: inst: inst.enable) cfg.instances;

  # The sandbox every unit starts from (./lib/hardening.nix), shared with the Ray units.
  inherit (import ./lib/hardening.nix { inherit lib; }) hardening;

  mkUnits =
    name: inst:
    let
      unit = "hwflake-${name}";
      engine = engines.${inst.engine} name inst;
    in
    {
      ${unit} = {
        description = "hwflake ${inst.engine} inference server ${name}";
        wantedBy = [ "multi-user.target" ];
        # -hf, `vllm serve <hf id>` and the Ollama pull download at start.
        after = [ "network-online.target" ];
        wants = [ "network-online.target" ];
        environment = engine.environment // inst.environment;
        serviceConfig =
          hardening inst.gpu engine.extraSyscalls
          // engine.serviceConfig
          // {
            Type = "exec";
            ExecStart = hwlib.execLine engine.executable engine.args;
            DynamicUser = true;
            StateDirectory = unit;
            CacheDirectory = unit;
            WorkingDirectory = "/var/lib/${unit}";
            Restart = "on-failure";
            RestartSec = "30s";
          }
          // optionalAttrs (inst.apiKeyFile != null) {
            # The file stays on the target; systemd copies it into a per-service directory
            # only this unit's dynamic user can read (systemd.exec(5), LoadCredential=).
            LoadCredential = "api-key:${hwlib.escapeSpecifiers inst.apiKeyFile}";
          };
      };
    }
    // lib.mapAttrs (
      _: helper:
      helper
      // {
        serviceConfig =
          hardening "none" [ ]
          // {
            DynamicUser = true;
          }
          // helper.serviceConfig;
      }
    ) engine.extraUnits;

  # Assertions ---------------------------------------------------------------------------

  prefix = name: "services.hwflake.instances.${name}: ";

  instanceAssertions =
    name: inst:
    let
      others = attrNames (
        filterAttrs (n: o: n != name && hwlib.listenersClash inst o) enabledInstances
      );
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
        assertion = !(inst.engine == "ollama" && inst.model != null && enabledInstances ? "${name}-pull");
        message = "${prefix name}its model-pull unit hwflake-${name}-pull has the same name as the service of instance ${name}-pull; rename one of them.";
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
          type = types.nullOr types.str;
          default = null;
          example = "Qwen/Qwen3-8B";
          description = ''
            vLLM: Hugging Face model id or absolute path, passed as `vllm serve <model>`.
            Ollama: model tag pulled after the server starts. Unused by llama-cpp.
          '';
        };

        gguf = {
          file = mkOption {
            type = types.nullOr types.str;
            default = null;
            example = "/var/lib/models/qwen3-8b-q4_k_m.gguf";
            description = "llama-cpp: absolute path of a GGUF file on the target (`llama-server -m`).";
          };
          repo = mkOption {
            type = types.nullOr types.str;
            default = null;
            example = "ggml-org/gemma-3-1b-it-GGUF:Q4_K_M";
            description = "llama-cpp: Hugging Face repository with an optional `:quant` suffix (`llama-server -hf`).";
          };
        };

        host = mkOption {
          type = types.str;
          default = "127.0.0.1";
          description = "Address to listen on. `0.0.0.0` or `::` listens on every interface.";
        };

        port = mkOption {
          type = types.port;
          example = 8080;
          description = "TCP port of the OpenAI-compatible API.";
        };

        openFirewall = mkOption {
          type = types.bool;
          default = false;
          description = "Whether to open `port` in the firewall.";
        };

        apiKeyFile = mkOption {
          # A string, not a path: a path literal would be copied into the world-readable store.
          type = types.nullOr (types.strMatching "/.*");
          default = null;
          example = "/run/secrets/llm-api-key";
          description = ''
            Absolute path on the target of a file holding the API key. It is handed to the
            service with systemd `LoadCredential=` and never enters the Nix store or the
            command line. Not supported by Ollama.
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
          type = types.attrsOf types.str;
          default = { };
          example = {
            ROCR_VISIBLE_DEVICES = "GPU-0e54792172da5eeb";
          };
          description = "Extra environment, e.g. device pinning. Overrides the engine defaults.";
        };

        extraArgs = mkOption {
          type = types.listOf types.str;
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
    assertions = lib.concatLists (mapAttrsToList instanceAssertions enabledInstances);
    warnings = lib.concatLists (mapAttrsToList instanceWarnings enabledInstances);
    systemd.services = lib.foldl' (acc: units: acc // units) { } (
      mapAttrsToList mkUnits enabledInstances
    );
    networking.firewall.allowedTCPPorts = mapAttrsToList (_: inst: inst.port) (
      filterAttrs (_: inst: inst.openFirewall) enabledInstances
    );
  };
}
