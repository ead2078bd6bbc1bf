/**
 * Golden output per example profile (test/golden/<example>/), compared byte for byte, and
 * checked end to end with the real Nix: every file parses, the overlay applies to nixpkgs
 * stand-ins with exactly nixpkgs' argument names, and the host module evaluates against the
 * module library copy into the systemd units the plan promised.
 *
 * The library copy (`modules/**` of an output) is not committed per example: it is the shipped
 * library under the output's shared marker, and is checked as exactly that. The end-to-end
 * checks run on each example's whole output, written by the real writer to a temporary folder.
 *
 * UPDATE_GOLDEN=1 rewrites the golden folders; read the diff before committing it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { parseProfileText } from "../src/profile/index.js";
import { fleetOfPlans, planFleet, planHost, type FleetPlan, type Plan } from "../src/plan/index.js";
import { parseFleetText } from "../src/profile/index.js";
import { DEFAULT_NIXPKGS_URL, renderFleet } from "../src/render/render.js";
import { nixString } from "../src/render/nix.js";
import { loadModuleLibrary } from "../src/render/templates.js";
import { writeFiles } from "../src/write/write.js";
import { argv } from "./nix/support/systemd.js";
import { REPO_ROOT, nixEvalJson, nixParseError, skipNix } from "./helpers/nix.js";
import { withOutputEval } from "./nix/support/eval.js";

const EXAMPLES = join(REPO_ROOT, "examples");
const GOLDEN = join(REPO_ROOT, "test", "golden");

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}

/** Every example: a profile (a fleet of one) or a folder of profiles (a fleet, fleet.yaml optional). */
const examples = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith(".yaml") || statSync(join(EXAMPLES, f)).isDirectory())
  .sort()
  .map((f) => {
    const path = join(EXAMPLES, f);
    const name = f.replace(/\.yaml$/, "");
    let fleet: FleetPlan;
    if (f.endsWith(".yaml")) {
      const plan = planHost(parseProfileText(readFileSync(path, "utf8"), path));
      fleet = fleetOfPlans(plan.host, [plan]);
    } else {
      const hosts = readdirSync(path)
        .filter((n) => n.endsWith(".yaml") && n !== "fleet.yaml")
        .sort()
        .map((n) => ({ file: n, profile: parseProfileText(readFileSync(join(path, n), "utf8"), n) }));
      const specFile = join(path, "fleet.yaml");
      const spec = existsSync(specFile) ? { file: "fleet.yaml", spec: parseFleetText(readFileSync(specFile, "utf8"), "fleet.yaml") } : null;
      fleet = planFleet(name, hosts, spec);
    }
    const files = renderFleet(fleet, { nixpkgsUrl: DEFAULT_NIXPKGS_URL });
    const out = mkdtempSync(join(tmpdir(), `hwflake-golden-${name}-`));
    return { name, fleet, files, dir: join(GOLDEN, name), out };
  });

/** True for a file of the module library copy, which the golden folders leave out. */
const isLibraryCopy = (path: string) => path.startsWith("modules/");

beforeAll(async () => {
  for (const ex of examples) await writeFiles(ex.files, { outDir: ex.out });
});
afterAll(() => {
  for (const ex of examples) rmSync(ex.out, { recursive: true, force: true });
});

/** One host of an example, with the instances its module runs (its own and the services it heads). */
const hostCases = examples.flatMap((ex) =>
  ex.fleet.hosts.map((plan) => ({
    name: ex.fleet.hosts.length === 1 ? ex.name : `${ex.name}/${plan.host}`,
    dir: ex.out,
    fleet: ex.fleet,
    plan,
    instances: [...plan.instances, ...ex.fleet.services.filter((s) => s.members[0]!.host === plan.host).map((s) => s.instance)],
    ray: ex.fleet.services.flatMap((s) => s.members.filter((m) => m.host === plan.host).map((m) => ({ service: s, member: m }))),
  })),
);

