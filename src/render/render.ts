/**
 * Plan in, files out: turn a FleetPlan (one host is a fleet of one) into the generated flake.
 *
 * This module decides *what* each template sees (sorted lists, trusted expressions built with
 * nixExpr, user text left as plain strings for the helpers to escape); the templates decide
 * only layout. Nothing here reads the clock, the environment or absolute paths, so the same
 * plan always renders to the same bytes.
 */
import { InternalError } from "../errors.js";
import { fleetOfPlans } from "../plan/fleet-merge.js";
import type { FleetBuildSet, FleetPlan, Instance, Plan, PythonSet } from "../plan/types.js";
import { markerFor } from "../write/marker.js";
import type { RenderedFile } from "../write/write.js";
import { compareCodePoints, nixAttrPath, nixExpr, nixString, type NixExpr, type NixInput } from "./nix.js";
import { readmeContext } from "./readme.js";
import { loadModuleLibrary, loadTemplates } from "./templates.js";
import { deviceText, forecastLine, outputName, why } from "./text.js";

export type { RenderedFile } from "../write/write.js";
export { forecastLine, forecastTotal, hoursText } from "./text.js";

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

/** Render the flake for one host (a fleet of one). */
export function renderFiles(plan: Plan, opts: RenderOptions): RenderedFile[] {
  return renderFleet(fleetOfPlans(plan.host, [plan]), opts);
}

/**
 * Render every file of the generated flake for `fleet`, sorted by path. Paths are relative
 * POSIX paths; every file starts with the @generated marker and ends with one newline.
 */
export function renderFleet(fleet: FleetPlan, opts: RenderOptions): RenderedFile[] {
  for (const h of fleet.hosts)
    if (!SAFE_HOST.test(h.host)) throw new InternalError(`plan.host ${JSON.stringify(h.host)} is not a host name; the profile schema should have refused it`);
  if (fleet.hosts.length === 0) throw new InternalError("a fleet without hosts cannot be rendered");
  const hwflakeUrl = opts.hwflakeUrl && opts.hwflakeUrl !== "" ? opts.hwflakeUrl : null;
  const nixpkgsUrl = opts.nixpkgsUrl && opts.nixpkgsUrl !== "" ? opts.nixpkgsUrl : DEFAULT_NIXPKGS_URL;
  checkReferences(fleet);

  const templates = loadTemplates();
  const render = (template: string, context: object): string => {
    const fn = templates.get(template);
    if (!fn) throw new InternalError(`template ${template}.hbs is missing from the package`);
    return fn(context);
  };
  // A fleet of one is "from profile <host>" throughout; a fleet's shared files are "from fleet".
  const one = fleet.hosts.length === 1;
  const shared = (path: string) => markerFor(path, fleet.name, one ? "profile" : "fleet");

  const files: RenderedFile[] = [
    { path: "flake.nix", contents: finish(shared("flake.nix"), render("flake.nix", flakeContext(fleet, hwflakeUrl, nixpkgsUrl))) },
    { path: "build-sets.nix", contents: finish(shared("build-sets.nix"), render("build-sets.nix", buildSetsContext(fleet.buildSets, one))) },
    { path: "README.md", contents: finish(shared("README.md"), render("README.md", readmeContext(fleet, hwflakeUrl))) },
    ...fleet.hosts.map((h) => ({
      path: hostPath(h.host),
      contents: finish(markerFor(hostPath(h.host), h.host, "profile"), render("host.nix", hostContext(sorted(h.instances)))),
    })),
    // The module library travels with the output unless the flake takes it from an input.
    ...(hwflakeUrl ? [] : loadModuleLibrary().map((f) => ({ path: `modules/${f.path}`, contents: finish(shared(`modules/${f.path}`), f.contents) }))),
  ];
  return files.sort((a, b) => compareCodePoints(a.path, b.path));
}

/** The generated module of one host. */
export function hostPath(host: string): string {
  return `hosts/${host}.nix`;
}

