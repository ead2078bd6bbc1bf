# What each engine needs from its systemd unit: the command line, the environment, and the
# few sandbox settings where engines differ. `inference.nix` adds the shared hardening.
#
# Every builder takes the instance name and its evaluated options and returns
#   { executable; args; environment; serviceConfig; extraSyscalls; launcher; scripts; extraUnits; }
# where `launcher` is the wrapper script (or null), `scripts` every generated script by role
# (for inspection), and `extraUnits` helper units keyed by their full unit name; those get
# the CPU-only hardening from inference.nix.
{ lib, pkgs }:

let
  hwlib = import ./lib { inherit lib; };

  inherit (lib) optionals;

  stateDir = name: "/var/lib/hwflake-${name}";
  cacheDir = name: "/var/cache/hwflake-${name}";

  # A writable HOME and XDG cache for every engine: DynamicUser gives no home directory and
  # ProtectSystem = "strict" leaves nothing else writable.
  baseEnvironment = name: {
    HOME = stateDir name;
    XDG_CACHE_HOME = cacheDir name;
  };

  # LoadCredential= puts the key here; systemd sets CREDENTIALS_DIRECTORY for the service
  # (systemd.exec(5), "Credentials").
  apiKeyCredential = "api-key";
in
{
  vllm =
    name: inst:
    let
      cache = cacheDir name;
      # vLLM reads its key from VLLM_API_KEY (vllm/envs.py; engine-facts §5). The key is read
      # from the credential at start so it is neither in argv nor in the Nix store.
      launcher = pkgs.writeShellScript "hwflake-${name}-vllm" ''
        set -eu
        VLLM_API_KEY=$(< "$CREDENTIALS_DIRECTORY/${apiKeyCredential}")
        export VLLM_API_KEY
        exec ${inst.package}/bin/vllm "$@"
      '';
      withKey = inst.apiKeyFile != null;
    in
    {
      launcher = if withKey then launcher else null;
      scripts = lib.optionalAttrs withKey { inherit launcher; };
      executable = if withKey then "${launcher}" else "${inst.package}/bin/vllm";
      # `vllm serve <model>` takes the model positionally; --port defaults to 8000 upstream, so
      # it is always explicit (vllm/entrypoints/openai/cli_args.py; engine-facts §5).
      args =
        [ "serve" ]
        ++ optionals (inst.model != null) [ inst.model ]
        ++ [
          "--host"
          inst.host
          "--port"
          (toString inst.port)
          "--served-model-name"
          inst.servedModelName
        ]
        ++ inst.extraArgs;
      environment = baseEnvironment name // {
        # huggingface_hub cache root; vLLM downloads models there unless --download-dir is
        # given (engine-facts §5).
        HF_HOME = "${cache}/huggingface";
        # VLLM_CACHE_ROOT defaults under XDG_CACHE_HOME (vllm/envs.py).
        VLLM_CACHE_ROOT = "${cache}/vllm";
        # Triton and TorchInductor JIT caches; their defaults are ~/.triton and /tmp, and /tmp
        # is private and wiped on every restart (triton python/triton/runtime/cache.py,
        # pytorch torch/_inductor/runtime/cache_dir_utils.py).
        TRITON_CACHE_DIR = "${cache}/triton";
        TORCHINDUCTOR_CACHE_DIR = "${cache}/torchinductor";
        # A server should not report usage to stats.vllm.ai by default (vllm/envs.py
        # VLLM_NO_USAGE_STATS); instance.environment can turn it back on.
        VLLM_NO_USAGE_STATS = "1";
      };
      serviceConfig = {
        # torch.compile and Triton generate machine code at run time and map it W+X, which
        # MemoryDenyWriteExecute forbids.
        MemoryDenyWriteExecute = false;
        # psutil reads /proc/meminfo and /proc/cpuinfo to size the KV cache and bind threads.
        ProcSubset = "all";
      };
      # The CPU backend binds OpenMP threads and memory to NUMA nodes
      # (VLLM_CPU_OMP_THREADS_BIND=auto, engine-facts §2): sched_setaffinity, mbind and
      # set_mempolicy are in @resources (systemd.exec(5), SystemCallFilter=).
      extraSyscalls = [ "@resources" ];
      extraUnits = { };
    };

  llama-cpp =
    name: inst:
    let
      cache = cacheDir name;
      model =
        if inst.gguf.file != null then
          [
            "-m"
            inst.gguf.file
          ]
        else if inst.gguf.repo != null then
          [
            "-hf"
            inst.gguf.repo
          ]
        else
          [ ];
    in
    {
      launcher = null;
      scripts = { };
      executable = "${inst.package}/bin/llama-server";
      # Flags from tools/server/README.md (ggml-org/llama.cpp; engine-facts §8). --port is
      # always passed: the default moves from 8080 to 9931 (ggml-org/llama.cpp#26508).
      args =
        [
          "--host"
          inst.host
          "--port"
          (toString inst.port)
        ]
        ++ model
        ++ [
          "--alias"
          inst.servedModelName
        ]
        # llama-server --api-key-file: tools/server/README.md (ggml-org/llama.cpp). systemd
        # expands ${CREDENTIALS_DIRECTORY} in ExecStart=, so the path never holds the key.
        ++ optionals (inst.apiKeyFile != null) [
          "--api-key-file"
          (hwlib.systemdVar "CREDENTIALS_DIRECTORY" "/${apiKeyCredential}")
        ]
        ++ inst.extraArgs;
      environment = baseEnvironment name // {
        # -hf downloads land in LLAMA_CACHE (common/common.cpp fs_get_cache_directory;
        # nixpkgs services.llama-cpp sets the same variable, nixpkgs-facts §5b); newer builds
        # use the Hugging Face cache layout under HF_HOME instead.
        LLAMA_CACHE = "${cache}/llama.cpp";
        HF_HOME = "${cache}/huggingface";
      };
      serviceConfig = {
        MemoryDenyWriteExecute = true;
        # CPU-only llama-server needs only its own /proc/self (nixpkgs services.llama-cpp uses
        # "pid"); the ROCm thunk parses /proc/cpuinfo when a GPU is used.
        ProcSubset = if inst.gpu == "none" then "pid" else "all";
      };
      # --numa and thread pinning call sched_setaffinity/mbind, which are in @resources.
      extraSyscalls = [ "@resources" ];
      extraUnits = { };
    };

  ollama =
    name: inst:
    let
      unit = "hwflake-${name}";
      pullUnit = "${unit}-pull";
      # `ollama serve` reaches Running as soon as it is exec'd, before it listens, so the
      # pull waits for the API to answer (`ollama list`) before asking for the model.
      # Subcommands from cmd/cmd.go (ollama/ollama).
      pullScript = pkgs.writeShellScript "${pullUnit}" ''
        set -eu
        tries=0
        until ${inst.package}/bin/ollama list >/dev/null 2>&1; do
          tries=$((tries + 1))
          if [ "$tries" -ge 120 ]; then
            echo "ollama server for ${name} did not answer on $OLLAMA_HOST" >&2
            exit 1
          fi
          ${pkgs.coreutils}/bin/sleep 1
        done
        exec ${inst.package}/bin/ollama pull "$1"
      '';
    in
    {
      launcher = null;
      scripts = lib.optionalAttrs (inst.model != null) { pull = pullScript; };
      executable = "${inst.package}/bin/ollama";
      args = [ "serve" ] ++ inst.extraArgs;
      environment = baseEnvironment name // {
        # envconfig/config.go (ollama/ollama; engine-facts §9): OLLAMA_HOST is the listen
        # address, OLLAMA_MODELS the model store.
        OLLAMA_HOST = hwlib.hostPort inst.host inst.port;
        OLLAMA_MODELS = "${cacheDir name}/models";
      };
      serviceConfig = {
        MemoryDenyWriteExecute = true;
        # Ollama reads /proc/meminfo to fit models (nixpkgs services.ollama, nixpkgs-facts §5a).
        ProcSubset = "all";
      };
      # Same filter as nixpkgs services.ollama (nixpkgs-facts §5a).
      extraSyscalls = [ "@resources" ];
      extraUnits = lib.optionalAttrs (inst.model != null) {
        ${pullUnit} = {
          description = "Pull ${hwlib.escapeSpecifiers inst.model} for hwflake instance ${name}";
          # Started with the server, stopped with it.
          wantedBy = [ "${unit}.service" ];
          after = [ "${unit}.service" ];
          bindsTo = [ "${unit}.service" ];
          environment = {
            OLLAMA_HOST = hwlib.hostPort (hwlib.clientHost inst.host) inst.port;
            HOME = "/run/${pullUnit}";
          };
          serviceConfig = {
            Type = "oneshot";
            RemainAfterExit = true;
            ExecStart = hwlib.execLine "${pullScript}" [ inst.model ];
            # A download can fail halfway (network, server restart); try again later.
            Restart = "on-failure";
            RestartSec = "30s";
            # Large models take longer than the default start timeout to download.
            TimeoutStartSec = "infinity";
            RuntimeDirectory = pullUnit;
            MemoryDenyWriteExecute = true;
            ProcSubset = "pid";
          };
        };
      };
    };
}