if (process.env.UPDATE_GOLDEN) {
  for (const ex of examples) {
    rmSync(ex.dir, { recursive: true, force: true });
    for (const f of ex.files.filter((f) => !isLibraryCopy(f.path))) {
      mkdirSync(dirname(join(ex.dir, f.path)), { recursive: true });
      writeFileSync(join(ex.dir, f.path), f.contents);
    }
  }
}

describe.each(examples)("golden $name", ({ fleet, files, dir, out }) => {
  it("the plan is accepted", () => {
    expect(fleet.refused).toBe(false);
  });
  it("renders exactly the committed files, byte for byte", () => {
    const golden = listFiles(dir).map((p) => relative(dir, p).split("\\").join("/")).sort();
    const own = files.filter((f) => !isLibraryCopy(f.path));
    expect(own.map((f) => f.path)).toEqual(golden);
    for (const f of own) expect(f.contents, f.path).toBe(readFileSync(join(dir, f.path), "utf8"));
  });
  it("the module library copy is the shipped library under the output's shared marker, byte for byte", () => {
    const marker = files.find((f) => f.path === "flake.nix")!.contents.split("\n")[0]!;
    const copy = files.filter((f) => isLibraryCopy(f.path));
    expect(copy.map((f) => f.path)).toEqual(loadModuleLibrary().map((l) => `modules/${l.path}`));
    for (const l of loadModuleLibrary()) expect(copy.find((f) => f.path === `modules/${l.path}`)!.contents, l.path).toBe(`${marker}\n${l.contents}`);
  });
  it.skipIf(skipNix)("every .nix file of the output parses with nix-instantiate --parse", () => {
    const nix = listFiles(out).filter((p) => p.endsWith(".nix"));
    expect(nix.length).toBeGreaterThanOrEqual(3);
    for (const p of nix) expect(nixParseError(p), p).toBeNull();
  });
});

/** The example's host module evaluated through the output's library copy (see withOutputEval). */
function e2eExpr(dir: string, plan: Plan, body: string, stubs?: string): string {
  const lets = `
      engines = import ${nixString(join(dir, "modules", "engines.nix"))} { inherit lib pkgs; };
      # The wrapper script a unit runs instead of the engine (vLLM with an API key), if any.
      launcherText = n: i: let e = engines.\${i.engine} n i; in if e.launcher == null then null else e.launcher.text;`;
  return withOutputEval({ dir, host: plan.host }, body, { lets, ...(stubs ? { stubs } : {}) });
}

