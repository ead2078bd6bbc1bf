# What each engine needs from its systemd unit: the command line, the environment, and the
# few sandbox settings where engines differ. `inference.nix` adds the shared hardening.
#
# Every builder takes the instance name and its evaluated options and returns
#   { executable; args; environment; serviceConfig; extraSyscalls; launcher; scripts; extraUnits;
#     fetchUnit; fetchCommand; healthPath; startTimeout; }
# where `launcher` is the wrapper script (or null), `scripts` every generated script by role
# (for inspection), `extraUnits` helper units keyed by their full unit name (those get the
# CPU-only hardening from inference.nix), `fetchUnit` the model download unit the server
# needs first (or null), `healthPath` the HTTP route that answers once the server is ready,
# and `startTimeout` how long it may take to load (and compile) the model.
{ lib, pkgs }:

let
  hwlib = import ./lib { inherit lib; };
  fetch = import ./model-fetch.nix { inherit lib pkgs; };

  inherit (lib) optionals;

  stateDir = name: "/var/lib/hwflake-${name}";
  cacheDir = name: "/var/cache/hwflake-${name}";

  # A writable HOME and XDG cache for every engine: DynamicUser gives no home directory and
  # ProtectSystem = "strict" leaves nothing else writable.
  baseEnvironment = name: {
    HOME = stateDir name;
    XDG_CACHE_HOME = cacheDir name;
  };

  # Where engines that read Hugging Face repositories keep them: huggingface_hub's cache root,
  # where vLLM downloads models unless --download-dir is given (engine-facts §5), and no
  # telemetry (huggingface_hub constants.py).
  hfEnvironment = name: {
    HF_HOME = "${cacheDir name}/huggingface";
    HF_HUB_DISABLE_TELEMETRY = "1";
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
      # A model id is downloaded by hwflake-<name>-fetch; an absolute path is used as it is.
      fetched = inst.model != null && !(lib.hasPrefix "/" inst.model);
      fetchSpec = {
        kind = "vllm";
        spec = inst.model;
        args = [ ];
      };
      fetchUnit = "hwflake-${name}-fetch";
    in
    {
      fetchUnit = if fetched then fetchUnit else null;
      healthPath = "/health";
      # Loading a large model, torch.compile and CUDA-graph capture take minutes; compiling
      # Triton kernels for a new GPU on the first start takes longer.
      startTimeout = "1h";
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
      environment = baseEnvironment name // hfEnvironment name // {
        # The model was downloaded by the fetch unit; huggingface_hub then resolves the id
        # from the cache without the network (huggingface_hub constants.py HF_HUB_OFFLINE;
        # vLLM reads it too, vllm/envs.py), and the server has no outbound network.
        HF_HUB_OFFLINE = "1";
      }
      // lib.optionalAttrs (inst.network or "private" == "private") {
        # The server's network namespace has only loopback: vLLM would otherwise probe for the
        # host's address (an UDP connect to 8.8.8.8) for its torch.distributed rendezvous
        # (vllm/envs.py VLLM_HOST_IP, vllm/utils get_ip).
        VLLM_HOST_IP = "127.0.0.1";
        # Likewise for the collective libraries of a multi-GPU instance: their bootstrap
        # sockets use the loopback interface (NCCL_SOCKET_IFNAME, NCCL docs; GLOO_SOCKET_IFNAME,
        # torch.distributed docs).
        NCCL_SOCKET_IFNAME = "lo";
        GLOO_SOCKET_IFNAME = "lo";
      }
      // {
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
      fetchCommand = if fetched then fetch.command fetchSpec else null;
      extraUnits = lib.optionalAttrs fetched {
        ${fetchUnit} = fetch.unit (
          fetchSpec
          // {
            inherit name;
            inherit (inst) environment huggingFaceTokenFile;
            defaults = baseEnvironment name // hfEnvironment name;
          }
        );
      };
    };

  llama-cpp =
    name: inst:
    let
      cache = cacheDir name;
      fetched = inst.gguf.file == null && inst.gguf.repo != null;
      fetchSpec = {
        kind = "gguf";
        spec = inst.gguf.repo;
        args = [ link ];
      };
      fetchUnit = "hwflake-${name}-fetch";
      # gguf.repo is downloaded by hwflake-<name>-fetch and linked here; the server loads
      # the file with -m and never goes online.
      link = fetch.ggufLink cache;
      model =
        if inst.gguf.file != null then
          [
            "-m"
            inst.gguf.file
          ]
        else if fetched then
          [
            "-m"
            link
          ]
        else
          [ ];
    in
    {
      fetchUnit = if fetched then fetchUnit else null;
      # tools/server/README.md: GET /health answers 200 once the model is loaded, 503 before.
      healthPath = "/health";
      startTimeout = "15min";
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
      environment = baseEnvironment name // hfEnvironment name // {
        # Where llama.cpp would cache downloads if extraArgs asked it to (common/common.cpp
        # fs_get_cache_directory; nixpkgs services.llama-cpp sets the same variable,
        # nixpkgs-facts §5b).
        LLAMA_CACHE = "${cache}/llama.cpp";
      };
      serviceConfig = {
        MemoryDenyWriteExecute = true;
        # CPU-only llama-server needs only its own /proc/self (nixpkgs services.llama-cpp uses
        # "pid"); the ROCm thunk parses /proc/cpuinfo when a GPU is used.
        ProcSubset = if inst.gpu == "none" then "pid" else "all";
      };
      # --numa and thread pinning call sched_setaffinity/mbind, which are in @resources.
      extraSyscalls = [ "@resources" ];
      fetchCommand = if fetched then fetch.command fetchSpec else null;
      extraUnits = lib.optionalAttrs fetched {
        ${fetchUnit} = fetch.unit (
          fetchSpec
          // {
            inherit name;
            inherit (inst) environment huggingFaceTokenFile;
            defaults = baseEnvironment name // hfEnvironment name;
          }
        );
      };
    };

  ollama =
    name: inst:
    let
      cache = cacheDir name;
      models = "${cache}/models";
      fetched = inst.model != null;
      fetchSpec = {
        kind = "ollama";
        spec = inst.model;
        args = [ ];
      };
      fetchUnit = "hwflake-${name}-fetch";
    in
    {
      # The model is pulled from the Ollama registry by hwflake-<name>-fetch, straight into
      # OLLAMA_MODELS in Ollama's own layout, so the server needs no outbound network.
      fetchUnit = if fetched then fetchUnit else null;
      # api/routes.go (ollama/ollama): GET /api/version answers once the server listens.
      healthPath = "/api/version";
      startTimeout = "5min";
      launcher = null;
      scripts = { };
      executable = "${inst.package}/bin/ollama";
      args = [ "serve" ] ++ inst.extraArgs;
      environment = baseEnvironment name // {
        # envconfig/config.go (ollama/ollama; engine-facts §9): OLLAMA_HOST is the listen
        # address, OLLAMA_MODELS the model store.
        OLLAMA_HOST = hwlib.hostPort inst.host inst.port;
        OLLAMA_MODELS = models;
      };
      serviceConfig = {
        MemoryDenyWriteExecute = true;
        # Ollama reads /proc/meminfo to fit models (nixpkgs services.ollama, nixpkgs-facts §5a).
        ProcSubset = "all";
      };
      # Same filter as nixpkgs services.ollama (nixpkgs-facts §5a).
      extraSyscalls = [ "@resources" ];
      fetchCommand = if fetched then fetch.command fetchSpec else null;
      extraUnits = lib.optionalAttrs fetched {
        ${fetchUnit} = fetch.unit (
          fetchSpec
          // {
            inherit name;
            inherit (inst) environment;
            huggingFaceTokenFile = null;
            defaults = baseEnvironment name // {
              OLLAMA_MODELS = models;
            };
          }
        );
      };
    };
}
