/**
 * Golden output per example profile (test/golden/<example>/), compared byte for byte, and
 * checked end to end with the real Nix: every file parses, the overlay applies to nixpkgs
 * stand-ins with exactly nixpkgs' argument names, and the host module evaluates against the
 * module library in modules/ into the systemd units the plan promised.
 *
 * UPDATE_GOLDEN=1 rewrites the golden folders; read the diff before committing it.
 */
import { describe, expect, it } from "vitest";
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { parseProfileText } from "../src/profile/index.js";
import { planHost, type Plan } from "../src/plan/index.js";
import { DEFAULT_HWFLAKE_URL, DEFAULT_NIXPKGS_URL, renderFiles } from "../src/render/render.js";
import { toNix, nixString } from "../src/render/nix.js";
import { argv } from "./nix/support/systemd.js";
import { REPO_ROOT, nixEvalJson, nixParseError, nixpkgsLib, skipNix } from "./helpers/nix.js";

const EXAMPLES = join(REPO_ROOT, "examples");
const GOLDEN = join(REPO_ROOT, "test", "golden");
const SUPPORT = join(REPO_ROOT, "test", "nix", "support");

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}

const examples = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => {
    const file = join(EXAMPLES, f);
    const plan = planHost(parseProfileText(readFileSync(file, "utf8"), file));
    const files = renderFiles(plan, { hwflakeUrl: DEFAULT_HWFLAKE_URL, nixpkgsUrl: DEFAULT_NIXPKGS_URL });
    return { name: f.replace(/\.yaml$/, ""), plan, files, dir: join(GOLDEN, f.replace(/\.yaml$/, "")) };
  });

if (process.env.UPDATE_GOLDEN) {
  for (const ex of examples) {
    rmSync(ex.dir, { recursive: true, force: true });
    for (const f of ex.files) {
      mkdirSync(dirname(join(ex.dir, f.path)), { recursive: true });
      writeFileSync(join(ex.dir, f.path), f.contents);
    }
  }
}

describe.each(examples)("golden $name", ({ plan, files, dir }) => {
  it("the plan is accepted", () => {
    expect(plan.refused).toBe(false);
  });
  it("renders exactly the committed files, byte for byte", () => {
    const golden = listFiles(dir).map((p) => relative(dir, p).split("\\").join("/")).sort();
    expect(files.map((f) => f.path)).toEqual(golden);
    for (const f of files) expect(f.contents, f.path).toBe(readFileSync(join(dir, f.path), "utf8"));
  });
  it.skipIf(skipNix)("every golden .nix file parses with nix-instantiate --parse", () => {
    const nix = listFiles(dir).filter((p) => p.endsWith(".nix"));
    expect(nix.length).toBeGreaterThanOrEqual(3);
    for (const p of nix) expect(nixParseError(p), p).toBeNull();
  });
});

/**
 * pkgs for the module evaluation: nixpkgs stand-ins with the golden overlay applied (each
 * hwflake package given a store path that encodes its override arguments), plus the script
 * writers the module library uses.
 */
function e2eExpr(dir: string, plan: Plan, body: string): string {
  const host = join(dir, "hosts", `${plan.host}.nix`);
  return `
let
  lib = import ${nixString(nixpkgsLib())};
  overlay = import ${nixString(join(dir, "overlays", "default.nix"))};
  fake = import ${nixString(join(SUPPORT, "fake-nixpkgs"))} {
    inherit lib;
    config = ${toNix(plan.shared.nixpkgsConfig?.value ?? {}, 2)};
    overlays = [ overlay ];
  };
  storePath = name: p: p // {
    outPath = "/nix/store/" + builtins.substring 0 32 (builtins.hashString "sha256" (builtins.toJSON (p.args or p.env or { }))) + "-" + name;
  };
  pkgs = import ${nixString(join(SUPPORT, "fake-pkgs.nix"))} { inherit lib; } // {
    hwflake = lib.mapAttrs storePath fake.hwflake;
  };
  eval = lib.evalModules {
    modules = [
      ${nixString(join(SUPPORT, "nixos-stubs.nix"))}
      (import ${nixString(join(REPO_ROOT, "modules"))})
      { _module.args.pkgs = pkgs; }
      (import ${nixString(host)})
    ];
  };
  c = eval.config;
  engines = import ${nixString(join(REPO_ROOT, "modules", "engines.nix"))} { inherit lib pkgs; };
  # The wrapper script a unit runs instead of the engine (vLLM with an API key), if any.
  launcherText = n: i: let e = engines.\${i.engine} n i; in if e.launcher == null then null else e.launcher.text;
in ${body}`;
}

describe.skipIf(skipNix).each(examples)("end to end $name: golden overlay + host module + module library", ({ plan, dir }) => {
  const got = () =>
    nixEvalJson(
      e2eExpr(
        dir,
        plan,
        `{
          failed = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
          overlays = builtins.length c.nixpkgs.overlays;
          units = lib.mapAttrs (n: s: { inherit (s) environment; ExecStart = s.serviceConfig.ExecStart; }) c.systemd.services;
          launchers = lib.mapAttrs launcherText c.services.hwflake.instances;
          packages = lib.mapAttrs (n: p: { path = "\${p}"; args = p.args or null; env = p.env or null; }) pkgs.hwflake;
        }`,
      ),
    ) as {
      failed: string[];
      overlays: number;
      units: Record<string, { environment: Record<string, string>; ExecStart: string }>;
      launchers: Record<string, string | null>;
      packages: Record<string, { path: string; args: Record<string, unknown> | null; env: Record<string, string> | null }>;
    };

  it("every instance becomes a unit running its planned package with its pinning, and no assertion fails", () => {
    const r = got();
    expect(r.failed).toEqual([]);
    expect(r.overlays).toBe(1);
    for (const inst of plan.instances) {
      const unit = r.units[`hwflake-${inst.name}`];
      expect(unit, inst.name).toBeDefined();
      const pkgPath = r.packages[inst.package]!.path;
      const args = argv(unit!.ExecStart);
      // The unit runs the planned package, directly or through the API-key launcher.
      const launcher = r.launchers[inst.name];
      if (launcher) expect(launcher).toContain(`exec ${pkgPath}/bin/`);
      else expect(args[0]!.startsWith(`${pkgPath}/bin/`), args[0]).toBe(true);
      for (const [k, v] of Object.entries(inst.environment)) expect(unit!.environment[k]).toBe(v);
      if (inst.engine !== "ollama") {
        expect(args[args.indexOf("--port") + 1]).toBe(String(inst.port));
        expect(args[args.indexOf("--host") + 1]).toBe(inst.listen);
        // The planner's extra arguments reach the engine, in order.
        expect(args.slice(args.length - inst.extraArgs.length)).toEqual(inst.extraArgs);
      } else expect(unit!.environment.OLLAMA_HOST).toBe(`${inst.listen}:${inst.port}`);
      if (inst.apiKeyFile) expect(unit!.ExecStart).not.toContain(inst.apiKeyFile);
    }
  });
  it("the overlay hands nixpkgs exactly the planned override arguments", () => {
    const r = got();
    expect(Object.keys(r.packages).sort()).toEqual(plan.packages.map((p) => p.name).sort());
    for (const p of plan.packages) {
      for (const [k, v] of Object.entries(p.args)) expect(r.packages[p.name]!.args?.[k], `${p.name}.${k}`).toEqual(v);
      for (const [k, v] of Object.entries(p.env)) expect(r.packages[p.name]!.env?.[k]).toBe(v);
    }
  });
});
