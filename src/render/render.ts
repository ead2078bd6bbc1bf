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
import type { FleetBuildSet, FleetPlan, Instance, LoadBalancer, Plan, PythonSet, ServicePlan } from "../plan/types.js";
import { markerFor } from "../write/marker.js";
import type { RenderedFile } from "../write/write.js";
import { compareCodePoints, nixAttrPath, nixExpr, nixString, type NixExpr, type NixInput } from "./nix.js";
import { readmeContext } from "./readme.js";
import { loadModuleLibrary, loadTemplates } from "./templates.js";
import { byName, appName, deviceText, forecastLine, needsSystemManager, outputName, why } from "./text.js";

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
      contents: finish(markerFor(hostPath(h.host), h.host, "profile"), render("host.nix", hostContext(h.host, hostInstances(fleet, h), fleet.services, h.loadBalancers ?? []))),
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

/** A host's own instances plus the vLLM servers of the services it heads, sorted. */
function hostInstances(fleet: FleetPlan, h: Plan): readonly Instance[] {
  // Asked for by several parts of one render; plans are not changed once made.
  const known = instancesOf.get(h);
  if (known && known.services === fleet.services) return known.list;
  const list = byName([...h.instances, ...fleet.services.filter((s) => s.members[0]!.host === h.host).map((s) => s.instance)]);
  instancesOf.set(h, { services: fleet.services, list });
  return list;
}

const instancesOf = new WeakMap<Plan, { readonly services: FleetPlan["services"]; readonly list: readonly Instance[] }>();

/** The units a host runs: its instances' servers and the Ray nodes of its services. */
function hostUnits(fleet: FleetPlan, h: Plan, instances: readonly Instance[] = hostInstances(fleet, h)): string[] {
  const ray = fleet.services.filter((s) => s.members.some((m) => m.host === h.host)).map((s) => `hwflake-ray-${s.name}`);
  return [...instances.map((i) => `hwflake-${i.name}`), ...ray].sort(compareCodePoints);
}

