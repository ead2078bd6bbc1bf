/**
 * Plan in, files out: turn one host's Plan into the generated flake's text.
 *
 * This module decides *what* each template sees (sorted lists, trusted expressions built with
 * nixExpr, user text left as plain strings for the helpers to escape); the templates decide
 * only layout. Nothing here reads the clock, the environment or absolute paths, so the same
 * plan always renders to the same bytes.
 */
import type { Decision, Finding, Instance, PackageBuild, Plan, Severity, Source } from "../plan/types.js";
import { InternalError } from "../errors.js";
import { markerFor } from "../write/marker.js";
import type { RenderedFile } from "../write/write.js";
import { compareCodePoints, nixAttrName, nixAttrPath, nixExpr, nixString, type NixExpr, type NixInput } from "./nix.js";
import { loadTemplates } from "./templates.js";

export type { RenderedFile } from "../write/write.js";

/** Where the generated flake takes its inputs from. */
export interface RenderOptions {
  /** Flake URL of hwflake itself (its module library); the lead's CLI supplies the default. */
  readonly hwflakeUrl: string;
  /** Flake URL of nixpkgs; defaults to nixos-unstable. */
  readonly nixpkgsUrl?: string;
}

/** The nixpkgs the generated flake follows when the caller does not pick one. */
export const DEFAULT_NIXPKGS_URL = "github:NixOS/nixpkgs/nixos-unstable";
/** Where the emitted flake finds the hwflake module library unless told otherwise (--hwflake-url). */
export const DEFAULT_HWFLAKE_URL = "github:hwflake/hwflake";

// Host names become file names (hosts/<host>.nix) and Nix path literals, which allow far
// fewer characters than strings; the profile schema already guarantees this shape.
const SAFE_HOST = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

/**
 * Render every file of the generated flake for `plan`, sorted by path. Paths are relative
 * POSIX paths; every file starts with the @generated marker and ends with one newline.
 */
export function renderFiles(plan: Plan, opts: RenderOptions): RenderedFile[] {
  if (!SAFE_HOST.test(plan.host)) {
    throw new InternalError(`plan.host ${JSON.stringify(plan.host)} is not a host name; the profile schema should have refused it`);
  }
  if (typeof opts.hwflakeUrl !== "string" || opts.hwflakeUrl === "") throw new InternalError("renderFiles needs opts.hwflakeUrl");
  const nixpkgsUrl = opts.nixpkgsUrl && opts.nixpkgsUrl !== "" ? opts.nixpkgsUrl : DEFAULT_NIXPKGS_URL;

  const packages = [...plan.packages].sort((a, b) => compareCodePoints(a.name, b.name));
  const instances = [...plan.instances].sort((a, b) => compareCodePoints(a.name, b.name));
  checkReferences(packages, instances);

  const hostPath = `hosts/${plan.host}.nix`;
  const templates = loadTemplates();
  const render = (template: string, context: object): string => {
    const fn = templates.get(template);
    if (!fn) throw new InternalError(`template ${template}.hbs is missing from the package`);
    return fn(context);
  };

  const files: RenderedFile[] = [
    { path: "flake.nix", contents: render("flake.nix", flakeContext(plan, packages, instances, opts.hwflakeUrl, nixpkgsUrl, hostPath)) },
    { path: "overlays/default.nix", contents: render("overlay.nix", overlayContext(plan, packages)) },
    { path: hostPath, contents: render("host.nix", hostContext(plan, instances)) },
    { path: "README.md", contents: render("README.md", readmeContext(plan, packages, instances, hostPath)) },
  ];
  return files
    .map((f) => ({ path: f.path, contents: finish(markerFor(f.path, plan.host), f.contents) }))
    .sort((a, b) => compareCodePoints(a.path, b.path));
}

/** Marker first, trailing whitespace trimmed, blank-line runs collapsed, exactly one final newline. */
function finish(marker: string, body: string): string {
  const lines = `${marker}\n${body}`.split("\n").map((l) => l.replace(/[ \t]+$/, ""));
  const out: string[] = [];
  for (const line of lines) {
    // Optional template sections leave blank lines behind; never more than one in a row.
    if (line === "" && (out.length === 0 || out[out.length - 1] === "")) continue;
    out.push(line);
  }
  while (out.length > 0 && out[out.length - 1] === "") out.pop();
  return `${out.join("\n")}\n`;
}

/** Every instance must run a package the overlay defines; a dangling name is a planner bug. */
function checkReferences(packages: readonly PackageBuild[], instances: readonly Instance[]): void {
  const names = new Set<string>();
  for (const p of packages) {
    if (names.has(p.name)) throw new InternalError(`plan defines package ${p.name} twice`);
    names.add(p.name);
  }
  const seen = new Set<string>();
  for (const i of instances) {
    if (seen.has(i.name)) throw new InternalError(`plan defines instance ${i.name} twice`);
    seen.add(i.name);
    if (!names.has(i.package)) throw new InternalError(`instance ${i.name} uses package ${i.package}, which the plan does not build`);
  }
}

