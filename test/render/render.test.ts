/**
 * renderFiles: the generated flake, build sets, host module, module library copy and README for
 * hand-built plans.
 *
 * The Nix checks run the real evaluator on the output: every file parses, the host module's
 * option values are exactly the plan's strings (no `${` injection), and the flake's outputs
 * evaluate against stub inputs built on the pinned nixpkgs lib.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InternalError } from "../../src/errors.js";
import type { Plan } from "../../src/plan/types.js";
import { nixString } from "../../src/render/nix.js";
import { DEFAULT_NIXPKGS_URL, renderFiles, type RenderOptions } from "../../src/render/render.js";
import { hasMarker, markerText } from "../../src/write/marker.js";
import { writeFiles } from "../../src/write/write.js";
import { nixEvalJson, nixParseError, nixpkgsLib, nixUnavailable, REPO_ROOT, skipNix } from "../helpers/nix.js";
import { SUPPORT_DIR } from "../nix/support/eval.js";

const FAKE_NIXPKGS = join(SUPPORT_DIR, "fake-nixpkgs");
import { cpuVllmPlan, cudaVllmPlan, FIXTURES, ollamaPlan, RENDER_OPTS, RENDER_OPTS_INPUT, rocmLlamaPlan } from "./fixtures.js";
import { loadModuleLibrary } from "../../src/render/templates.js";

if (skipNix) console.warn(`skipping Nix evaluation of rendered files: ${nixUnavailable}`);

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Render `plan` into a fresh temp folder and return the folder. */
async function renderToDir(plan: Plan): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hwflake-render-"));
  dirs.push(dir);
  await writeFiles(renderFiles(plan, RENDER_OPTS), { outDir: dir });
  return dir;
}

const byPath = (plan: Plan) => new Map(renderFiles(plan, RENDER_OPTS).map((f) => [f.path, f.contents]));

describe.each(FIXTURES)("%s", (_name, make) => {
  const plan = make();
  const files = renderFiles(plan, RENDER_OPTS);

  it("emits the flake, build sets, host module, README and the module library copy, sorted", () => {
    const library = loadModuleLibrary().map((f) => `modules/${f.path}`);
    expect(library).toEqual(expect.arrayContaining(["modules/default.nix", "modules/lib/build-sets.nix", "modules/lib/default.nix"]));
    expect(files.map((f) => f.path)).toEqual(["README.md", "build-sets.nix", "flake.nix", `hosts/${plan.host}.nix`, ...library]);
  });

  it("with --hwflake-url the library is not copied: the flake takes it from its input", () => {
    const paths = renderFiles(plan, RENDER_OPTS_INPUT).map((f) => f.path);
    expect(paths).toEqual(["README.md", "build-sets.nix", "flake.nix", `hosts/${plan.host}.nix`]);
  });

  it("the module library copy is the shipped library, byte for byte after the marker", () => {
    for (const lib of loadModuleLibrary()) {
      const copy = files.find((f) => f.path === `modules/${lib.path}`)!;
      expect(copy.contents.split("\n").slice(1).join("\n").trimEnd()).toBe(lib.contents.trimEnd().split("\n").map((l) => l.replace(/[ \t]+$/, "")).join("\n"));
    }
  });

  it.each(files.map((f) => [f.path, f.contents] as const))("%s has the marker and clean whitespace", (path, contents) => {
    const first = contents.split("\n")[0];
    expect(first).toContain(markerText(plan.host));
    expect(first).toBe(path.endsWith(".md") ? `<!-- ${markerText(plan.host)} -->` : `# ${markerText(plan.host)}`);
    expect(hasMarker(contents)).toBe(true);
    expect(contents.endsWith("\n")).toBe(true);
    expect(contents.endsWith("\n\n")).toBe(false);
    expect(contents).not.toMatch(/[ \t]+$/m);
    expect(contents).not.toContain("\r");
    expect(contents).not.toMatch(/\n\n\n/);
  });

  it("is byte-identical across runs", () => {
    expect(renderFiles(make(), RENDER_OPTS)).toEqual(files);
    expect(renderFiles(structuredClone(plan), RENDER_OPTS)).toEqual(files);
  });

  it.each([
    ["HTML-escaped quote", "&quot;"],
    ["HTML-escaped apostrophe", "&#x27;"],
    ["HTML-escaped equals", "&#x3D;"],
    ["a home folder", "/home/"],
    ["a temp folder", "/tmp/"],
    ["the work folder", "/work/"],
    ["an unrendered mustache", "{{"],
  ])("contains no %s", (_what, needle) => {
    for (const f of files) expect(f.contents, f.path).not.toContain(needle);
  });

  it("contains no date or time", () => {
    for (const f of files) {
      expect(f.contents, f.path).not.toMatch(/\b(19|20)\d\d-[01]\d-[0-3]\d\b/);
      expect(f.contents, f.path).not.toMatch(/\b[0-2]\d:[0-5]\d:[0-5]\d\b/);
    }
  });

  it.skipIf(skipNix)("every .nix file parses", async () => {
    const dir = await renderToDir(plan);
    for (const f of files.filter((x) => x.path.endsWith(".nix"))) {
      expect(nixParseError(join(dir, f.path)), f.path).toBeNull();
    }
  });
});

