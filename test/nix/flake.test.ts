/**
 * The project flake's outputs, computed by calling its `outputs` function with a fake
 * `self` and a fake `nixpkgs` input (the pinned lib plus fake packages). Nothing is built:
 * the tests check the shape of the outputs and the arguments given to buildNpmPackage.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, nixEvalJson, nixParseError, nixpkgsLib, skipNix } from "../helpers/nix.js";
import { SUPPORT_DIR, nixPath } from "./support/eval.js";

const SYSTEMS = ["x86_64-linux", "aarch64-linux"];

/** `let lib, pkgs, flake (the outputs), ... in <body>` */
function withFlake(body: string): string {
  return `
    let
      lib = import ${nixPath(nixpkgsLib())};
      fakePkgs = system: import ${nixPath(join(SUPPORT_DIR, "fake-pkgs.nix"))} { inherit lib; } // {
        inherit system;
        # Record the arguments, as a derivation-shaped value.
        buildNpmPackage = args: args // {
          type = "derivation";
          name = "\${args.pname}-\${args.version}";
          outPath = "\${builtins.storeDir}/00000000000000000000000000000000-\${args.pname}";
          builtWith = "buildNpmPackage";
        };
        importNpmLock = {
          __functor = _: args: { type = "derivation"; name = "npm-deps"; importNpmLockArgs = args; };
          npmConfigHook = { type = "derivation"; name = "import-npm-lock-config-hook"; };
        };
      };
      nixpkgs = {
        inherit lib;
        legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" "riscv64-linux" ] fakePkgs;
      };
      flakeFile = import ${nixPath(join(REPO_ROOT, "flake.nix"))};
      flake = flakeFile.outputs { self = flake // { outPath = ${nixPath(REPO_ROOT)}; }; inherit nixpkgs; };
      evalWith = modules: lib.evalModules {
        modules = [
          ${nixPath(join(SUPPORT_DIR, "nixos-stubs.nix"))}
          { _module.args.pkgs = fakePkgs "x86_64-linux"; }
        ] ++ modules;
      };
    in ${body}`;
}

function evalFlake<T>(body: string): T {
  return nixEvalJson(withFlake(body)) as T;
}

describe.skipIf(skipNix)("flake.nix", () => {
  it("parses", () => {
    expect(nixParseError(join(REPO_ROOT, "flake.nix"))).toBeNull();
  });

  it("declares only a nixpkgs input and the expected top-level outputs", () => {
    const r = evalFlake<{ inputs: string[]; outputs: string[]; description: string }>(
      `{ inputs = builtins.attrNames flakeFile.inputs; outputs = builtins.attrNames flake; inherit (flakeFile) description; }`,
    );
    expect(r.inputs).toEqual(["nixpkgs"]);
    expect(r.outputs).toEqual(["checks", "nixosModules", "overlays", "packages"]);
    expect(r.description).toMatch(/hwflake/);
  });

  it("nixosModules.default and .hwflake are the module library", () => {
    const r = evalFlake<{ names: string[]; same: boolean; alias: boolean }>(
      `{ names = builtins.attrNames flake.nixosModules;
         same = flake.nixosModules.default == import ${nixPath(join(REPO_ROOT, "modules"))};
         alias = flake.nixosModules.hwflake == flake.nixosModules.default; }`,
    );
    expect(r).toEqual({ names: ["default", "hwflake"], same: true, alias: true });
  });

  it("the exported module evaluates to hwflake units, also when imported twice", () => {
    const units = evalFlake<string[]>(
      `builtins.attrNames (evalWith [
         flake.nixosModules.default
         flake.nixosModules.hwflake
         { services.hwflake.instances.x = { engine = "llama-cpp"; gguf.repo = "a/b"; port = 8080; }; }
       ]).config.systemd.services`,
    );
    expect(units).toEqual(["hwflake-x", "hwflake-x-fetch", "hwflake-x-proxy"]);
  });

  it.each(SYSTEMS)("packages.%s.default is the CLI built with buildNpmPackage + importNpmLock", (system) => {
    const r = evalFlake<Record<string, unknown>>(
      `let p = flake.packages.${system}.default; in {
         names = builtins.attrNames flake.packages.${system};
         same = p == flake.packages.${system}.hwflake;
         inherit (p) pname version builtWith npmBuildScript;
         mainProgram = p.meta.mainProgram;
         license = p.meta.license.spdxId;
         npmRoot = toString p.npmDeps.importNpmLockArgs.npmRoot;
         npmDepsArgs = builtins.attrNames p.npmDeps.importNpmLockArgs;
         configHook = p.npmConfigHook.name;
         hasHash = p ? npmDepsHash || p ? hash;
         keepsSrc = p.src.filter "${REPO_ROOT}/src" "directory";
         keepsLock = p.src.filter "${REPO_ROOT}/package-lock.json" "regular";
         dropsNodeModules = p.src.filter "${REPO_ROOT}/node_modules" "directory";
         dropsDist = p.src.filter "${REPO_ROOT}/dist" "directory";
       }`,
    );
    expect(r).toEqual({
      names: ["default", "hwflake"],
      same: true,
      pname: "hwflake",
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      builtWith: "buildNpmPackage",
      npmBuildScript: "build",
      mainProgram: "hwflake",
      license: "MIT",
      npmRoot: REPO_ROOT,
      npmDepsArgs: ["npmRoot"],
      configHook: "import-npm-lock-config-hook",
      hasHash: false,
      keepsSrc: true,
      keepsLock: true,
      dropsNodeModules: false,
      dropsDist: false,
    });
  });

  it("the package version is package.json's", () => {
    const r = evalFlake<{ v: string; pkg: string }>(
      `{ v = flake.packages.x86_64-linux.default.version; pkg = (lib.importJSON ${nixPath(join(REPO_ROOT, "package.json"))}).version; }`,
    );
    expect(r.v).toBe(r.pkg);
  });

  it("covers exactly the Linux systems, not every system nixpkgs has", () => {
    const r = evalFlake<{ packages: string[]; checks: string[] }>(
      `{ packages = builtins.attrNames flake.packages; checks = builtins.attrNames flake.checks; }`,
    );
    expect(r).toEqual({ packages: [...SYSTEMS].sort(), checks: [...SYSTEMS].sort() });
  });

  it.each(SYSTEMS)("checks.%s builds the package and renders NixOS units", (system) => {
    const r = evalFlake<{ names: string[]; pkg: boolean }>(
      `{ names = builtins.attrNames flake.checks.${system}; pkg = flake.checks.${system}.package == flake.packages.${system}.default; }`,
    );
    expect(r).toEqual({ names: ["nixos-units", "package"], pkg: true });
  });

  it("overlays.default adds hwflake built from the final package set", () => {
    const r = evalFlake<{ pname: string; system: string }>(
      `let final = fakePkgs "aarch64-linux"; p = (flake.overlays.default final final).hwflake; in
         { inherit (p) pname; system = final.system; }`,
    );
    expect(r).toEqual({ pname: "hwflake", system: "aarch64-linux" });
  });
});