/** Marker first, trailing whitespace trimmed, blank-line runs collapsed, exactly one final newline. */
function finish(marker: string, body: string): string {
  // A fleet renders thousands of files, so each rule costs one scan when there is nothing to do.
  let text = `${marker}\n${body}`;
  if (text.includes(" \n") || text.includes("\t\n")) text = text.split("\n").map((l) => l.replace(/[ \t]+$/, "")).join("\n");
  // Optional template sections leave blank lines behind; never more than one in a row.
  if (text.includes("\n\n\n")) text = text.replace(/\n{3,}/g, "\n\n");
  let end = text.length;
  for (let c = text.charCodeAt(end - 1); c === 10 || c === 32 || c === 9; c = text.charCodeAt(--end - 1));
  // Usually the text already ends in exactly one newline: no copy then.
  return end === text.length - 1 && text.charCodeAt(end) === 10 ? text : `${text.slice(0, end)}\n`;
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
    for (const i of hostInstances(fleet, h)) {
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
  const systemConfigs = systemConfigsOf(fleet);
  return {
    description: one ? `LLM inference servers for ${fleet.name}, generated by hwflake` : `LLM inference servers for the ${fleet.name} fleet (${fleet.hosts.length} hosts), generated by hwflake`,
    nixpkgsUrl,
    hwflakeUrl,
    inputNames: ["self", "nixpkgs", ...(hwflakeUrl ? ["hwflake"] : []), ...(systemConfigs ? ["system-manager"] : [])].map(nixExpr),
    modules: nixExpr(hwflakeUrl ? `hwflake.outPath + "/modules"` : "./modules"),
    modulesComments: hwflakeUrl
      ? ["hwflake's module library, from the flake input `hwflake`."]
      : ["hwflake's module library: the generated copy beside this file (hwflake generate rewrites it)."],
    hosts: Object.fromEntries(
      fleet.hosts.map((h) => {
        const instances = hostInstances(fleet, h);
        return [
          h.host,
          {
            system: h.system,
            // Path literals are code; host names were checked against SAFE_HOST above.
            module: nixExpr(`./${hostPath(h.host)}`),
            units: hostUnits(fleet, h, instances),
            // The VM check (modules/vm-test.nix) runs the CPU instances and switches the others off.
            cpuInstances: instances.filter((i) => i.backend === "cpu").map((i) => i.name),
            otherInstances: instances.filter((i) => i.backend !== "cpu").map((i) => i.name),
          },
        ];
      }),
    ),
    nixosModules,
    packageOutputs,
    hostsBySystem,
    appsBySystem: appsOf(fleet),
    systemConfigs,
    systemManagerHostsBySystem: Object.fromEntries(
      [...new Set(fleet.hosts.filter(needsSystemManager).map((h) => h.system))]
        .sort(compareCodePoints)
        .map((sys) => [sys, fleet.hosts.filter((h) => h.system === sys && needsSystemManager(h)).map((h) => h.host)]),
    ),
  };
}

/**
 * The app of every instance, per system: named after the instance, or `<host>-<instance>` in a
 * fleet (two hosts may name instances alike).
 */
function appsOf(fleet: FleetPlan): Record<string, Record<string, NixInput>> {
  const one = fleet.hosts.length === 1;
  const apps: Record<string, Record<string, NixInput>> = {};
  for (const h of fleet.hosts)
    for (const i of byName(h.instances)) (apps[h.system] ??= {})[appName(h.host, i.name, one)] = { host: h.host, instance: i.name };
  return apps;
}

// numtide/system-manager refuses other distributions unless allowAnyDistro is set: its
// pre-activation check accepts os-release IDs nixos, ubuntu and debian
// (nix/modules/default.nix @ 48d47346e0c6ad05b6c869ea92649c47723d1cfc).
const SYSTEM_MANAGER_DISTROS = new Set(["nixos", "ubuntu", "debian"]);

/**
 * systemConfigs of the hosts that are not NixOS (or may not be): each host by name, and
 * `default` for a fleet of one; `settings` is a module with what such a host needs on top.
 * Null when every host runs NixOS, and then the flake has no system-manager input.
 */
function systemConfigsOf(fleet: FleetPlan): Record<string, NixInput> | null {
  const hosts = fleet.hosts.filter(needsSystemManager);
  if (hosts.length === 0) return null;
  const out: Record<string, NixInput> = {};
  for (const h of hosts) {
    const settings: Record<string, NixInput> = {};
    // Nix-built CUDA programs find libcuda only in /run/opengl-driver/lib (modules/driver.nix).
    if (h.instances.some((i) => i.gpuVendor === "nvidia")) settings["services.hwflake.hostDriver.enable"] = true;
    if (h.os && !SYSTEM_MANAGER_DISTROS.has(h.os.id)) settings["system-manager.allowAnyDistro"] = true;
    out[h.host] = { host: h.host, settings: nixExpr(settingsModule(settings)) };
  }
  if (fleet.hosts.length === 1) out.default = out[hosts[0]!.host]!;
  return out;
}

/** `{ a.b = v; }` for dotted option paths with boolean values, in sorted order. */
function settingsModule(settings: Record<string, NixInput>): string {
  const keys = Object.keys(settings).sort(compareCodePoints);
  if (keys.length === 0) return "{ }";
  return `{ ${keys.map((k) => `${k} = ${settings[k] === true ? "true" : "false"};`).join(" ")} }`;
}

// ---------------------------------------------------------------------------------------------
// build-sets.nix

/** One entry per set name (the same data on every system), with each system's forecast. */
function buildSetsContext(sets: readonly FleetBuildSet[], oneHost: boolean): object {
  // Instances are "host/name"; a fleet of one says just the name.
  const instanceName = (i: string) => (oneHost ? i.slice(i.indexOf("/") + 1) : i);
  const setsByName = new Map<string, FleetBuildSet[]>();
  for (const s of sets) setsByName.set(s.name, [...(setsByName.get(s.name) ?? []), s]);
  return {
    sets: [...setsByName.values()].map((same) => {
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
        rayEnv: same.some((x) => x.rayEnv) ? { comments: ["A Python with this set's vLLM and Ray for the Ray nodes of services across hosts (ray-env)."] } : null,
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

function hostContext(host: string, instances: readonly Instance[], services: readonly ServicePlan[], loadBalancers: readonly LoadBalancer[]): object {
  const ray = services.flatMap((s) =>
    s.members
      .filter((m) => m.host === host)
      .map((m) => ({
        name: s.name,
        comments: [`Ray ${m.role} of ${s.name}: ${s.decision.reason}`],
        role: m.role,
        nodeAddress: m.address,
        headAddress: s.members[0]!.address,
        port: s.rayPort,
        peers: s.members.filter((o) => o.host !== host).map((o) => o.address),
        package: nixExpr(nixAttrPath(["pkgs", "hwflake", s.buildSet, "ray-env"])),
        gpu: m.gpuVendor,
        environment: m.environment,
      })),
  );
  return {
    ray: ray.length ? ray : null,
    hasInstances: instances.length > 0,
    loadBalancers: loadBalancers.length
      ? loadBalancers.map((b) => ({
          name: b.name,
          comments: why(b.decision.reason, b.decision.sources),
          value: { host: b.listen, port: b.port, backends: b.backends },
        }))
      : null,
    instances: instances.map((i) => ({
      servedModelName: i.behind ?? null,
      cpu: cpuContext(i),
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
      network: i.network ?? null,
      devices: i.devices ? { comments: why(i.devices.reason, i.devices.sources), value: i.devices.value } : null,
      startTimeout: i.startTimeout ? { comments: why(i.startTimeout.reason, i.startTimeout.sources), value: i.startTimeout.value } : null,
      settingsComments: i.settings ? why(i.settings.reason, i.settings.sources) : [],
    })),
  };
}

/** The instance's `cpu` options and, above them, every tuning number with its reason. */
function cpuContext(i: Instance): { comments: string[]; value: Record<string, NixInput> } | null {
  const c = i.cpu;
  const req = i.requiredCpuFeatures ?? null;
  // Ollama, or nothing known about the CPU: no options to set and nothing to explain.
  if (!req && (!c || (!c.affinity && !c.tcmalloc && c.decisions.length <= 1))) return null;
  const value: Record<string, NixInput> = {};
  if (c?.affinity) value.affinity = c.affinity;
  if (c?.numaPolicy) value.numaPolicy = c.numaPolicy;
  if (c?.numaMask) value.numaMask = c.numaMask;
  if (c?.tcmalloc) value.tcmalloc = true;
  if (req) value.requiredFeatures = [...req.value];
  const decisions = [...(c?.decisions ?? []), ...(req ? [{ value: `requiredFeatures ${req.value.join(" ")}`, reason: `checked at every start (ExecStartPre): ${req.reason}`, sources: req.sources }] : [])];
  const refs = [...new Set(decisions.flatMap((d) => d.sources.map((s) => s.ref)))];
  return {
    comments: [...decisions.map((d) => `${d.value}: ${d.reason}.`), ...refs.map((r) => `Source: ${r}`)],
    value,
  };
}