/** `pkgs.hwflake.<name>`, quoting the name when it is not a Nix identifier. */
function hwflakePackage(root: string, name: string): NixExpr {
  return nixExpr(nixAttrPath([root, "hwflake", name]));
}

/** Comment lines for a decision: the reason, then one line per source. */
function why(reason: string, sources: readonly Source[]): string[] {
  return [reason, ...sources.map((s) => `Source: ${sourceText(s)}`)];
}

function sourceText(s: Source): string {
  return s.note ? `${s.ref} (${s.note})` : s.ref;
}

function sourcesText(sources: readonly Source[]): string {
  return sources.length === 0 ? "-" : sources.map(sourceText).join("; ");
}

function configValue(plan: Plan): { readonly [key: string]: NixInput } | null {
  const d = plan.shared.nixpkgsConfig;
  return d && Object.keys(d.value).length > 0 ? d.value : null;
}

// ---------------------------------------------------------------------------------------------
// flake.nix

function flakeContext(
  plan: Plan,
  packages: readonly PackageBuild[],
  instances: readonly Instance[],
  hwflakeUrl: string,
  nixpkgsUrl: string,
  hostPath: string,
): object {
  const config = configValue(plan);
  const nixosModules: Record<string, NixInput> = { default: nixExpr("hostModule") };
  // A host called "default" simply shares the one attribute.
  nixosModules[plan.host] = nixExpr("hostModule");
  return {
    description: `LLM inference servers for ${plan.host}, generated by hwflake`,
    nixpkgsUrl,
    hwflakeUrl,
    system: plan.system,
    // Path literals are code; the host name was checked against SAFE_HOST above.
    hostFile: nixExpr(`./${hostPath}`),
    nixpkgsConfig: config ?? {},
    hasNixpkgsConfig: config !== null,
    nixpkgsConfigComments: plan.shared.nixpkgsConfig ? why(plan.shared.nixpkgsConfig.reason, plan.shared.nixpkgsConfig.sources) : [],
    nixosModules,
    packages: Object.fromEntries(packages.map((p) => [p.name, hwflakePackage("pkgs", p.name)])),
    unitNames: instances.map((i) => `hwflake-${i.name}`),
    checkFile: `hwflake-${plan.host}-units.json`,
  };
}

// ---------------------------------------------------------------------------------------------
// overlays/default.nix

const BASES: Readonly<Record<PackageBuild["base"], { expr: string; envMethod: string }>> = {
  "llama-cpp": { expr: "prev.llama-cpp", envMethod: "overrideAttrs" },
  ollama: { expr: "prev.ollama", envMethod: "overrideAttrs" },
  // final, not prev: the Python set must be the one pythonPackagesExtensions (and so the
  // torch override below) has been applied to.
  "python3Packages.vllm": { expr: "final.python3Packages.vllm", envMethod: "overridePythonAttrs" },
};

function overlayContext(plan: Plan, packages: readonly PackageBuild[]): object {
  const torch = plan.shared.torch;
  const rocm = plan.shared.rocmLocalGpuTargets;
  return {
    hasPackages: packages.length > 0,
    packages: packages.map((p) => {
      const base = BASES[p.base];
      if (!base) throw new InternalError(`package ${p.name} has unknown base ${JSON.stringify(p.base)}`);
      const hasEnv = Object.keys(p.env).length > 0;
      return {
        name: p.name,
        comments: why(p.reason, p.sources),
        base: nixExpr(base.expr),
        args: p.args,
        env: hasEnv ? p.env : null,
        envMethod: nixExpr(base.envMethod),
      };
    }),
    torch: torch ? { comments: why(torch.reason, torch.sources), args: torch.value } : null,
    rocm: rocm ? { comments: why(rocm.reason, rocm.sources), targets: rocm.value } : null,
  };
}

// ---------------------------------------------------------------------------------------------
// hosts/<host>.nix

function hostContext(plan: Plan, instances: readonly Instance[]): object {
  const caps = configValue(plan)?.["cudaCapabilities"];
  return {
    cudaCapabilities: caps === undefined ? null : caps,
    instances: instances.map((i) => ({
      name: i.name,
      comments: [`${i.engine} on ${deviceText(i)}: ${i.engineDecision.reason}`],
      engine: i.engine,
      package: hwflakePackage("pkgs", i.package),
      model: i.model.kind === "hf" ? i.model.id : i.model.kind === "ollama" ? i.model.tag : null,
      ggufFile: i.model.kind === "gguf-file" ? i.model.path : null,
      ggufRepo: i.model.kind === "gguf-repo" ? i.model.repo : null,
      host: i.listen,
      port: i.port,
      gpu: i.gpuVendor ?? "none",
      environment: i.environment,
      extraArgs: i.extraArgs,
      apiKeyFile: i.apiKeyFile,
    })),
  };
}

