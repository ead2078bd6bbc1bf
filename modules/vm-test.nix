# The VM check the generated flake offers as checks.<system>.vm-<host>: a NixOS VM with the
# host's module, where every CPU instance runs with a tiny model the check builds itself
# (no network in the build sandbox or the VM), and the test waits for each server unit to
# become active (so its readiness probe passed) and asks its OpenAI endpoint for
# /v1/models. GPU instances are switched off: a VM has no GPU.
#
# Run it where KVM is available: `nix build .#checks.x86_64-linux.vm-<host>` (or
# `nix flake check`). nixpkgs' NixOS test driver, pkgs.testers.runNixOSTest.
{
  pkgs,
  lib,
  # The host's NixOS module (hwflake's library plus the generated host options).
  hostModule,
  name,
  # Names of the host's CPU instances, and of the others (switched off: a VM has no GPU).
  cpuInstances,
  otherInstances,
}:

let
  # gguf-py (llama.cpp's gguf package, python3Packages.gguf) writes a llama-architecture GGUF.
  tinyGgufScript = pkgs.writeText "tiny-gguf.py" ''
    # A tiny llama-architecture GGUF with random weights and a byte-level SentencePiece-style
    # vocabulary, written with gguf-py (llama.cpp's gguf Python package, python3Packages.gguf in
    # nixpkgs). It loads in llama-server and Ollama and answers /v1/models; its output is noise.
    # Usage: python3 tiny-gguf.py OUT.gguf
    import sys

    import numpy as np
    import gguf

    out = sys.argv[1]
    n_embd, n_ff, n_head, n_layer, n_ctx = 64, 128, 4, 1, 256

    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    n_vocab = len(tokens)

    w = gguf.GGUFWriter(out, "llama")
    w.add_name("hwflake-tiny")
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    rng = np.random.default_rng(0)

    def tensor(name, *shape):
        # numpy shape is (rows, cols); GGUF stores it reversed (ne0 = cols), as llama.cpp expects.
        w.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    tensor("token_embd.weight", n_vocab, n_embd)
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    tensor("output.weight", n_vocab, n_embd)
    for i in range(n_layer):
        w.add_tensor("blk.%d.attn_norm.weight" % i, np.ones(n_embd, dtype=np.float32))
        tensor("blk.%d.attn_q.weight" % i, n_embd, n_embd)
        tensor("blk.%d.attn_k.weight" % i, n_embd, n_embd)
        tensor("blk.%d.attn_v.weight" % i, n_embd, n_embd)
        tensor("blk.%d.attn_output.weight" % i, n_embd, n_embd)
        w.add_tensor("blk.%d.ffn_norm.weight" % i, np.ones(n_embd, dtype=np.float32))
        tensor("blk.%d.ffn_gate.weight" % i, n_ff, n_embd)
        tensor("blk.%d.ffn_up.weight" % i, n_ff, n_embd)
        tensor("blk.%d.ffn_down.weight" % i, n_embd, n_ff)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
  '';
  tinyGguf =
    pkgs.runCommand "hwflake-tiny.gguf"
      {
        nativeBuildInputs = [
          (pkgs.python3.withPackages (ps: [
            ps.gguf
            ps.numpy
          ]))
        ];
      }
      ''
        python3 ${tinyGgufScript} $out
      '';

  # transformers + tokenizers + torch write a Hugging Face model folder for vLLM.
  tinyHfScript = pkgs.writeText "tiny-hf.py" ''
    # A tiny Llama model in Hugging Face layout (config.json, model.safetensors, tokenizer.json),
    # random weights and a word-level tokenizer, for vLLM to load in the VM check. Written with
    # transformers and tokenizers (both in vLLM's own closure). Usage: python3 tiny-hf.py OUTDIR
    import sys

    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = sys.argv[1]
    words = "hello world the a of to and is in it".split()
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{w: i + 3 for i, w in enumerate(words)}}

    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    # (the braces are spelled out so no template engine of hwflake's reads this file as its own)
    fast.chat_template = "{% for m in messages %}" + "{" * 2 + " m['content'] " + "}" * 2 + " {% endfor %}"
    fast.save_pretrained(out)

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2,
        torch_dtype="float32",
    )
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
  '';
  tinyHf =
    pkgs.runCommand "hwflake-tiny-hf"
      {
        nativeBuildInputs = [
          (pkgs.python3.withPackages (ps: [
            ps.transformers
            ps.tokenizers
            ps.torch
            ps.safetensors
          ]))
        ];
      }
      ''
        export HOME=$TMPDIR
        python3 ${tinyHfScript} $out
      '';

  # Ollama's model store with the tiny GGUF as library/hwflake-tiny:latest: the blob, a
  # config blob and the manifest, as `ollama create` writes them (server/images.go).
  tinyOllama =
    pkgs.runCommand "hwflake-tiny-ollama"
      {
        nativeBuildInputs = [
          pkgs.coreutils
          pkgs.jq
        ];
      }
      ''
        mkdir -p $out/blobs $out/manifests/registry.ollama.ai/library/hwflake-tiny
        model=$(sha256sum ${tinyGguf} | cut -d' ' -f1)
        cp ${tinyGguf} $out/blobs/sha256-$model
        jq -cn --arg d "sha256:$model" \
          '{model_format: "gguf", model_family: "llama", model_type: "tiny", file_type: "F32",
            architecture: "amd64", os: "linux", rootfs: {type: "layers", diff_ids: [$d]}}' > config.json
        config=$(sha256sum config.json | cut -d' ' -f1)
        cp config.json $out/blobs/sha256-$config
        jq -cn --arg c "sha256:$config" --argjson cs $(stat -c %s config.json) \
          --arg m "sha256:$model" --argjson ms $(stat -c %s ${tinyGguf}) \
          '{schemaVersion: 2, mediaType: "application/vnd.docker.distribution.manifest.v2+json",
            config: {mediaType: "application/vnd.docker.container.image.v1+json", digest: $c, size: $cs},
            layers: [{mediaType: "application/vnd.ollama.image.model", digest: $m, size: $ms}]}' \
          > $out/manifests/registry.ollama.ai/library/hwflake-tiny/latest
      '';

  key = "hwflake-vm-test-key";

  # Every CPU instance gets the tiny model of its engine, a key file the VM has, and the
  # loopback address; the fetch unit of an Ollama instance copies the prepared store
  # instead of downloading.
  instanceOverrides =
    { config, ... }:
    {
      services.hwflake.instances = lib.genAttrs cpuInstances (
        n:
        let
          engine = config.services.hwflake.instances.${n}.engine;
        in
        {
          model = lib.mkForce (
            if engine == "vllm" then
              "${tinyHf}"
            else if engine == "ollama" then
              "hwflake-tiny:latest"
            else
              null
          );
          gguf.file = lib.mkForce (if engine == "llama-cpp" then "${tinyGguf}" else null);
          gguf.repo = lib.mkForce null;
          apiKeyFile = lib.mkIf (engine != "ollama") (lib.mkForce "/etc/hwflake-vm-test/key");
          environment = lib.mkIf (engine == "vllm") {
            # vLLM's CPU backend reserves this many GiB for the KV cache (vllm/envs.py).
            VLLM_CPU_KVCACHE_SPACE = lib.mkForce "1";
          };
        }
      );
      systemd.services = lib.listToAttrs (
        map (
          n:
          lib.nameValuePair "hwflake-${n}-fetch" {
            serviceConfig.ExecStart = lib.mkForce "${pkgs.writeShellScript "hwflake-${n}-seed" ''
              set -eu
              ${pkgs.coreutils}/bin/mkdir -p "$OLLAMA_MODELS"
              ${pkgs.coreutils}/bin/cp -rL --no-preserve=mode ${tinyOllama}/. "$OLLAMA_MODELS"/
            ''}";
          }
        ) (builtins.filter (n: config.services.hwflake.instances.${n}.engine == "ollama") cpuInstances)
      );
    };

  # The listen address a client in the VM uses for an instance.
  clientUrl =
    inst:
    let
      host = if inst.host == "" || inst.host == "0.0.0.0" || inst.host == "localhost" then "127.0.0.1" else if inst.host == "::" || inst.host == "[::]" then "::1" else inst.host;
      bare = lib.removeSuffix "]" (lib.removePrefix "[" host);
    in
    if lib.hasInfix ":" bare then "http://[${bare}]:${toString inst.port}" else "http://${host}:${toString inst.port}";
in
pkgs.testers.runNixOSTest {
  name = "hwflake-${name}-cpu-instances";
  nodes.machine =
    { ... }:
    {
      imports = [
        hostModule
        instanceOverrides
      ];
      services.hwflake.instances = lib.genAttrs otherInstances (_: {
        enable = lib.mkForce false;
      });
      environment.etc."hwflake-vm-test/key".text = key;
      environment.systemPackages = [ pkgs.curl ];
      virtualisation.memorySize = 8192;
      virtualisation.cores = 4;
      virtualisation.diskSize = 8192;
    };
  testScript =
    { nodes, ... }:
    let
      instances = nodes.machine.services.hwflake.instances;
    in
    ''
      machine.wait_for_unit("multi-user.target")
    ''
    + lib.concatMapStrings (n: ''
      # ${n}: the unit is active only after its readiness probe answered.
      machine.wait_for_unit("hwflake-${n}.service", timeout=3600)
      out = machine.succeed("curl --silent --fail -H 'Authorization: Bearer ${key}' ${clientUrl instances.${n}}/v1/models")
      print(out)
      assert '"object"' in out and '"data"' in out, out
    '') cpuInstances;
}
