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
  nixosSystem = { modules }: lib.evalModules {
    modules = modules ++ [
      ${nixString(join(SUPPORT_DIR, "nixos-stubs.nix"))}
      platformOptions
      ({ config, ... }: { _module.args.pkgs = fake { inherit lib; overlays = config.nixpkgs.overlays; }; })
    ];
  };
  nixpkgs = {
    outPath = ${nixString(FAKE_NIXPKGS)};
    lib = lib // { inherit nixosSystem; trivial = lib.trivial; };
  };
  hwflake = { outPath = ${nixString(REPO_ROOT)}; };
  outputs = flake.outputs ({ self = outputs; inherit nixpkgs; } // (if flake.inputs ? hwflake then { inherit hwflake; } else { }));
in ${select}`;
      return nixEvalJson(expr);
    }

    const outputsOf = (plan: Plan) =>
      plan.buildSets.flatMap((b) => b.packages.map((p) => `${p.engine}-${b.name}`)).sort();

    it.each(FIXTURES)("%s: nixpkgs is the only input, module names, packages and the check", async (_name, make) => {
      const plan = make();
      const got = (await evalFlake(
        plan,
        `{
          inputs = flake.inputs;
          outputs = builtins.attrNames outputs;
          overlayIsFunction = builtins.isFunction outputs.overlays.default;
          nixosModules = builtins.attrNames outputs.nixosModules;
          packages = builtins.mapAttrs (_: builtins.attrNames) outputs.packages;
          checks = builtins.mapAttrs (_: c: builtins.mapAttrs (n: d: if lib.hasPrefix "vm-" n then { inherit (d) name; } else { inherit (d) name; units = builtins.attrNames (builtins.fromJSON d.text); }) c) outputs.checks;
        }`,
      )) as Record<string, unknown>;
      const system = plan.system;
      expect(got).toEqual({
        inputs: { nixpkgs: { url: RENDER_OPTS.nixpkgsUrl } },
        outputs: ["checks", "nixosModules", "overlays", "packages"],
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
      expect(got).toEqual({ inputs: ["hwflake", "nixpkgs"], units: ["hwflake-chat"] });
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