function deviceText(i: Instance): string {
  return i.on.length === 0 ? i.backend : `${i.backend} (${i.on.join(", ")})`;
}

function modelText(i: Instance): string {
  switch (i.model.kind) {
    case "hf":
      return i.model.id;
    case "gguf-file":
      return i.model.path;
    case "gguf-repo":
      return i.model.repo;
    case "ollama":
      return i.model.tag;
  }
}

// ---------------------------------------------------------------------------------------------
// README.md

const SEVERITY_ORDER: Readonly<Record<Severity, number>> = { error: 0, warning: 1, info: 2 };

function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      compareCodePoints(a.code, b.code) ||
      compareCodePoints(a.subject, b.subject) ||
      compareCodePoints(a.message, b.message),
  );
}

function decisionRow(label: string, d: Decision<unknown> | null, value: (v: never) => string): object | null {
  return d ? { label, value: value(d.value as never), reason: d.reason, sources: sourcesText(d.sources) } : null;
}

function readmeContext(plan: Plan, packages: readonly PackageBuild[], instances: readonly Instance[], hostPath: string): object {
  const config = configValue(plan);
  const shared = [
    decisionRow("torch override", plan.shared.torch, (v: { readonly [k: string]: NixInput }) => oneLineNix(v)),
    decisionRow("ROCm clr localGpuTargets", plan.shared.rocmLocalGpuTargets, (v: readonly string[]) => v.join(", ")),
    decisionRow("nixpkgs config", plan.shared.nixpkgsConfig, (v: { readonly [k: string]: NixInput }) => oneLineNix(v)),
  ].filter((r): r is object => r !== null);

  const buildCommands = ["nix flake check", ...packages.map((p) => `nix build .#${p.name}`)].join("\n");
  const input = nixAttrName(`${plan.host}-llm`);
  const flakeUsage = [
    "{",
    `  inputs.${input}.url = "path:/path/to/this/folder";`,
    "",
    "  outputs =",
    "    { nixpkgs, ... }@inputs:",
    "    {",
    `      nixosConfigurations.${nixAttrName(plan.host)} = nixpkgs.lib.nixosSystem {`,
    "        modules = [",
    "          ./configuration.nix",
    `          inputs.${input}.nixosModules.default`,
    "        ];",
    "      };",
    "    };",
    "}",
  ].join("\n");
  const classicUsage = [
    "{",
    "  imports = [",
    "    <hwflake/modules>",
    `    ./path/to/this/folder/${hostPath}`,
    "  ];",
    ...(config ? [`  nixpkgs.config = ${oneLineNix(config)};`] : []),
    "}",
  ].join("\n");

  return {
    host: plan.host,
    system: plan.system,
    refused: plan.refused,
    instances: instances.map((i) => ({
      name: i.name,
      engine: i.engine,
      device: deviceText(i),
      package: i.package,
      model: modelText(i),
      endpoint: `${i.listen}:${i.port}`,
      reason: i.engineDecision.reason,
      sources: sourcesText(i.engineDecision.sources),
    })),
    hasInstances: instances.length > 0,
    packages: packages.map((p) => ({
      name: p.name,
      base: p.base,
      backend: p.backend,
      args: Object.keys(p.args).length > 0 ? oneLineNix(p.args) : "-",
      env: Object.keys(p.env).length > 0 ? oneLineNix(p.env) : "-",
      reason: p.reason,
      sources: sourcesText(p.sources),
    })),
    hasPackages: packages.length > 0,
    shared,
    hasShared: shared.length > 0,
    findings: sortFindings(plan.findings).map((f) => ({
      severity: f.severity,
      code: f.code,
      subject: f.subject,
      message: f.message,
      fix: f.fix ?? "-",
      source: f.source === "" ? "-" : f.source,
    })),
    hasFindings: plan.findings.length > 0,
    buildCommands,
    flakeUsage,
    classicUsage,
  };
}

/** A Nix value on one line, for README tables (the .nix files use the multi-line printer). */
function oneLineNix(v: NixInput): string {
  if (v === null || typeof v !== "object") return typeof v === "string" ? nixString(v) : String(v);
  if (Array.isArray(v)) return v.length === 0 ? "[ ]" : `[ ${(v as readonly NixInput[]).map(oneLineNix).join(" ")} ]`;
  const rec = v as { readonly [k: string]: NixInput };
  const keys = Object.keys(rec).sort(compareCodePoints);
  return keys.length === 0 ? "{ }" : `{ ${keys.map((k) => `${nixAttrName(k)} = ${oneLineNix(rec[k] as NixInput)};`).join(" ")} }`;
}
