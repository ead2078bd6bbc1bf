# A tiny stand-in for nixpkgs: fake derivations with stable store paths, and script writers
# that keep their text so tests can read what a launcher does. Extra attributes can be
# merged in by the caller (the flake test adds buildNpmPackage and importNpmLock).
{ lib }:

let
  fakeHash = seed: builtins.substring 0 32 (builtins.hashString "sha256" seed);

  drv = name: {
    type = "derivation";
    inherit name;
    outPath = "${builtins.storeDir}/${fakeHash name}-${name}";
  };

  script =
    name: text:
    drv name
    // {
      inherit text;
      outPath = "${builtins.storeDir}/${fakeHash "${name}\n${text}"}-${name}";
    };
in
{
  vllm = drv "vllm-0.19.0";
  llama-cpp = drv "llama-cpp-9840";
  ollama = drv "ollama-0.32.0";
  bash = drv "bash-5.3";
  coreutils = drv "coreutils-9.8";
  gperftools = drv "gperftools-2.17";
  stdenv.hostPlatform.system = "x86_64-linux";

  curl = drv "curl-8.16.0";
  jq = drv "jq-1.8.1";
  systemd = drv "systemd-258.1";
  python3 = drv "python3-3.13.7" // {
    withPackages =
      f:
      drv "python3-3.13.7-env"
      // {
        # The Python packages the module library asks for, by their nixpkgs attribute names.
        packages = map (p: p.pname) (
          f (
            lib.genAttrs [
              "gguf"
              "huggingface-hub"
              "numpy"
              "safetensors"
              "tokenizers"
              "torch"
              "transformers"
            ] (n: { pname = n; })
          )
        );
      };
  };

  writeShellScript = script;

  # runCommand name env script: a derivation that keeps its build script, like the writers.
  runCommand = name: env: text: script name text // { inherit env; };
  writeText = script;

  writeShellApplication =
    {
      name,
      text,
      ...
    }:
    script name text
    // {
      meta.mainProgram = name;
    };
}