describe.skipIf(skipNix).each(hostCases)("end to end $name: golden build sets + host module + module library copy", ({ plan, dir, fleet, instances, ray }) => {
  const got = () =>
    nixEvalJson(
      e2eExpr(
        dir,
        plan,
        `{
          failed = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
          overlays = builtins.length c.nixpkgs.overlays;
          config = c.nixpkgs.config;
          units = lib.mapAttrs (n: s: { inherit (s) environment after requires; ExecStart = s.serviceConfig.ExecStart; }) c.systemd.services;
          firewall = c.networking.firewall.extraCommands;
          rayEnvs = lib.mapAttrs (_: set: if set ? ray-env then { path = "\${set.ray-env}"; inherit (set.ray-env.args) packages; } else null) pkgs.hwflake;
          sockets = lib.mapAttrs (n: s: s.listenStreams) c.systemd.sockets;
          launchers = lib.mapAttrs launcherText c.services.hwflake.instances;
          packages = lib.mapAttrs (_: set: lib.mapAttrs (n: p: { path = "\${p}"; args = p.args or null; env = p.env or null; }) (removeAttrs set [ "pkgs" "ray-env" "python" ])) pkgs.hwflake;
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
      units: Record<string, { environment: Record<string, string>; after: string[]; requires: string[]; ExecStart: string }>;
      firewall: string;
      rayEnvs: Record<string, { path: string; packages: string[] } | null>;
      sockets: Record<string, string[]>;
      launchers: Record<string, string | null>;
      packages: Record<string, Record<string, { path: string; args: Record<string, unknown> | null; env: Record<string, string> | null }>>;
      setConfigs: Record<string, { cudaSupport: boolean; rocmSupport: boolean; cudaCapabilities: string[]; clr: string[] | null }>;
      stock: { same: boolean; added: string[] };
    };

  it("every instance becomes a unit running its planned package with its pinning, and no assertion fails", () => {
    const r = got();
    expect(r.failed).toEqual([]);
    expect(r.overlays).toBe(1);
    for (const inst of instances) {
      const unit = r.units[`hwflake-${inst.name}`];
      expect(unit, inst.name).toBeDefined();
      const pkgPath = r.packages[inst.buildSet]![inst.engine]!.path;
      const args = argv(unit!.ExecStart);
      // The unit runs the planned package, directly or through the API-key launcher.
      const launcher = r.launchers[inst.name];
      if (launcher) expect(launcher).toContain(`exec ${pkgPath}/bin/`);
      else expect(args[0]!.startsWith(`${pkgPath}/bin/`), args[0]).toBe(true);
      for (const [k, v] of Object.entries(inst.environment)) expect(unit!.environment[k]).toBe(v);
      // The listen address is the proxy socket's; the server listens on its own namespace's
      // loopback, on the same port.
      // A server on the host's network (a Ray driver) listens on its address itself, unproxied.
      const bracketed = inst.listen.includes(":") ? `[${inst.listen}]` : inst.listen;
      if (inst.network === "host") expect(r.sockets[`hwflake-${inst.name}-proxy`]).toBeUndefined();
      else expect(r.sockets[`hwflake-${inst.name}-proxy`]).toEqual([`${bracketed}:${inst.port}`]);
      if (inst.engine !== "ollama") {
        expect(args[args.indexOf("--port") + 1]).toBe(String(inst.port));
        expect(args[args.indexOf("--host") + 1]).toBe(inst.network === "host" ? inst.listen : "127.0.0.1");
        // The planner's extra arguments reach the engine, in order.
        expect(args.slice(args.length - inst.extraArgs.length)).toEqual(inst.extraArgs);
      } else {
        // Ollama binds 0.0.0.0 in its namespace for a listener beyond loopback (its Host check).
        const inner = ["127.0.0.1", "::1", "localhost"].includes(inst.listen) ? "127.0.0.1" : "0.0.0.0";
        expect(unit!.environment.OLLAMA_HOST).toBe(`${inner}:${inst.port}`);
      }
      if (inst.apiKeyFile) expect(unit!.ExecStart).not.toContain(inst.apiKeyFile);
    }
  });
  it("each build set hands nixpkgs exactly the planned override arguments, in a package set with the planned config", () => {
    const r = got();
    const sets = fleet.buildSets.filter((b) => b.system === plan.system);
    expect(Object.keys(r.packages).sort()).toEqual([...new Set(fleet.buildSets.map((b) => b.name))].sort());
    for (const set of sets) {
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
  it("every Ray node of a service this host is in becomes its unit, from the set's Python with vLLM and Ray", () => {
    const r = got();
    for (const { service, member } of ray) {
      const unit = r.units[`hwflake-ray-${service.name}`]!;
      expect(unit, service.name).toBeDefined();
      const env = r.rayEnvs[service.buildSet]!;
      expect(env.packages).toEqual(["vllm", "ray"]);
      const args = argv(unit.ExecStart);
      expect(args.slice(0, 3)).toEqual([`${env.path}/bin/ray`, "start", "--block"]);
      expect(args).toContain(`--node-ip-address=${member.address}`);
      if (member.role === "head") {
        expect(args).toEqual(expect.arrayContaining(["--head", `--port=${service.rayPort}`]));
        // The OpenAI server waits for the head and finds it through RAY_ADDRESS.
        expect(r.units[`hwflake-${service.name}`]!.requires).toContain(`hwflake-ray-${service.name}.service`);
      } else expect(args).toContain(`--address=${service.members[0]!.address}:${service.rayPort}`);
      for (const [k, v] of Object.entries(member.environment)) expect(unit.environment[k]).toBe(v);
      // The firewall admits the other members, and only them.
      for (const peer of service.members.filter((m) => m.host !== member.host)) expect(r.firewall).toContain(`-s ${peer.address} -j nixos-fw-accept`);
      expect(r.firewall).not.toContain(`-s ${member.address} `);
    }
    if (ray.length === 0) expect(r.firewall).toBe("");
  });
  it("instances on one build set run one derivation; instances on different sets do not", () => {
    const r = got();
    const path = (i: (typeof instances)[number]) => r.packages[i.buildSet]![i.engine]!.path;
    for (const a of instances)
      for (const b of instances) {
        const same = a.buildSet === b.buildSet && a.engine === b.engine;
        expect(path(a) === path(b), `${a.name} vs ${b.name}`).toBe(same);
      }
  });
});

/**
 * The same golden host module and module library copy under typed stand-ins of
 * numtide/system-manager's options (support/system-manager-stubs.nix, with the revision they
 * were read at): what a host that is not NixOS gets from systemConfigs is what NixOS gets.
 */
describe.skipIf(skipNix).each(hostCases.filter((e) => e.plan.os?.id !== "nixos"))("system-manager $name: same units and launchers as NixOS", ({ plan, dir, instances }) => {
  it("evaluates without failed assertions into the NixOS units, and each instance's launcher is the same script", () => {
    const body = `{
      failed = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
      units = lib.mapAttrs (n: s: { inherit (s) environment wantedBy after; serviceConfig = s.serviceConfig; }) c.systemd.services;
      launchers = lib.mapAttrs (_: i: i.launcher.text) c.services.hwflake.instances;
    }`;
    const nixos = nixEvalJson(e2eExpr(dir, plan, body)) as { failed: string[]; units: object; launchers: Record<string, string> };
    const sm = nixEvalJson(e2eExpr(dir, plan, body, "system-manager-stubs.nix")) as typeof nixos;
    // nginx is NixOS's: under system-manager a host with load balancers is told so, and nothing else fails.
    if ((plan.loadBalancers ?? []).length > 0) {
      expect(sm.failed).toHaveLength(1);
      expect(sm.failed[0]).toMatch(/need NixOS's services\.nginx, which this system has not; serve each entry with parallel = "tensor"/);
      return;
    }
    expect(sm.failed).toEqual([]);
    expect(sm.units).toEqual(nixos.units);
    expect(sm.launchers).toEqual(nixos.launchers);
    expect(Object.keys(sm.launchers).sort()).toEqual(instances.map((i) => i.name).sort());
  });
});

// What users run is the build: dist/ and its precompiled templates (npm test builds first).
describe("the built CLI", () => {
  const bin = join(REPO_ROOT, "bin", "hwflake.js");
  const compiled = join(REPO_ROOT, "dist", "render", "templates.compiled.cjs");

  it("has every template precompiled from the current sources", () => {
    expect(existsSync(compiled), "dist/ is missing or old: run npm run build").toBe(true);
    const built = Object.fromEntries(
      [...readFileSync(compiled, "utf8").matchAll(/^ {4}"([^"]+)": \{\n {6}sha256: "([0-9a-f]{64})"/gm)].map((m) => [m[1], m[2]]),
    );
    const dir = join(REPO_ROOT, "templates");
    const sources = Object.fromEntries(
      readdirSync(dir)
        .filter((f) => f.endsWith(".hbs"))
        .map((f) => [f.replace(/\.hbs$/, ""), createHash("sha256").update(readFileSync(join(dir, f), "utf8"), "utf8").digest("hex")]),
    );
    expect(built).toEqual(sources);
  });

  it.each(examples.map((ex) => [ex.name, ex] as const))("%s: writes the golden output", (_name, ex) => {
    const out = mkdtempSync(join(tmpdir(), `hwflake-built-${ex.name}-`));
    try {
      const folder = join(EXAMPLES, ex.name);
      const args = existsSync(folder) ? ["--fleet", folder] : ["--profile", `${folder}.yaml`];
      execFileSync(process.execPath, [bin, "generate", ...args, "--out", out], { stdio: "pipe" });
      for (const f of ex.files) expect([f.path, readFileSync(join(out, f.path), "utf8")]).toEqual([f.path, f.contents]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