function sorted(instances: readonly Instance[]): Instance[] {
  return [...instances].sort((a, b) => compareCodePoints(a.name, b.name));
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

/** Every instance must run a package its host's build sets define; a dangling name is a planner bug. */
function checkReferences(fleet: FleetPlan): void {
  const packages = new Set<string>();
  for (const s of fleet.buildSets) {
    for (const p of s.packages) {
      const key = `${s.system}/${s.name}.${p.engine}`;
      if (packages.has(key)) throw new InternalError(`plan defines package ${s.name}.${p.engine} twice`);
      packages.add(key);
    }
    if (s.packages.some((p) => (p.engine as string) === "pkgs")) throw new InternalError(`build set ${s.name} has a package named pkgs`);
  }
  for (const h of fleet.hosts) {
    const seen = new Set<string>();
    for (const i of h.instances) {
      if (seen.has(i.name)) throw new InternalError(`plan defines instance ${i.name} twice`);
      seen.add(i.name);
      if (!packages.has(`${h.system}/${i.buildSet}.${i.engine}`))
        throw new InternalError(`instance ${i.name} uses ${i.buildSet}.${i.engine}, which the plan does not build`);
    }
  }
}

/** `pkgs.hwflake.<set>.<engine>`, quoting names that are not Nix identifiers. */
function hwflakePackage(set: string, engine: string): NixExpr {
  return nixExpr(nixAttrPath(["pkgs", "hwflake", set, engine]));
}

// ---------------------------------------------------------------------------------------------
// flake.nix

function flakeContext(fleet: FleetPlan, hwflakeUrl: string | null, nixpkgsUrl: string): object {
  const one = fleet.hosts.length === 1;
  // A host called "default" simply shares the one attribute; in a fleet, default is the library.
  const nixosModules: Record<string, NixInput> = { default: nixExpr(one ? `hostModule ${nixString(fleet.hosts[0]!.host)}` : "modules") };
  for (const h of fleet.hosts) nixosModules[h.host] = nixExpr(`hostModule ${nixString(h.host)}`);
  const packageOutputs: Record<string, Record<string, NixInput>> = {};
  for (const s of fleet.buildSets) {
    for (const p of s.packages) (packageOutputs[s.system] ??= {})[outputName(s.name, p.engine)] = { set: s.name, engine: p.engine };
    // A set with pinned wheels also exports its Python environment (for Ray actors and tools).
    if (s.python) (packageOutputs[s.system] ??= {})[outputName(s.name, "python")] = { set: s.name, engine: "python" };
  }
  const hostsBySystem: Record<string, string[]> = {};
  for (const h of fleet.hosts) (hostsBySystem[h.system] ??= []).push(h.host);
  return {
    description: one ? `LLM inference servers for ${fleet.name}, generated by hwflake` : `LLM inference servers for the ${fleet.name} fleet (${fleet.hosts.length} hosts), generated by hwflake`,
    nixpkgsUrl,
    hwflakeUrl,
    inputNames: ["self", "nixpkgs", ...(hwflakeUrl ? ["hwflake"] : [])].map(nixExpr),
    modules: nixExpr(hwflakeUrl ? `hwflake.outPath + "/modules"` : "./modules"),
    modulesComments: hwflakeUrl
      ? ["hwflake's module library, from the flake input `hwflake`."]
      : ["hwflake's module library: the generated copy beside this file (hwflake generate rewrites it)."],
    hosts: Object.fromEntries(
      fleet.hosts.map((h) => [
        h.host,
        {
          system: h.system,
          // Path literals are code; host names were checked against SAFE_HOST above.
          module: nixExpr(`./${hostPath(h.host)}`),
          units: sorted(h.instances).map((i) => `hwflake-${i.name}`),
        },
      ]),
    ),
    nixosModules,
    packageOutputs,
    hostsBySystem,
  };
}

// ---------------------------------------------------------------------------------------------
// build-sets.nix

/** One entry per set name (the same data on every system), with each system's forecast. */
function buildSetsContext(sets: readonly FleetBuildSet[], oneHost: boolean): object {
  // Instances are "host/name"; a fleet of one says just the name.
  const instanceName = (i: string) => (oneHost ? i.slice(i.indexOf("/") + 1) : i);
  const byName = new Map<string, FleetBuildSet[]>();
  for (const s of sets) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  return {
    sets: [...byName.values()].map((same) => {
      const s = same[0]!;
      const multi = same.length > 1;
      return {
        name: s.name,
        comments: [
          `${{ cpu: "CPU", rocm: "ROCm", cuda: "CUDA", tpu: "TPU", spyre: "IBM Spyre" }[s.backend]} build set${s.targets.length ? ` for ${s.backend === "cuda" ? "capability " : ""}${s.targets.join(", ")}` : ""}, used by ${same.flatMap((x) => x.instances).map(instanceName).join(", ")}.`,
          ...same.map((x) => (multi ? `On ${x.system}: ${forecastLine(x)}` : forecastLine(x))),
        ],
        configComments: why(s.config.reason, s.config.sources),
        config: s.config.value,
        rocm: s.rocmGpuTargets ? { comments: why(s.rocmGpuTargets.reason, s.rocmGpuTargets.sources), targets: s.rocmGpuTargets.value } : null,
        unfree: s.allowUnfreeLicenses
          ? { comments: why(s.allowUnfreeLicenses.reason, s.allowUnfreeLicenses.sources), licenses: s.allowUnfreeLicenses.value }
          : null,
        python: s.python ? { comments: why(s.python.reason, s.python.sources), value: pythonData(s.python.value) } : null,
        packages: [...new Map(same.flatMap((x) => x.packages).map((p) => [p.engine, p])).values()]
          .sort((a, b) => compareCodePoints(a.engine, b.engine))
          .map((p) => ({
            engine: p.engine,
            comments: why(p.reason, p.sources),
            base: p.base,
            args: p.args,
            env: Object.keys(p.env).length > 0 ? p.env : null,
          })),
      };
    }),
  };
}

/** A set's pinned wheels as modules/lib/build-sets.nix reads them: one attribute per package. */
function pythonData(py: PythonSet): NixInput {
  return {
    interpreter: py.interpreter,
    wheels: Object.fromEntries(
      py.wheels.map((w) => [
        w.attr,
        {
          pname: w.package,
          version: w.version,
          url: w.url,
          hash: w.hash,
          hashSource: w.hashSource,
          deps: [...w.deps],
          inheritDependencies: w.inheritDependencies,
          license: w.unfree ? { shortName: w.unfree.shortName, fullName: w.unfree.fullName, free: false } : null,
          prefetch: w.prefetch,
          fetch: w.fetch ?? "url",
          ...(w.github ? { github: { ...w.github } } : {}),
          ...(w.file ? { file: w.file } : {}),
        },
      ]),
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// hosts/<host>.nix

function hostContext(instances: readonly Instance[]): object {
  return {
    instances: instances.map((i) => ({
      name: i.name,
      comments: [`${i.engine} on ${deviceText(i)}: ${i.engineDecision.reason}`],
      engine: i.engine,
      package: hwflakePackage(i.buildSet, i.engine),
      model: i.model.kind === "hf" ? i.model.id : i.model.kind === "ollama" ? i.model.tag : null,
      ggufFile: i.model.kind === "gguf-file" ? i.model.path : null,
      ggufRepo: i.model.kind === "gguf-repo" ? i.model.repo : null,
      host: i.listen,
      port: i.port,
      gpu: i.gpuVendor ?? "none",
      environment: i.environment,
      extraArgs: i.extraArgs,
      apiKeyFile: i.apiKeyFile,
      devices: i.devices ? { comments: why(i.devices.reason, i.devices.sources), value: i.devices.value } : null,
      startTimeout: i.startTimeout ? { comments: why(i.startTimeout.reason, i.startTimeout.sources), value: i.startTimeout.value } : null,
      settingsComments: i.settings ? why(i.settings.reason, i.settings.sources) : [],
    })),
  };
}
