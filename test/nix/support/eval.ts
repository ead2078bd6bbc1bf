/**
 * Evaluate the hwflake module library with lib.evalModules, the typed NixOS stubs and the
 * fake pkgs, and pick values out of the result.
 */
import { join } from "node:path";
import { REPO_ROOT, nixEvalError, nixEvalJson, nixpkgsLib } from "../../helpers/nix.js";

export const SUPPORT_DIR = join(REPO_ROOT, "test", "nix", "support");

import { nixString } from "../../../src/render/nix.js";

/** A Nix string literal holding `s`: the project's own escaper, itself round-trip tested. */
export const nixStr = nixString;

/** A Nix path expression for an absolute file-system path. */
export function nixPath(abs: string): string {
  return `(/. + ${nixStr(abs)})`;
}

/**
 * `let lib, pkgs, hw (the module library's pure helpers), eval, c (= eval.config) in <body>`.
 * `modules` are extra module expressions, e.g. the host configuration under test.
 */
export function withEval(modules: string[], body: string): string {
  return `
    let
      lib = import ${nixPath(nixpkgsLib())};
      pkgs = import ${nixPath(join(SUPPORT_DIR, "fake-pkgs.nix"))} { inherit lib; };
      hw = import ${nixPath(join(REPO_ROOT, "modules", "lib"))} { inherit lib; };
      engines = import ${nixPath(join(REPO_ROOT, "modules", "engines.nix"))} { inherit lib pkgs; };
      eval = lib.evalModules {
        modules = [
          ${nixPath(join(SUPPORT_DIR, "nixos-stubs.nix"))}
          (import ${nixPath(join(REPO_ROOT, "modules"))})
          { _module.args.pkgs = pkgs; }
          ${modules.map((m) => `(${m})`).join("\n          ")}
        ];
      };
      c = eval.config;
      failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
    in ${body}`;
}

/** Evaluate `body` (see withEval) for a host configuration and return its JSON. */
export function evalHost<T = unknown>(hostConfig: string, body: string): T {
  return nixEvalJson(withEval([hostConfig], body)) as T;
}

export function evalHostError(hostConfig: string, body: string): string | null {
  return nixEvalError(withEval([hostConfig], body));
}

/** `{ services.hwflake.instances = { <instances> }; }` */
export function instances(nixBody: string): string {
  return `{ services.hwflake.instances = { ${nixBody} }; }`;
}
