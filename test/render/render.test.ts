/**
 * renderFiles: the generated flake, overlay, host module and README for hand-built plans.
 *
 * The Nix checks run the real evaluator on the output: every file parses, the host module's
 * option values are exactly the plan's strings (no `${` injection), and the flake's outputs
 * evaluate against stub inputs built on the pinned nixpkgs lib.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InternalError } from "../../src/errors.js";
import type { Plan } from "../../src/plan/types.js";
import { nixString } from "../../src/render/nix.js";
import { DEFAULT_NIXPKGS_URL, renderFiles } from "../../src/render/render.js";
import { hasMarker, markerText } from "../../src/write/marker.js";
import { writeFiles } from "../../src/write/write.js";
import { nixEvalJson, nixParseError, nixpkgsLib, nixUnavailable, skipNix } from "../helpers/nix.js";
import { cpuVllmPlan, cudaVllmPlan, FIXTURES, ollamaPlan, RENDER_OPTS, rocmLlamaPlan } from "./fixtures.js";

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

  it("emits the four files, sorted", () => {
    expect(files.map((f) => f.path)).toEqual(["README.md", "flake.nix", `hosts/${plan.host}.nix`, "overlays/default.nix"]);
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
  it("uses the given input URLs and defaults nixpkgs to nixos-unstable", () => {
    const custom = byPath(rocmLlamaPlan()).get("flake.nix") ?? "";
    expect(custom).toContain(`url = ${nixString(RENDER_OPTS.hwflakeUrl)};`);
    const dflt = renderFiles(rocmLlamaPlan(), { hwflakeUrl: "github:x/y" }).find((f) => f.path === "flake.nix")?.contents ?? "";
    expect(dflt).toContain(`nixpkgs.url = ${nixString(DEFAULT_NIXPKGS_URL)};`);
  });

  it("refuses to render without a hwflake URL", () => {
    expect(() => renderFiles(rocmLlamaPlan(), { hwflakeUrl: "" })).toThrow(InternalError);
  });
});

describe("plan consistency", () => {
  it("refuses an instance whose package the plan does not build", () => {
    const plan = rocmLlamaPlan();
    const bad: Plan = { ...plan, instances: plan.instances.map((i) => ({ ...i, package: "nope" })) };
    expect(() => renderFiles(bad, RENDER_OPTS)).toThrow(/nope/);
  });

  it("refuses a host name that cannot be a file name", () => {
    expect(() => renderFiles({ ...rocmLlamaPlan(), host: "../etc" }, RENDER_OPTS)).toThrow(InternalError);
  });

  it("sets cudaCapabilities only when nixpkgs config has them", () => {
    expect(byPath(cudaVllmPlan()).get("hosts/rtxbox.nix")).toContain('cudaCapabilities = [ "8.6" ];');
    expect(byPath(rocmLlamaPlan()).get("hosts/mi50box.nix")).not.toContain("cudaCapabilities");
  });

  it("adds torch and ROCm scope overrides only when the plan has them", () => {
    const rocm = byPath(rocmLlamaPlan()).get("overlays/default.nix") ?? "";
    const cuda = byPath(cudaVllmPlan()).get("overlays/default.nix") ?? "";
    const cpu = byPath(cpuVllmPlan()).get("overlays/default.nix") ?? "";
    expect(rocm).toContain("rocmPackages = prev.rocmPackages.overrideScope");
    expect(rocm).not.toContain("pythonPackagesExtensions");
    expect(cuda).toContain("pythonPackagesExtensions = prev.pythonPackagesExtensions ++ [");
    expect(cuda).not.toContain("rocmPackages");
    expect(cpu).not.toContain("pythonPackagesExtensions");
    expect(cpu).toContain("final.python3Packages.vllm.override");
    expect(cpu).toContain(".overridePythonAttrs");
  });

  it("writes each decision's reason as a comment above its override", () => {
    const overlay = byPath(rocmLlamaPlan()).get("overlays/default.nix") ?? "";
    expect(overlay).toMatch(/# vLLM does not support gfx906; llama\.cpp's HIP backend does\n(\s+# Source: [^\n]+\n)*\s+llama-cpp-rocm = /);
    expect(overlay).toMatch(/# Build ROCm libraries for the installed GPU only: gfx906\n(\s+# Source: [^\n]+\n)*\s+rocmPackages = /);
  });

  it("README lists every instance, build and finding", () => {
    const readme = byPath(rocmLlamaPlan()).get("README.md") ?? "";
    expect(readme).toContain("| `chat` | llama-cpp | rocm (gpu0) |");
    expect(readme).toContain("`ROCM_GFX906_DEPRECATED`");
    expect(readme).toContain("maintenance mode in ROCm \\| may drop soon"); // the pipe cannot split the row
    expect(readme).toContain("nix build .#llama-cpp-rocm");
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
    packages: plan.packages.map((p) => ({ ...p, reason: "line one\nboom = builtins.abort 1;" })),
  };
}

describe.skipIf(skipNix)("evaluated output", () => {
  it("`${` in a model name cannot inject: the host module's option values are the plan's strings", async () => {
    const plan = hostilePlan();
    const dir = await renderToDir(plan);
    const host = join(dir, "hosts", `${plan.host}.nix`);
    const got = nixEvalJson(
      `(import ${nixString(host)} { pkgs = { hwflake.vllm-cpu = "PKG"; }; }).services.hwflake.instances`,
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

  it("reasons in comments cannot add attributes to the overlay", async () => {
    const dir = await renderToDir(hostilePlan());
    const overlay = join(dir, "overlays", "default.nix");
    expect(nixEvalJson(`builtins.attrNames (import ${nixString(overlay)} { } { })`)).toEqual(["hwflake"]);
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
    const pkgs = `{ hwflake = builtins.listToAttrs (map (n: { name = n; value = n; }) ${nixStringList(plan.packages.map((p) => p.name))}); }`;
    const got = nixEvalJson(
      `let i = (import ${nixString(host)} { pkgs = ${pkgs}; }).services.hwflake.instances.${name}; in { inherit (i) ${Object.keys(want)[0]}; hasModel = i ? model; hasGguf = i ? gguf; }`,
    ) as Record<string, unknown>;
    expect(got).toMatchObject(want);
    expect(got.hasModel).toBe("model" in want);
    expect(got.hasGguf).toBe("gguf" in want);
  });

  describe("flake outputs against stub inputs", () => {
    /**
     * Evaluate the generated flake's outputs with: the pinned lib; a `nixosSystem` built on the
     * real lib.evalModules and a stand-in for hwflake's module library that turns instances
     * into `hwflake-<name>` units; and a stub nixpkgs whose writeText just returns its input.
     */
    async function evalFlake(plan: Plan, select: string): Promise<unknown> {
      const dir = await renderToDir(plan);
      const stubPkgs = join(dir, "stub-nixpkgs.nix");
      await writeFile(
        stubPkgs,
        `{ system, overlays, config }:
let
  self = { inherit system config; writeText = name: text: { inherit name text; }; };
  base = { hwflake = { }; };
in
builtins.foldl' (acc: o: acc // o self acc) (self // base) overlays
`,
      );
      const lib = nixString(nixpkgsLib());
      const expr = `
let
  lib = import ${lib};
  flake = import ${nixString(join(dir, "flake.nix"))};
  moduleLibrary = { config, pkgs, ... }: {
    options = {
      services.hwflake = lib.mkOption { type = lib.types.attrsOf lib.types.anything; };
      systemd.services = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
      nixpkgs = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
      boot = lib.mkOption { type = lib.types.anything; };
      fileSystems = lib.mkOption { type = lib.types.anything; };
      system.stateVersion = lib.mkOption { type = lib.types.str; };
    };
    config.systemd.services = lib.mapAttrs' (name: i: lib.nameValuePair "hwflake-\${name}" {
      environment = i.environment;
      serviceConfig.ExecStart = "\${i.package} \${i.model or i.gguf.file or i.gguf.repo}";
    }) config.services.hwflake.instances;
    config._module.args.pkgs = { hwflake = lib.genAttrs ${nixStringList(plan.packages.map((p) => p.name))} (n: "/nix/store/pkg-\${n}"); };
  };
  nixpkgs = {
    outPath = ${nixString(stubPkgs)};
    lib = lib // { nixosSystem = { modules }: lib.evalModules { inherit modules; }; };
  };
  hwflake = { nixosModules.default = moduleLibrary; };
  outputs = flake.outputs { self = outputs; inherit nixpkgs hwflake; };
in ${select}`;
      return nixEvalJson(expr);
    }

    it.each(FIXTURES)("%s: inputs, module names, packages and the check", async (_name, make) => {
      const plan = make();
      const got = (await evalFlake(
        plan,
        `{
          inputs = flake.inputs;
          outputs = builtins.attrNames outputs;
          overlayIsFunction = builtins.isFunction outputs.overlays.default;
          nixosModules = builtins.attrNames outputs.nixosModules;
          packages = builtins.mapAttrs (_: builtins.attrNames) outputs.packages;
          checks = builtins.mapAttrs (_: c: builtins.mapAttrs (_: d: { inherit (d) name; units = builtins.attrNames (builtins.fromJSON d.text); }) c) outputs.checks;
          nixpkgsConfig = outputs.nixosModules.default.nixpkgs.config or null;
        }`,
      )) as Record<string, unknown>;
      const system = plan.system;
      expect(got).toEqual({
        inputs: {
          nixpkgs: { url: RENDER_OPTS.nixpkgsUrl },
          hwflake: { url: RENDER_OPTS.hwflakeUrl, inputs: { nixpkgs: { follows: "nixpkgs" } } },
        },
        outputs: ["checks", "nixosModules", "overlays", "packages"],
        overlayIsFunction: true,
        nixosModules: ["default", plan.host].sort(),
        packages: { [system]: plan.packages.map((p) => p.name).sort() },
        checks: {
          [system]: {
            "host-units": {
              name: `hwflake-${plan.host}-units.json`,
              units: plan.instances.map((i) => `hwflake-${i.name}`).sort(),
            },
          },
        },
        nixpkgsConfig: plan.shared.nixpkgsConfig?.value ?? null,
      });
    });

    it("the check's file carries each unit's command line and environment", async () => {
      const plan = rocmLlamaPlan();
      const got = await evalFlake(plan, `builtins.fromJSON outputs.checks.${plan.system}.host-units.text`);
      expect(got).toEqual({
        "hwflake-chat": {
          ExecStart: "/nix/store/pkg-llama-cpp-rocm /srv/models/qwen2.5-7b-q4_k_m.gguf",
          environment: plan.instances[0]?.environment,
        },
      });
    });
  });
});

function nixStringList(xs: readonly string[]): string {
  return `[ ${xs.map(nixString).join(" ")} ]`;
}
