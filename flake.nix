{
  description = "hwflake: a typed hardware profile in, a Nix flake of LLM inference servers out";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      # The CLI's output targets Linux inference hosts; these are the ones its modules serve.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

      packageJson = lib.importJSON ./package.json;

      # Build inputs only: local build output, dependencies and tests never enter the source.
      src = lib.cleanSourceWith {
        name = "hwflake-source";
        src = lib.cleanSource ./.;
        filter =
          path: _type:
          !(builtins.elem (baseNameOf path) [
            "node_modules"
            "dist"
            "test"
            "result"
          ]);
      };

      # importNpmLock reads the integrity hashes already in package-lock.json, so there is no
      # dependency hash to update; it needs its own npmConfigHook instead of
      # npmHooks.npmConfigHook (nixpkgs doc/languages-frameworks/javascript.section.md,
      # "importNpmLock"; pkgs/build-support/node/import-npm-lock/default.nix).
      mkHwflake =
        pkgs:
        pkgs.buildNpmPackage {
          pname = "hwflake";
          inherit (packageJson) version;
          inherit src;
          npmDeps = pkgs.importNpmLock { npmRoot = ./.; };
          npmConfigHook = pkgs.importNpmLock.npmConfigHook;
          # `npm run build` runs tsc into dist/; the install hook then wraps bin/hwflake.js
          # from package.json "bin" (buildNpmPackage, npmBuildScript defaults to "build").
          npmBuildScript = "build";
          meta = {
            inherit (packageJson) description;
            license = lib.licenses.mit;
            mainProgram = "hwflake";
            platforms = lib.platforms.linux;
          };
        };
    in
    {
      nixosModules = {
        default = import ./modules;
        hwflake = self.nixosModules.default;
      };

      overlays.default = final: _prev: { hwflake = mkHwflake final; };

      packages = forAllSystems (
        _system: pkgs: rec {
          hwflake = mkHwflake pkgs;
          default = hwflake;
        }
      );

      checks = forAllSystems (
        system: pkgs: {
          package = self.packages.${system}.hwflake;

          # The unit files a real NixOS evaluation renders from the module library, with stub
          # engines so no inference engine is built. This checks the library against the real
          # systemd and firewall option types, which the offline tests can only imitate.
          nixos-units =
            let
              stub =
                bin:
                pkgs.writeShellScriptBin bin ''
                  echo "${bin} stub" >&2
                  exit 1
                '';
              host = nixpkgs.lib.nixosSystem {
                modules = [
                  self.nixosModules.default
                  {
                    nixpkgs.hostPlatform = system;
                    boot.isContainer = true;
                    system.stateVersion = lib.trivial.release;
                    services.hwflake.instances = {
                      gguf = {
                        engine = "llama-cpp";
                        package = stub "llama-server";
                        gguf.repo = "ggml-org/gemma-3-1b-it-GGUF:Q4_K_M";
                        port = 8080;
                        gpu = "amd";
                        apiKeyFile = "/run/secrets/llm";
                      };
                      hf = {
                        engine = "vllm";
                        package = stub "vllm";
                        model = "Qwen/Qwen3-0.6B";
                        port = 8000;
                        gpu = "nvidia";
                        apiKeyFile = "/run/secrets/llm";
                      };
                      tags = {
                        engine = "ollama";
                        package = stub "ollama";
                        model = "llama3.2:1b";
                        port = 11434;
                        openFirewall = true;
                      };
                    };
                  }
                ];
              };
              units = host.config.systemd.units;
              # Assertions are only enforced when the whole system is built; check ours here.
              failed = map (a: a.message) (
                builtins.filter (
                  a: !a.assertion && lib.hasPrefix "services.hwflake." a.message
                ) host.config.assertions
              );
            in
            assert lib.assertMsg (failed == [ ]) (lib.concatStringsSep "\n" failed);
            pkgs.runCommand "hwflake-nixos-units" { } ''
              mkdir -p $out
              ${lib.concatMapStringsSep "\n" (name: "cp ${units.${name}.unit}/${name} $out/") [
                "hwflake-gguf.service"
                "hwflake-hf.service"
                "hwflake-tags.service"
                "hwflake-tags-pull.service"
              ]}
            '';
        }
      );
    };
}
