/**
 * Plan in, files out: turn one host's Plan into the generated flake's text.
 *
 * This module decides *what* each template sees (sorted lists, trusted expressions built with
 * nixExpr, user text left as plain strings for the helpers to escape); the templates decide
 * only layout. Nothing here reads the clock, the environment or absolute paths, so the same
 * plan always renders to the same bytes.
 */
import type { BuildSet, Finding, Instance, Plan, Severity, Source } from "../plan/types.js";
import { InternalError } from "../errors.js";
import { markerFor } from "../write/marker.js";
import type { RenderedFile } from "../write/write.js";
import { compareCodePoints, nixAttrName, nixAttrPath, nixExpr, nixString, type NixExpr, type NixInput } from "./nix.js";
import { loadModuleLibrary, loadTemplates } from "./templates.js";

export type { RenderedFile } from "../write/write.js";

/** Where the generated flake takes its inputs from. */
export interface RenderOptions {
  /**
   * Flake URL of hwflake itself, to take the module library from that input. Absent (the
   * default), the library travels with the output as a generated copy under `modules/`, so
   * the flake needs no input but nixpkgs.
   */
  readonly hwflakeUrl?: string;
  /** Flake URL of nixpkgs; defaults to nixos-unstable. */
  readonly nixpkgsUrl?: string;
}

