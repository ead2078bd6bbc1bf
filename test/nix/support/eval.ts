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

/**
 * `let lib, plain, pkgs, eval, c <lets> in <body>` for one host of a rendered output, evaluated
 * as NixOS would: `pkgs` is the nixpkgs stand-in (fake-nixpkgs) built with the overlays the
 * configuration itself sets (`nixpkgs.overlays`, read lazily from the evaluation), so the build
 * sets reach the units the way they do on a real host; `plain` is the stand-in without them.
 * `modules` is the library imported (the output's copy by default); `stubs` the option
 * stand-ins (NixOS's by default, or system-manager-stubs.nix); `lets` extra bindings, Nix text.
 */
export function withOutputEval(
  out: { dir: string; host: string; modules?: string },
  body: string,
  opts: { stubs?: string; lets?: string } = {},
): string {
  return `
    let
      lib = import ${nixPath(nixpkgsLib())};
      fake = import ${nixPath(join(SUPPORT_DIR, "fake-nixpkgs"))};
      plain = fake { inherit lib; };
      pkgs = fake { inherit lib; overlays = c.nixpkgs.overlays; };
      eval = lib.evalModules {
        modules = [
          ${nixPath(join(SUPPORT_DIR, opts.stubs ?? "nixos-stubs.nix"))}
          (import ${nixPath(out.modules ?? join(out.dir, "modules"))})
          { _module.args.pkgs = pkgs; }
          (import ${nixPath(join(out.dir, "hosts", `${out.host}.nix`))})
        ];
      };
      c = eval.config;
      ${opts.lets ?? ""}
    in ${body}`;
}
