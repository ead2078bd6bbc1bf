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
import { DEFAULT_NIXPKGS_URL, renderFiles } from "../src/render/render.js";
import { nixString } from "../src/render/nix.js";
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
    const files = renderFiles(plan, { nixpkgsUrl: DEFAULT_NIXPKGS_URL });
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
 * The golden host module evaluated through the golden copy of the module library, as NixOS
 * would: `pkgs` is the nixpkgs stand-in built with the overlays the configuration itself sets
 * (`nixpkgs.overlays`, read lazily from the evaluation), so the build sets reach the units the
 * same way they do on a real host. `plain` is the stand-in without them.
 */
function e2eExpr(dir: string, plan: Plan, body: string): string {
  const host = join(dir, "hosts", `${plan.host}.nix`);
  return `
let
  lib = import ${nixString(nixpkgsLib())};
  fake = import ${nixString(join(SUPPORT, "fake-nixpkgs"))};
  plain = fake { inherit lib; };
  pkgs = fake { inherit lib; overlays = c.nixpkgs.overlays; };
  eval = lib.evalModules {
    modules = [
      ${nixString(join(SUPPORT, "nixos-stubs.nix"))}
      (import ${nixString(join(dir, "modules"))})
      { _module.args.pkgs = pkgs; }
      (import ${nixString(host)})
    ];
  };
  c = eval.config;
  engines = import ${nixString(join(dir, "modules", "engines.nix"))} { inherit lib pkgs; };
  # The wrapper script a unit runs instead of the engine (vLLM with an API key), if any.
  launcherText = n: i: let e = engines.\${i.engine} n i; in if e.launcher == null then null else e.launcher.text;
in ${body}`;
}

describe.skipIf(skipNix).each(examples)("end to end $name: golden build sets + host module + module library copy", ({ plan, dir }) => {
  const got = () =>
    nixEvalJson(
      e2eExpr(
        dir,
        plan,
        `{
          failed = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
          overlays = builtins.length c.nixpkgs.overlays;
          config = c.nixpkgs.config;
          units = lib.mapAttrs (n: s: { inherit (s) environment; ExecStart = s.serviceConfig.ExecStart; }) c.systemd.services;
          launchers = lib.mapAttrs launcherText c.services.hwflake.instances;
          packages = lib.mapAttrs (_: set: lib.mapAttrs (n: p: { path = "\${p}"; args = p.args or null; env = p.env or null; }) (removeAttrs set [ "pkgs" "python" ])) pkgs.hwflake;
          setConfigs = lib.mapAttrs (_: set: { inherit (set.pkgs.config) cudaSupport rocmSupport cudaCapabilities; clr = set.pkgs.rocmPackages.clr.localGpuTargets or null; }) pkgs.hwflake;
          stock = {
            same = builtins.all (a: pkgs.\${a}.args == plain.\${a}.args) [ "llama-cpp" "ollama" ]
              && pkgs.python3Packages.torch.args == plain.python3Packages.torch.args
              && pkgs.python3Packages.vllm.args == plain.python3Packages.vllm.args
              && pkgs.config == plain.config
              && (pkgs.rocmPackages.clr.localGpuTargets or null) == null;
            added = lib.subtractLists (builtins.attrNames plain) (builtins.attrNames pkgs);
          };
        }`,
      ),
    ) as {
      failed: string[];
      overlays: number;
      config: Record<string, unknown>;
      units: Record<string, { environment: Record<string, string>; ExecStart: string }>;
      launchers: Record<string, string | null>;
      packages: Record<string, Record<string, { path: string; args: Record<string, unknown> | null; env: Record<string, string> | null }>>;
      setConfigs: Record<string, { cudaSupport: boolean; rocmSupport: boolean; cudaCapabilities: string[]; clr: string[] | null }>;
      stock: { same: boolean; added: string[] };
    };

  it("every instance becomes a unit running its planned package with its pinning, and no assertion fails", () => {
    const r = got();
    expect(r.failed).toEqual([]);
    expect(r.overlays).toBe(1);
    for (const inst of plan.instances) {
      const unit = r.units[`hwflake-${inst.name}`];
      expect(unit, inst.name).toBeDefined();
      const pkgPath = r.packages[inst.buildSet]![inst.engine]!.path;
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
  it("each build set hands nixpkgs exactly the planned override arguments, in a package set with the planned config", () => {
    const r = got();
    expect(Object.keys(r.packages).sort()).toEqual(plan.buildSets.map((b) => b.name).sort());
    for (const set of plan.buildSets) {
      expect(Object.keys(r.packages[set.name]!).sort()).toEqual(set.packages.map((p) => p.engine).sort());
      for (const p of set.packages) {
        const got = r.packages[set.name]![p.engine]!;
        for (const [k, v] of Object.entries(p.args)) expect(got.args?.[k], `${set.name}.${p.engine}.${k}`).toEqual(v);
        for (const [k, v] of Object.entries(p.env)) expect(got.env?.[k]).toBe(v);
      }
      const cfg = r.setConfigs[set.name]!;
      expect(cfg.rocmSupport).toBe(set.backend === "rocm");
      expect(cfg.cudaSupport).toBe(set.backend === "cuda");
      expect(cfg.cudaCapabilities).toEqual(set.backend === "cuda" ? set.targets : []);
      expect(cfg.clr).toEqual(set.rocmGpuTargets?.value ?? null);
    }
  });
  it("the host's own packages and nixpkgs config stay stock: the configuration only adds pkgs.hwflake", () => {
    const r = got();
    expect(r.config).toEqual({ cudaCapabilities: [], cudaForwardCompat: true });
    expect(r.stock).toEqual({ same: true, added: ["hwflake"] });
  });
  it("instances on one build set run one derivation; instances on different sets do not", () => {
    const r = got();
    const path = (i: (typeof plan.instances)[number]) => r.packages[i.buildSet]![i.engine]!.path;
    for (const a of plan.instances)
      for (const b of plan.instances) {
        const same = a.buildSet === b.buildSet && a.engine === b.engine;
        expect(path(a) === path(b), `${a.name} vs ${b.name}`).toBe(same);
      }
  });
});