/** The nixpkgs the generated flake follows when the caller does not pick one. */
export const DEFAULT_NIXPKGS_URL = "github:NixOS/nixpkgs/nixos-unstable";

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
  const hwflakeUrl = opts.hwflakeUrl && opts.hwflakeUrl !== "" ? opts.hwflakeUrl : null;
  const nixpkgsUrl = opts.nixpkgsUrl && opts.nixpkgsUrl !== "" ? opts.nixpkgsUrl : DEFAULT_NIXPKGS_URL;

  const sets = [...plan.buildSets].sort((a, b) => compareCodePoints(a.name, b.name));
  const instances = [...plan.instances].sort((a, b) => compareCodePoints(a.name, b.name));
  checkReferences(sets, instances);

  const hostPath = `hosts/${plan.host}.nix`;
  const templates = loadTemplates();
  const render = (template: string, context: object): string => {
    const fn = templates.get(template);
    if (!fn) throw new InternalError(`template ${template}.hbs is missing from the package`);
    return fn(context);
  };

  const files: RenderedFile[] = [
    { path: "flake.nix", contents: render("flake.nix", flakeContext(plan, sets, instances, hwflakeUrl, nixpkgsUrl, hostPath)) },
    { path: "build-sets.nix", contents: render("build-sets.nix", buildSetsContext(sets)) },
    { path: hostPath, contents: render("host.nix", hostContext(instances)) },
    { path: "README.md", contents: render("README.md", readmeContext(plan, sets, instances, hostPath, hwflakeUrl)) },
    // The module library travels with the output unless the flake takes it from an input.
    ...(hwflakeUrl ? [] : loadModuleLibrary().map((f) => ({ path: `modules/${f.path}`, contents: f.contents }))),
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

/** Every instance must run a package its build set defines; a dangling name is a planner bug. */
function checkReferences(sets: readonly BuildSet[], instances: readonly Instance[]): void {
  const packages = new Set<string>();
  for (const s of sets) {
    for (const p of s.packages) {
      const key = `${s.name}.${p.engine}`;
      if (packages.has(key)) throw new InternalError(`plan defines package ${key} twice`);
      packages.add(key);
    }
    if (packages.has(`${s.name}.pkgs`)) throw new InternalError(`build set ${s.name} has a package named pkgs`);
  }
  const seen = new Set<string>();
  for (const i of instances) {
    if (seen.has(i.name)) throw new InternalError(`plan defines instance ${i.name} twice`);
    seen.add(i.name);
    if (!packages.has(`${i.buildSet}.${i.engine}`))
      throw new InternalError(`instance ${i.name} uses ${i.buildSet}.${i.engine}, which the plan does not build`);
  }
}

/** `pkgs.hwflake.<set>.<engine>`, quoting names that are not Nix identifiers. */
function hwflakePackage(root: string, set: string, engine: string): NixExpr {
  return nixExpr(nixAttrPath([root, "hwflake", set, engine]));
}

/** The flake output name of a set's engine package ("llama-cpp-rocm-gfx906"). */
function outputName(set: string, engine: string): string {
  return `${engine}-${set}`;
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

// ---------------------------------------------------------------------------------------------
// flake.nix

function flakeContext(
  plan: Plan,
  sets: readonly BuildSet[],
  instances: readonly Instance[],
  hwflakeUrl: string | null,
  nixpkgsUrl: string,
  hostPath: string,
): object {
  const nixosModules: Record<string, NixInput> = { default: nixExpr("hostModule") };
  // A host called "default" simply shares the one attribute.
  nixosModules[plan.host] = nixExpr("hostModule");
  return {
    description: `LLM inference servers for ${plan.host}, generated by hwflake`,
    nixpkgsUrl,
    hwflakeUrl,
    inputNames: ["self", "nixpkgs", ...(hwflakeUrl ? ["hwflake"] : [])].map(nixExpr),
    modules: nixExpr(hwflakeUrl ? `hwflake.outPath + "/modules"` : "./modules"),
    modulesComments: hwflakeUrl
      ? ["hwflake's module library, from the flake input `hwflake`."]
      : ["hwflake's module library: the generated copy beside this file (hwflake generate rewrites it)."],
    system: plan.system,
    // Path literals are code; the host name was checked against SAFE_HOST above.
    hostFile: nixExpr(`./${hostPath}`),
    nixosModules,
    packages: Object.fromEntries(
      sets.flatMap((s) => s.packages.map((p) => [outputName(s.name, p.engine), hwflakePackage("pkgs", s.name, p.engine)])),
    ),
    unitNames: instances.map((i) => `hwflake-${i.name}`),
    checkFile: `hwflake-${plan.host}-units.json`,
  };
}

// ---------------------------------------------------------------------------------------------
// build-sets.nix

function buildSetsContext(sets: readonly BuildSet[]): object {
  return {
    sets: sets.map((s) => ({
      name: s.name,
      comments: [
        `${{ cpu: "CPU", rocm: "ROCm", cuda: "CUDA" }[s.backend]} build set${s.targets.length ? ` for ${s.backend === "cuda" ? "capability " : ""}${s.targets.join(", ")}` : ""}, used by ${s.instances.join(", ")}.`,
        forecastLine(s),
      ],
      configComments: why(s.config.reason, s.config.sources),
      config: s.config.value,
      rocm: s.rocmGpuTargets ? { comments: why(s.rocmGpuTargets.reason, s.rocmGpuTargets.sources), targets: s.rocmGpuTargets.value } : null,
      unfree: s.allowUnfreeLicenses
        ? { comments: why(s.allowUnfreeLicenses.reason, s.allowUnfreeLicenses.sources), licenses: s.allowUnfreeLicenses.value }
        : null,
      packages: s.packages.map((p) => ({
        engine: p.engine,
        comments: why(p.reason, p.sources),
        base: p.base,
        args: p.args,
        env: Object.keys(p.env).length > 0 ? p.env : null,
      })),
    })),
  };
}

/** The forecast in one sentence: what compiles and roughly how long, or that nothing does. */
export function forecastLine(s: BuildSet): string {
  const f = s.forecast;
  if (f.compiles.length === 0) return `Nothing heavy compiles: ${f.cache}.`;
  return `Compiles from source: ${f.compiles.map((c) => c.what).join("; ")} (${forecastTotal(s)}); ${f.cache}.`;
}

/** "roughly 3.5–9 h, ~45 GB of disk, plus llama.cpp (HIP) (no recorded figure)". */
export function forecastTotal(s: BuildSet): string {
  const f = s.forecast;
  const parts: string[] = [];
  if (f.hours[1] > 0) parts.push(`roughly ${hoursText(f.hours)}`);
  if (f.diskGB > 0) parts.push(`up to ~${f.diskGB} GB of disk`);
  const extra = f.unmeasured.length ? `${f.unmeasured.join(", ")} (no recorded figure)` : "";
  return parts.length ? `${parts.join(", ")}${extra ? `, plus ${extra}` : ""}` : extra;
}

/** "2–6 h" or "30–60 min" for a range in hours; "no recorded figure" for null. */
export function hoursText(range: readonly [number, number] | null): string {
  if (!range) return "no recorded figure";
  const [lo, hi] = range;
  const min = (x: number) => `${Math.round(x * 60)} min`;
  const h = (x: number) => `${Math.round(x * 10) / 10} h`;
  if (lo === hi) return hi < 1 ? min(hi) : h(hi);
  if (hi < 1) return `${Math.round(lo * 60)}–${min(hi)}`;
  return lo < 1 ? `${min(lo)}–${h(hi)}` : `${Math.round(lo * 10) / 10}–${h(hi)}`;
}

// ---------------------------------------------------------------------------------------------
// hosts/<host>.nix

function hostContext(instances: readonly Instance[]): object {
  return {
    instances: instances.map((i) => ({
      name: i.name,
      comments: [`${i.engine} on ${deviceText(i)}: ${i.engineDecision.reason}`],
      engine: i.engine,
      package: hwflakePackage("pkgs", i.buildSet, i.engine),
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

function readmeContext(plan: Plan, sets: readonly BuildSet[], instances: readonly Instance[], hostPath: string, hwflakeUrl: string | null): object {
  const outputs = sets.flatMap((s) => s.packages.map((p) => outputName(s.name, p.engine)));
  const buildCommands = ["nix flake check", ...outputs.map((o) => `nix build .#${o}`)].join("\n");
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
    hwflakeUrl ? "    <hwflake/modules>" : "    ./path/to/this/folder/modules",
    `    ./path/to/this/folder/${hostPath}`,
    "  ];",
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
      package: `pkgs.hwflake.${i.buildSet}.${i.engine}`,
      model: modelText(i),
      endpoint: `${i.listen}:${i.port}`,
      reason: i.engineDecision.reason,
      sources: sourcesText(i.engineDecision.sources),
    })),
    hasInstances: instances.length > 0,
    sets: sets.map((s) => ({
      name: s.name,
      backend: s.backend,
      targets: s.targets.length ? s.targets.join(", ") : "-",
      config: oneLineNix(s.config.value),
      instances: s.instances.join(", "),
      packages: s.packages.map((p) => p.engine).join(", "),
      forecast: forecastLine(s),
    })),
    packages: sets.flatMap((s) =>
      s.packages.map((p) => ({
        name: outputName(s.name, p.engine),
        set: s.name,
        base: p.base,
        args: Object.keys(p.args).length > 0 ? oneLineNix(p.args) : "-",
        env: Object.keys(p.env).length > 0 ? oneLineNix(p.env) : "-",
        reason: p.reason,
        sources: sourcesText(p.sources),
      })),
    ),
    forecast: sets.flatMap((s) =>
      s.forecast.compiles.map((c) => ({
        set: s.name,
        what: c.what,
        hours: hoursText(c.hours),
        disk: c.diskGB === null ? "-" : `~${c.diskGB} GB`,
        assumes: c.assumes,
        sources: sourcesText(c.sources),
      })),
    ),
    hasSets: sets.length > 0,
    hasForecast: sets.some((s) => s.forecast.compiles.length > 0),
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
    bundled: hwflakeUrl === null,
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
