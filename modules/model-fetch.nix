# The model download, as its own one-shot unit `hwflake-<name>-fetch`, so the server unit
# needs no outbound network. Not a NixOS module: engines.nix calls it and returns the unit
# as one of its `extraUnits`; inference.nix orders the server after it (Requires=, After=).
#
# Ollama models come from the Ollama registry (plain HTTPS, urllib), into OLLAMA_MODELS in
# Ollama's layout, each blob checked against its SHA-256 digest, resumed with a Range
# request, and renamed into place; the manifest, which makes Ollama see the model, last.
#
# Hugging Face downloads use huggingface_hub from nixpkgs (python3Packages.huggingface-hub, the
# library behind `hf`/`huggingface-cli`):
#   - into the instance's cache directory, in the Hub's cache layout under HF_HOME, where
#     the engine's own loader looks (vLLM resolves a model id through that cache);
#   - resumable: the Hub writes `blobs/<hash>.incomplete` and resumes it on the next try;
#   - verified: every file whose repository entry has an LFS SHA-256 is hashed after the
#     download and compared, on top of the Hub's own size check;
#   - renamed into place: the Hub renames a blob into place only when complete, and this
#     script records completion last, in a marker named by a hash of what was asked for,
#     written to a temporary name and renamed. The marker exists only for a model that was
#     downloaded and verified completely; the server unit starts only after this unit
#     succeeded, and with the marker present the unit succeeds without the network (boots
#     offline work).
{ lib, pkgs }:

let
  # python3Packages.huggingface-hub (pkgs/development/python-modules/huggingface-hub,
  # mainProgram "hf").
  python = pkgs.python3.withPackages (ps: [ ps.huggingface-hub ]);

  script = pkgs.writeText "hwflake-fetch.py" ''
    # hwflake model fetch: vllm <repo-id> | gguf <owner/repo[:tag]> <link> | ollama <name[:tag]>
    import hashlib, json, os, sys, urllib.request

    MARKERS = os.environ["HWFLAKE_FETCHED"]

    def marker(kind, spec):
        digest = hashlib.sha256(("%s\0%s" % (kind, spec)).encode()).hexdigest()
        return os.path.join(MARKERS, digest)

    def publish(path, content):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def sha256(path):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 24), b""):
                h.update(chunk)
        return h.hexdigest()

    def verify(repo, revision, files, root):
        from huggingface_hub import HfApi
        infos = HfApi().get_paths_info(repo, files, revision=revision)
        for info in infos:
            lfs = getattr(info, "lfs", None)
            if lfs is None:
                continue
            got = sha256(os.path.join(root, info.path))
            if got != lfs.sha256:
                sys.exit("%s: %s has SHA-256 %s, the Hub says %s" % (repo, info.path, got, lfs.sha256))

    def fetch_vllm(repo):
        from huggingface_hub import HfApi, snapshot_download
        api = HfApi()
        info = api.model_info(repo)
        files = [s.rfilename for s in info.siblings]
        ignore = []
        # vLLM loads safetensors when a repository has them; skip duplicate weight formats.
        if any(f.endswith(".safetensors") for f in files):
            ignore = ["*.bin", "*.pt", "*.pth", "original/*"]
        root = snapshot_download(repo, revision=info.sha, ignore_patterns=ignore)
        kept = [f for f in files if os.path.exists(os.path.join(root, f))]
        verify(repo, info.sha, kept, root)
        return "%s@%s\n" % (repo, info.sha)

    def fetch_gguf(spec, link):
        from huggingface_hub import HfApi, hf_hub_download
        repo, _, tag = spec.partition(":")
        # llama-server -hf picks Q4_K_M when no tag is given (common/arg.cpp, ggml-org/llama.cpp).
        tag = (tag or "Q4_K_M").lower()
        api = HfApi()
        info = api.model_info(repo)
        ggufs = sorted(s.rfilename for s in info.siblings if s.rfilename.endswith(".gguf") and "mmproj" not in s.rfilename.lower())
        matches = [f for f in ggufs if tag in os.path.basename(f).lower()]
        if not matches:
            sys.exit("%s: no .gguf file matches the tag %r; files: %s" % (repo, tag, ", ".join(ggufs)))
        name = matches[0]
        if "-of-" in os.path.basename(name):
            sys.exit("%s: %s is split into parts; download them and set gguf.file to the first part" % (repo, name))
        path = hf_hub_download(repo, name, revision=info.sha)
        verify(repo, info.sha, [name], path[: -len(name)])
        tmp = link + ".tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(path, tmp)
        os.replace(tmp, link)
        return "%s@%s %s\n" % (repo, info.sha, name)

    # Ollama's registry speaks the OCI distribution API; names are [host/][namespace/]model[:tag]
    # with registry.ollama.ai, library and latest as defaults, and the store is
    # $OLLAMA_MODELS/manifests/<host>/<namespace>/<model>/<tag> plus blobs/sha256-<hex>
    # (types/model/name.go, server/images.go, ollama/ollama).
    def fetch_ollama(spec):
        models = os.environ["OLLAMA_MODELS"]
        # The tag follows the last ':' after the last '/' (a registry host may carry a port).
        slash = spec.rfind("/")
        colon = spec.rfind(":")
        name, tag = (spec[:colon], spec[colon + 1 :]) if colon > slash else (spec, "")
        parts = name.split("/")
        if len(parts) > 3 or "" in parts:
            sys.exit("%s: not an Ollama model name ([host/][namespace/]model[:tag])" % spec)
        if len(parts) == 1:
            parts = ["registry.ollama.ai", "library"] + parts
        elif len(parts) == 2:
            parts = ["registry.ollama.ai"] + parts
        host, namespace, model = parts
        tag = tag or "latest"
        base = "https://%s/v2/%s/%s" % (host, namespace, model)
        req = urllib.request.Request(base + "/manifests/" + tag, headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            manifest = r.read()
        layers = json.loads(manifest)
        blobs = os.path.join(models, "blobs")
        os.makedirs(blobs, exist_ok=True)
        for layer in [layers["config"]] + layers["layers"]:
            digest = layer["digest"]
            algo, _, want = digest.partition(":")
            if algo != "sha256":
                sys.exit("%s: unsupported digest %s" % (spec, digest))
            final = os.path.join(blobs, "sha256-" + want)
            if os.path.exists(final):
                continue
            partial = final + "-partial"
            have = os.path.getsize(partial) if os.path.exists(partial) else 0
            req = urllib.request.Request(base + "/blobs/" + digest, headers={"Range": "bytes=%d-" % have} if have else {})
            with urllib.request.urlopen(req, timeout=60) as r, open(partial, "ab" if have and r.status == 206 else "wb") as f:
                for chunk in iter(lambda: r.read(1 << 20), b""):
                    f.write(chunk)
            got = sha256(partial)
            if got != want:
                os.unlink(partial)
                sys.exit("%s: blob %s arrived with SHA-256 %s" % (spec, digest, got))
            os.replace(partial, final)
        # The manifest last: Ollama lists a model only once its manifest exists.
        publish(os.path.join(models, "manifests", host, namespace, model, tag), manifest.decode())
        return "%s/%s/%s:%s\n" % (host, namespace, model, tag)

    kind, spec = sys.argv[1], sys.argv[2]
    done = marker(kind, spec)
    if os.path.exists(done) and (kind != "gguf" or os.path.exists(sys.argv[3])):
        print("%s %s: already downloaded (%s)" % (kind, spec, done))
        sys.exit(0)
    if kind == "vllm":
        result = fetch_vllm(spec)
    elif kind == "gguf":
        result = fetch_gguf(spec, sys.argv[3])
    else:
        result = fetch_ollama(spec)
    publish(done, result)
    print("%s %s: downloaded %s" % (kind, spec, result.strip()))
  '';
in
rec {
  inherit script python;

  # The download's command line: python3 <script> <kind> <spec> <args…>, as the fetch unit
  # runs it (and `nix run`'s launcher, before the server).
  command =
    { kind, spec, args }:
    [
      "${python}/bin/python3"
      "${script}"
      kind
      spec
    ]
    ++ args;

  # Where a fetched GGUF is linked for `llama-server -m`.
  ggufLink = cacheDir: "${cacheDir}/model.gguf";

  # The fetch unit for an instance. `kind` is "vllm" (a Hub model id) or "gguf" (a
  # llama-server -hf style owner/repo[:tag]); `args` follow the script's argv.
  unit =
    {
      name,
      kind,
      spec,
      # The instance's own environment (e.g. HF_ENDPOINT, HTTPS_PROXY) over the defaults.
      environment,
      defaults,
      huggingFaceTokenFile,
      args,
    }:
    {
      description = "Download the model of hwflake instance ${name}";
      after = [ "network-online.target" ];
      wants = [ "network-online.target" ];
      environment =
        defaults
        // environment
        // {
          HWFLAKE_FETCHED = "/var/cache/hwflake-${name}/hwflake-fetched";
        }
        // lib.optionalAttrs (huggingFaceTokenFile != null) {
          # huggingface_hub reads the token from HF_TOKEN_PATH (constants.py); the file is
          # the unit's credential (systemd puts credentials in /run/credentials/<unit>/).
          HF_TOKEN_PATH = "/run/credentials/hwflake-${name}-fetch.service/hf-token";
        };
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart =
          let
            words = command { inherit kind spec args; };
          in
          (import ./lib { inherit lib; }).execLine (builtins.head words) (builtins.tail words);
        # Big models take hours; a failed download is retried when the server is started
        # again (the Hub resumes the partial file).
        TimeoutStartSec = "infinity";
        # The same dynamic user as the server, so both own the cache directory.
        User = "hwflake-${name}";
        CacheDirectory = "hwflake-${name}";
        StateDirectory = "hwflake-${name}";
        WorkingDirectory = "/var/cache/hwflake-${name}";
        # CPython and hf-xet need no writable executable memory.
        MemoryDenyWriteExecute = true;
        ProcSubset = "pid";
        PrivateMounts = true;
        LimitCORE = 0;
      }
      // lib.optionalAttrs (huggingFaceTokenFile != null) {
        LoadCredential = "hf-token:${(import ./lib { inherit lib; }).escapeSpecifiers huggingFaceTokenFile}";
      };
    };
}