describe("flake.nix", () => {
  it("by default needs no input but nixpkgs, defaulting to nixos-unstable", () => {
    const dflt = renderFiles(rocmLlamaPlan(), {}).find((f) => f.path === "flake.nix")?.contents ?? "";
    expect(dflt).toContain(`nixpkgs.url = ${nixString(DEFAULT_NIXPKGS_URL)};`);
    expect(dflt).not.toContain("hwflake.url");
    expect(dflt).not.toMatch(/^\s+hwflake = \{/m);
    expect(dflt).toContain("modules = ./modules;");
  });

  it("takes the library from a hwflake input when given its URL", () => {
    const custom = renderFiles(rocmLlamaPlan(), RENDER_OPTS_INPUT).find((f) => f.path === "flake.nix")?.contents ?? "";
    expect(custom).toContain(`url = ${nixString(RENDER_OPTS_INPUT.hwflakeUrl)};`);
    expect(custom).toContain('modules = hwflake.outPath + "/modules";');
  });
});

describe("plan consistency", () => {
  it("refuses an instance whose build set the plan does not have", () => {
    const plan = rocmLlamaPlan();
    const bad: Plan = { ...plan, instances: plan.instances.map((i) => ({ ...i, buildSet: "nope" })) };
    expect(() => renderFiles(bad, RENDER_OPTS)).toThrow(/nope/);
    expect(() => renderFiles(bad, RENDER_OPTS)).toThrow(InternalError);
  });

  it("refuses a host name that cannot be a file name", () => {
    expect(() => renderFiles({ ...rocmLlamaPlan(), host: "../etc" }, RENDER_OPTS)).toThrow(InternalError);
  });

  it.each(FIXTURES)("%s: nothing generated touches the host's packages or nixpkgs config", (_n, make) => {
    const plan = make();
    for (const f of renderFiles(plan, RENDER_OPTS).filter((x) => x.path.endsWith(".nix") && !x.path.startsWith("modules/"))) {
      for (const needle of ["pythonPackagesExtensions", "nixpkgs.config", "nixpkgs.overlays", "rocmPackages =", "allowUnfree ="])
        expect(f.contents, `${f.path}: ${needle}`).not.toContain(needle);
    }
  });

  it("puts the set's narrowing and licences in build-sets.nix only when the set has them", () => {
    const rocm = byPath(rocmLlamaPlan()).get("build-sets.nix") ?? "";
    const cuda = byPath(cudaVllmPlan()).get("build-sets.nix") ?? "";
    const cpu = byPath(cpuVllmPlan()).get("build-sets.nix") ?? "";
    expect(rocm).toMatch(/rocmGpuTargets = \[ "gfx906" \];/);
    expect(rocm).not.toContain("allowUnfreeLicenses");
    expect(cuda).toMatch(/cudaCapabilities = \[ "8\.6" \];/);
    expect(cuda).toMatch(/allowUnfreeLicenses = \[\n\s+"CUDA EULA"/);
    expect(cuda).not.toContain("rocmGpuTargets");
    expect(cpu).not.toContain("rocmGpuTargets");
    expect(cpu).toContain('base = "python3Packages.vllm";');
    expect(cpu).toMatch(/env = \{\n\s+VLLM_CPU_DISABLE_AVX512 = "true";/);
  });

  it("writes each decision's reason as a comment above its value", () => {
    const sets = byPath(rocmLlamaPlan()).get("build-sets.nix") ?? "";
    expect(sets).toMatch(/# vLLM does not support gfx906; llama\.cpp's HIP backend does\n(\s+# Source: [^\n]+\n)*\s+llama-cpp = \{/);
    expect(sets).toMatch(/# Build ROCm libraries for the installed GPU only: gfx906\n(\s+# Source: [^\n]+\n)*\s+rocmGpuTargets = /);
    expect(sets).toMatch(/# Compiles from source: llama\.cpp \(HIP\) \(roughly 15–30 min, up to ~2 GB of disk\); narrowed ROCm is in no public cache\.\n/);
  });

  it("README lists every instance, build and finding", () => {
    const readme = byPath(rocmLlamaPlan()).get("README.md") ?? "";
    expect(readme).toContain("| `chat` | llama-cpp | rocm (gpu0) |");
    expect(readme).toContain("`ROCM_GFX906_DEPRECATED`");
    expect(readme).toContain("maintenance mode in ROCm \\| may drop soon"); // the pipe cannot split the row
    expect(readme).toContain("nix build .#llama-cpp-rocm-gfx906");
    expect(readme).toContain("| `rocm-gfx906` | rocm | gfx906 |");
    expect(readme).toContain("### Build-cost forecast");
    expect(readme).toContain("| `rocm-gfx906` | llama.cpp (HIP) | 15–30 min | ~2 GB | 8 cores | seed 001 |");
    expect(readme).toContain("nix flake check");
    expect(readme).toContain("nixosModules.default");
  });

  it("README says so when the plan was refused", () => {
    expect(byPath({ ...rocmLlamaPlan(), refused: true }).get("README.md")).toContain("This plan was refused");
  });
});

/** A plan whose user-controlled strings try to break out of their Nix literals. */
function hostilePlan(): Plan {
  const plan = cpuVllmPlan();
  const evil = 'x"; y = builtins.abort "pwned"; z = "${builtins.abort "pwned"}' + "''${x} \\ $ \n\t\u0001";
  const inst = plan.instances[0];
  if (!inst) throw new Error("fixture has an instance");
  return {
    ...plan,
    instances: [
      {
        ...inst,
        name: "odd name",
        model: { kind: "hf", id: evil },
        environment: { [`K${evil}`]: evil, PLAIN: "${HOME}" },
        extraArgs: [evil, "--x=${y}"],
        apiKeyFile: `/run/keys/${evil}`,
        engineDecision: { ...inst.engineDecision, reason: `reason\n}; injected = builtins.abort "pwned"; {` },
      },
    ],
    buildSets: plan.buildSets.map((b) => ({ ...b, packages: b.packages.map((p) => ({ ...p, reason: "line one\nboom = builtins.abort 1;" })) })),
  };
}

describe.skipIf(skipNix)("evaluated output", () => {
  it("`${` in a model name cannot inject: the host module's option values are the plan's strings", async () => {
    const plan = hostilePlan();
    const dir = await renderToDir(plan);
    const host = join(dir, "hosts", `${plan.host}.nix`);
    const got = nixEvalJson(
      `(import ${nixString(host)} { pkgs = { hwflake.cpu.vllm = "PKG"; }; }).services.hwflake.instances`,
    );
    const inst = plan.instances[0]!;
    expect(got).toEqual({
      "odd name": {
        enable: true,
        engine: "vllm",
        package: "PKG",
        model: (inst.model as { id: string }).id,
        host: inst.listen,
        port: inst.port,
        gpu: "none",
        environment: inst.environment,
        extraArgs: inst.extraArgs,
        apiKeyFile: inst.apiKeyFile,
      },
    });
  });

  it("reasons in comments cannot add attributes to the build sets", async () => {
    const dir = await renderToDir(hostilePlan());
    const sets = join(dir, "build-sets.nix");
    expect(nixEvalJson(`let s = import ${nixString(sets)}; in { sets = builtins.attrNames s; cpu = builtins.attrNames s.cpu; vllm = builtins.attrNames s.cpu.packages.vllm; }`)).toEqual({
      sets: ["cpu"],
      cpu: ["config", "packages"],
      vllm: ["base", "env", "override"],
    });
  });

  it.each([
    ["gguf file", rocmLlamaPlan, "chat", { gguf: { file: "/srv/models/qwen2.5-7b-q4_k_m.gguf" } }],
    ["gguf repo", ollamaPlan, "cpu-chat", { gguf: { repo: "Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M" } }],
    ["ollama tag", ollamaPlan, "ollama", { model: "qwen2.5:7b" }],
    ["hf id", cudaVllmPlan, "coder", { model: "Qwen/Qwen2.5-Coder-7B-Instruct" }],
  ] as const)("sets the model option for a %s", async (_kind, make, name, want) => {
    const plan = make();
    const dir = await renderToDir(plan);
    const host = join(dir, "hosts", `${plan.host}.nix`);
    const pkgs = `{ hwflake = { ${plan.buildSets.map((b) => `${b.name} = { ${b.packages.map((p) => `${p.engine} = "PKG";`).join(" ")} };`).join(" ")} }; }`;
    const got = nixEvalJson(
      `let i = (import ${nixString(host)} { pkgs = ${pkgs}; }).services.hwflake.instances.${name}; in { inherit (i) ${Object.keys(want)[0]}; hasModel = i ? model; hasGguf = i ? gguf; }`,
    ) as Record<string, unknown>;
    expect(got).toMatchObject(want);
    expect(got.hasModel).toBe("model" in want);
    expect(got.hasGguf).toBe("gguf" in want);
  });

  describe("flake outputs against stand-in inputs", () => {
    /**
     * Evaluate the generated flake's outputs with: the nixpkgs stand-in as the `nixpkgs` input
     * (its `lib` is the pinned lib, its `nixosSystem` the real lib.evalModules over the typed
     * NixOS stubs, with `pkgs` made from the configuration's own nixpkgs.overlays as NixOS
     * does) and, with --hwflake-url, this repository as the `hwflake` input. The module library
     * the flake uses is the real one: the generated copy, or the input's.
     */
    async function evalFlake(plan: Plan, select: string, opts: RenderOptions = RENDER_OPTS): Promise<unknown> {
      const dir = await mkdtemp(join(tmpdir(), "hwflake-flake-"));
      dirs.push(dir);
      await writeFiles(renderFiles(plan, opts), { outDir: dir });
      const lib = nixString(nixpkgsLib());
      const expr = `
let
  lib = import ${lib};
  fake = import ${nixString(FAKE_NIXPKGS)};
  flake = import ${nixString(join(dir, "flake.nix"))};
  platformOptions = {
    options = {
      nixpkgs.hostPlatform = lib.mkOption { type = lib.types.str; };
      boot.loader.grub.enable = lib.mkOption { type = lib.types.bool; };
      fileSystems = lib.mkOption { type = lib.types.attrsOf lib.types.anything; };
      system.stateVersion = lib.mkOption { type = lib.types.str; };
    };
  };
  # NixOS turns each systemd.services.<n> into systemd.units."<n>.service", whose \`unit\` is a
  # folder holding the unit file (system-manager reads "\${unit.unit}/<name>"); the stand-in
  # keeps the service's settings as the "file".
  unitsOption = { config, ... }: {
    options.systemd.units = lib.mkOption { type = lib.types.attrsOf (lib.types.submodule { options.unit = lib.mkOption { type = lib.types.raw; }; }); };
    config.systemd.units = lib.mapAttrs' (n: s: lib.nameValuePair "\${n}.service" {
      unit = { type = "derivation"; name = "unit-\${n}.service"; outPath = "/nix/store/00000000000000000000000000000000-unit-\${n}.service"; };
    }) config.systemd.services;
  };
  nixosSystem = { modules }: lib.evalModules {
    modules = modules ++ [
      ${nixString(join(SUPPORT_DIR, "nixos-stubs.nix"))}
      platformOptions
      unitsOption
      ({ config, ... }: { _module.args.pkgs = fake { inherit lib; overlays = config.nixpkgs.overlays; }; })
    ];
  };
  nixpkgs = {
    outPath = ${nixString(FAKE_NIXPKGS)};
    lib = lib // { inherit nixosSystem; trivial = lib.trivial; };
  };
  hwflake = { outPath = ${nixString(REPO_ROOT)}; };
  # numtide/system-manager's makeSystemConfig: lib.evalModules (no class) over its options
  # (typed stand-ins, support/system-manager-stubs.nix) and the given modules, pkgs made from
  # config.nixpkgs.overlays (nix/lib.nix @ 48d47346). The real one returns the toplevel
  # derivation with config in passthru; the stand-in returns config and the failed assertions.
  system-manager.lib.makeSystemConfig = { modules, ... }:
    let
      eval = lib.evalModules {
        modules = [
          ${nixString(join(SUPPORT_DIR, "system-manager-stubs.nix"))}
          ({ config, ... }: { _module.args.pkgs = fake { inherit lib; overlays = config.nixpkgs.overlays; }; })
        ] ++ modules;
      };
    in {
      inherit (eval) config;
      failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) eval.config.assertions);
    };
  outputs = flake.outputs (
    { self = outputs; inherit nixpkgs; }
    // (if flake.inputs ? hwflake then { inherit hwflake; } else { })
    // (if flake.inputs ? system-manager then { inherit system-manager; } else { })
  );
in ${select}`;
      return nixEvalJson(expr);
    }

    const outputsOf = (plan: Plan) =>
      plan.buildSets.flatMap((b) => b.packages.map((p) => `${p.engine}-${b.name}`)).sort();

    it.each(FIXTURES)("%s on NixOS: nixpkgs is the only input, module names, packages, apps and the check", async (_name, make) => {
      const plan: Plan = { ...make(), os: { id: "nixos", versionId: "25.05" } };
      const got = (await evalFlake(
        plan,
        `{
          inputs = flake.inputs;
          outputs = builtins.attrNames outputs;
          overlayIsFunction = builtins.isFunction outputs.overlays.default;
          nixosModules = builtins.attrNames outputs.nixosModules;
          packages = builtins.mapAttrs (_: builtins.attrNames) outputs.packages;
          apps = builtins.mapAttrs (_: builtins.mapAttrs (_: a: a.type)) outputs.apps;
          checks = builtins.mapAttrs (_: c: builtins.mapAttrs (n: d: if lib.hasPrefix "vm-" n then { inherit (d) name; } else { inherit (d) name; units = builtins.attrNames (builtins.fromJSON d.text); }) c) outputs.checks;
        }`,
      )) as Record<string, unknown>;
      const system = plan.system;
      expect(got).toEqual({
        inputs: { nixpkgs: { url: RENDER_OPTS.nixpkgsUrl } },
        outputs: ["apps", "checks", "nixosModules", "overlays", "packages"],
        apps: { [system]: Object.fromEntries(plan.instances.map((i) => [i.name, "app"])) },
        overlayIsFunction: true,
        nixosModules: ["default", plan.host].sort(),
        packages: { [system]: outputsOf(plan) },
        checks: {
          [system]: {
            [`units-${plan.host}`]: {
              name: `hwflake-${plan.host}-units.json`,
              units: plan.instances.map((i) => `hwflake-${i.name}`).sort(),
            },
            // The VM check exists for hosts with CPU instances.
            ...(plan.instances.some((i) => i.backend === "cpu") ? { [`vm-${plan.host}`]: { name: `vm-test-run-hwflake-${plan.host}-cpu-instances` } } : {}),
          },
        },
      });
    });

    it.each([
      ["unknown", undefined],
      ["Ubuntu", { id: "ubuntu", versionId: "20.04" }],
      ["Debian", { id: "debian", versionId: "12" }],
    ] as const)("OS %s: a system-manager input and systemConfigs.default/<host> from the same module library", async (_n, os) => {
      const base = rocmLlamaPlan();
      const plan: Plan = { ...base, ...(os ? { os } : {}) };
      const got = (await evalFlake(
        plan,
        `let sm = outputs.systemConfigs.default; nixos = nixpkgs.lib.nixosSystem { modules = [ outputs.nixosModules.default { nixpkgs.hostPlatform = "${plan.system}"; } ]; }; in {
          inputs = builtins.attrNames flake.inputs;
          smUrl = flake.inputs.system-manager.url;
          follows = flake.inputs.system-manager.inputs.nixpkgs.follows;
          outputs = builtins.attrNames outputs;
          configs = builtins.attrNames outputs.systemConfigs;
          same = outputs.systemConfigs.default.config.systemd.services == outputs.systemConfigs.${plan.host}.config.systemd.services;
          inherit (sm) failedAssertions;
          platform = sm.config.nixpkgs.hostPlatform;
          unitsEqualNixos = sm.config.systemd.services == nixos.config.systemd.services;
          units = builtins.attrNames sm.config.systemd.services;
          execStart = sm.config.systemd.services.hwflake-chat.serviceConfig.ExecStart;
          pkg = "\${outputs.packages.${plan.system}.llama-cpp-rocm-gfx906}";
        }`,
      )) as Record<string, unknown>;
      expect(got).toMatchObject({
        inputs: ["nixpkgs", "system-manager"],
        smUrl: "github:numtide/system-manager",
        follows: "nixpkgs",
        outputs: ["apps", "checks", "nixosModules", "overlays", "packages", "systemConfigs", "systemdUnits"],
        configs: ["default", plan.host].sort(),
        same: true,
        failedAssertions: [],
        platform: plan.system,
        unitsEqualNixos: true,
        units: ["hwflake-chat", "hwflake-chat-proxy"],
      });
      expect((got.execStart as string).startsWith(`${got.pkg as string}/bin/llama-server `)).toBe(true);
    });

    it("an NVIDIA host that is not NixOS links the host driver in its systemConfigs; a CPU-only one does not", async () => {
      const cuda: Plan = { ...cudaVllmPlan(), os: { id: "ubuntu", versionId: "22.04" } };
      const cpu: Plan = { ...cpuVllmPlan(), os: { id: "ubuntu", versionId: "22.04" } };
      const q = `{ enabled = outputs.systemConfigs.default.config.services.hwflake.hostDriver.enable; units = builtins.attrNames outputs.systemConfigs.default.config.systemd.services; inherit (outputs.systemConfigs.default) failedAssertions; }`;
      expect(await evalFlake(cuda, q)).toMatchObject({ enabled: true, failedAssertions: [], units: expect.arrayContaining(["hwflake-host-driver"]) });
      expect(await evalFlake(cpu, q)).toMatchObject({ enabled: false, failedAssertions: [] });
    });

    it("a distribution system-manager does not test gets allowAnyDistro, said in the flake", async () => {
      const plan: Plan = { ...cpuVllmPlan(), os: { id: "fedora", versionId: "41" } };
      expect(await evalFlake(plan, `outputs.systemConfigs.default.config.system-manager.allowAnyDistro`)).toBe(true);
    });

    it("systemdUnits.<system>.<host> copies each hwflake unit file NixOS writes, for hosts where system-manager cannot run", async () => {
      const plan: Plan = { ...ollamaPlan(), os: { id: "ubuntu", versionId: "20.04" } };
      const got = (await evalFlake(plan, `let d = outputs.systemdUnits.${plan.system}.${plan.host}; in { inherit (d) name script; systems = builtins.attrNames outputs.systemdUnits; }`)) as {
        name: string;
        script: string;
        systems: string[];
      };
      expect(got.systems).toEqual([plan.system]);
      expect(got.name).toBe(`hwflake-${plan.host}-units`);
      const copied = [...got.script.matchAll(/^cp \/nix\/store\/0+-unit-([^/]+)\/(\S+) \$out\/(\S+)$/gm)].map((m) => [m[1], m[2], m[3]]);
      const units = plan.instances.map((i) => `hwflake-${i.name}.service`);
      for (const u of units) expect(copied).toContainEqual([u, u, u]);
      expect(copied.every(([u]) => u!.startsWith("hwflake-"))).toBe(true);
    });

    it("a flake for NixOS hosts only has no systemdUnits", async () => {
      const plan: Plan = { ...ollamaPlan(), os: { id: "nixos" } };
      expect(await evalFlake(plan, `outputs ? systemdUnits || outputs ? systemConfigs`)).toBe(false);
    });

    it("each app runs its instance's launcher, built from the unit's own package and command line", async () => {
      const plan = rocmLlamaPlan();
      const got = (await evalFlake(
        plan,
        `let app = outputs.apps.${plan.system}.chat; nixos = nixpkgs.lib.nixosSystem { modules = [ outputs.nixosModules.default { nixpkgs.hostPlatform = "${plan.system}"; } ]; }; in {
          inherit (app) type program;
          launcher = "\${nixos.config.services.hwflake.instances.chat.launcher}";
          text = nixos.config.services.hwflake.instances.chat.launcher.text;
          pkg = "\${outputs.packages.${plan.system}.llama-cpp-rocm-gfx906}";
        }`,
      )) as { type: string; program: string; launcher: string; text: string; pkg: string };
      expect(got.type).toBe("app");
      expect(got.program).toBe(got.launcher);
      expect(got.text).toContain(`${got.pkg}/bin/llama-server --host 127.0.0.1`);
      expect(got.text).toContain("/dev/kfd is missing");
    });

    it("in a fleet, apps are named <host>-<instance>", async () => {
      const a = rocmLlamaPlan();
      const { fleetOfPlans } = await import("../../src/plan/fleet-merge.js");
      const { renderFleet } = await import("../../src/render/render.js");
      const b: Plan = { ...cpuVllmPlan(), host: "other" };
      const flake = renderFleet(fleetOfPlans("lab", [a, b]), RENDER_OPTS).find((f) => f.path === "flake.nix")!.contents;
      expect(flake).toContain(`${a.host}-chat = {`);
      expect(flake).toMatch(/other-[a-z]+ = \{/);
      expect(flake).not.toMatch(/^\s+default = \{\n\s+host = /m); // no systemConfigs.default in a fleet
    });

    it.each(FIXTURES)("%s: the VM check runs each CPU instance with a tiny model it builds, GPU instances off", async (_name, make) => {
      const plan = make();
      const cpu = plan.instances.filter((i) => i.backend === "cpu");
      if (cpu.length === 0) return;
      const got = (await evalFlake(
        plan,
        `let t = outputs.checks.${plan.system}.vm-${plan.host}; inst = t.nodes.machine.services.hwflake.instances; in {
          failed = t.failedAssertions;
          enabled = builtins.attrNames (lib.filterAttrs (_: i: i.enable) inst);
          disabled = builtins.attrNames (lib.filterAttrs (_: i: !i.enable) inst);
          models = lib.mapAttrs (_: i: { model = i.model; file = i.gguf.file; repo = i.gguf.repo; key = i.apiKeyFile; }) (lib.filterAttrs (_: i: i.enable) inst);
          units = builtins.attrNames t.nodes.machine.systemd.services;
          fetchExec = lib.mapAttrs (_: s: s.serviceConfig.ExecStart) (lib.filterAttrs (n: _: lib.hasSuffix "-fetch" n) t.nodes.machine.systemd.services);
          script = t.testScript;
          etc = builtins.attrNames t.nodes.machine.environment.etc;
        }`,
      )) as {
        failed: string[];
        enabled: string[];
        disabled: string[];
        models: Record<string, { model: string | null; file: string | null; repo: string | null; key: string | null }>;
        units: string[];
        fetchExec: Record<string, string>;
        script: string;
        etc: string[];
      };
      expect(got.failed).toEqual([]);
      expect(got.enabled).toEqual(cpu.map((i) => i.name).sort());
      expect(got.disabled).toEqual(plan.instances.filter((i) => i.backend !== "cpu").map((i) => i.name).sort());
      expect(got.etc).toEqual(["hwflake-vm-test/key"]);
      for (const i of cpu) {
        const m = got.models[i.name]!;
        // Built by the check: a store path (vLLM, llama.cpp) or the seeded Ollama tag; never a download.
        if (i.engine === "llama-cpp") expect(m).toMatchObject({ model: null, file: expect.stringMatching(/-hwflake-tiny\.gguf$/), repo: null });
        if (i.engine === "vllm") expect(m.model).toMatch(/-hwflake-tiny-hf$/);
        if (i.engine === "ollama") {
          expect(m.model).toBe("hwflake-tiny:latest");
          expect(got.fetchExec[`hwflake-${i.name}-fetch`]).toMatch(/-hwflake-[a-z0-9-]+-seed$/);
        } else {
          expect(m.key).toBe("/etc/hwflake-vm-test/key");
          expect(got.units).not.toContain(`hwflake-${i.name}-fetch`);
        }
        expect(got.script).toContain(`machine.wait_for_unit("hwflake-${i.name}.service", timeout=3600)`);
        expect(got.script).toMatch(new RegExp(`curl --silent --fail -H 'Authorization: Bearer hwflake-vm-test-key' http://[^ ]+:${i.port}/v1/models`));
      }
    });

    it("with --hwflake-url the flake evaluates against the hwflake input's module library", async () => {
      const plan = rocmLlamaPlan();
      const got = (await evalFlake(
        plan,
        `{ inputs = builtins.attrNames flake.inputs; units = builtins.attrNames (builtins.fromJSON outputs.checks.${plan.system}.units-${plan.host}.text); }`,
        RENDER_OPTS_INPUT,
      )) as Record<string, unknown>;
      // The profile does not name the OS, so the flake serves both NixOS and system-manager.
      expect(got).toEqual({ inputs: ["hwflake", "nixpkgs", "system-manager"], units: ["hwflake-chat"] });
    });

    it("the check's file carries each unit's command line and environment, running the set's package", async () => {
      const plan = rocmLlamaPlan();
      const got = (await evalFlake(
        plan,
        `{ units = builtins.fromJSON outputs.checks.${plan.system}.units-${plan.host}.text; pkg = "\${outputs.packages.${plan.system}.llama-cpp-rocm-gfx906}"; }`,
      )) as { units: Record<string, { ExecStart: string; environment: Record<string, string> }>; pkg: string };
      expect(Object.keys(got.units)).toEqual(["hwflake-chat"]);
      const unit = got.units["hwflake-chat"]!;
      expect(unit.ExecStart.startsWith(`${got.pkg}/bin/llama-server `)).toBe(true);
      expect(unit.ExecStart).toContain('"-m" "/srv/models/qwen2.5-7b-q4_k_m.gguf"');
      expect(unit.environment).toMatchObject(plan.instances[0]!.environment);
    });
  });
});
