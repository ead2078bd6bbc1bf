/** What the generated README.md shows: decisions, build sets, the forecast, findings, next steps. */
import type { Finding, FleetPlan, Plan, Severity } from "../plan/types.js";
import { compareCodePoints, nixAttrName } from "./nix.js";
import { appName, byName, deviceText, forecastLine, hoursText, modelText, needsSystemManager, oneLineNix, outputName, sourcesText } from "./text.js";

const SEVERITY_ORDER: Readonly<Record<Severity, number>> = { error: 0, warning: 1, info: 2 };

function sortFindings<F extends Finding>(findings: readonly F[]): F[] {
  return [...findings].sort(
    (a, b) =>
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      compareCodePoints(a.code, b.code) ||
      compareCodePoints(a.subject, b.subject) ||
      compareCodePoints(a.message, b.message),
  );
}

/** A host's part of the README: its decisions, placement, balancers and findings, as shown. */
interface HostDetail {
  readonly instances: readonly Record<string, string>[];
  readonly cpuPlacements: readonly Record<string, string>[];
  readonly loadBalancers: readonly Record<string, string>[];
  readonly findings: readonly Finding[];
  readonly os: string;
}

/** Hosts whose README parts are equal (apart from the host name): shown once. */
interface HostGroup {
  readonly hosts: readonly Plan[];
  readonly detail: HostDetail;
  /** The Ray nodes its hosts run for services across hosts, e.g. "the Ray head of big". */
  readonly services: string;
}

function osText(h: Plan): string {
  return h.os ? `${h.os.id}${h.os.versionId ? ` ${h.os.versionId}` : ""}` : "an OS the profile does not name";
}

function hostDetail(h: Plan): HostDetail {
  const instances = byName(h.instances);
  return {
    instances: instances.map((i) => ({
      name: i.name,
      engine: i.engine,
      device: deviceText(i),
      package: `pkgs.hwflake.${i.buildSet}.${i.engine}`,
      model: modelText(i),
      endpoint: `${i.listen}:${i.port}`,
      reason: i.engineDecision.reason,
      sources: sourcesText(i.engineDecision.sources),
      apiKeyFile: i.apiKeyFile ?? "",
    })),
    // CPU instances' placement and tuning, and the nginx load balancers (src/plan/cpu-serving.ts).
    cpuPlacements: instances
      .filter((i) => i.cpu && i.cpu.affinity !== "")
      .map((i) => ({
        name: i.name,
        affinity: i.cpu!.affinity,
        memory: i.cpu!.numaPolicy ? `${i.cpu!.numaPolicy} ${i.cpu!.numaMask}` : "-",
        threads: String(i.cpu!.threads ?? "-"),
        frontend: i.cpu!.frontend || "-",
        settings: [...Object.entries(i.environment).filter(([k]) => k.startsWith("VLLM_CPU_")).map(([k, v]) => `${k}=${v}`), ...i.extraArgs].join(" ") || "-",
      })),
    loadBalancers: (h.loadBalancers ?? []).map((b) => ({
      name: b.name,
      endpoint: `${b.listen}:${b.port}`,
      backends: b.backends.join(", "),
      reason: b.decision.reason,
    })),
    findings: sortFindings(h.findings),
    os: osText(h),
  };
}

/**
 * The fleet's hosts grouped by what the README shows of them, in host order: a thousand twins
 * are one entry, not a thousand copies. The key also holds what the README does not show but
 * the host's configuration differs by (system, plan refused, Ray service roles), so a group is
 * hosts with the same plan apart from their names and device IDs.
 */
function hostGroups(fleet: FleetPlan): HostGroup[] {
  // What each host runs for services across hosts, as the README says it.
  const roles = new Map<string, string[]>();
  for (const s of fleet.services) for (const m of s.members) roles.set(m.host, [...(roles.get(m.host) ?? []), `the Ray ${m.role} of ${s.name}`]);
  // Every text becomes a small number, so a host's key is short whatever its reasons' length.
  const ids = new Map<string, number>();
  const id = (text: string): number => {
    let n = ids.get(text);
    if (n === undefined) ids.set(text, (n = ids.size));
    return n;
  };
  const byKey = new Map<string, { hosts: Plan[]; detail: HostDetail | null; services: string }>();
  for (const h of fleet.hosts) {
    const mine = roles.get(h.host) ?? [];
    const key = hostKey(h, mine, id);
    const g = byKey.get(key);
    if (g) g.hosts.push(h);
    else byKey.set(key, { hosts: [h], detail: null, services: mine.join(", ") });
  }
  // Only each group's first host is described: the others show the same.
  for (const g of byKey.values()) g.detail = hostDetail(g.hosts[0]!);
  return [...byKey.values()] as HostGroup[];
}

/**
 * Everything hostDetail shows of a host (and what its configuration differs by besides),
 * each text as its number from `id`; sources by their parts, without joining them into text.
 */
function hostKey(h: Plan, roles: readonly string[], id: (text: string) => number): string {
  let k = `${id(h.system)},${h.refused},${id(osText(h))}`;
  for (const r of roles) k += `,${id(r)}`;
  k += "|";
  const instances = byName(h.instances);
  for (const i of instances) {
    k += `instance,${id(i.name)},${id(i.engine)},${id(i.backend)}`;
    for (const o of i.on) k += `,${id(o)}`;
    k += `,/,${id(i.buildSet)},${id(modelText(i))},${id(i.listen)},${i.port},${id(i.engineDecision.reason)}`;
    for (const src of i.engineDecision.sources) k += `,${id(src.ref)},${src.note === undefined ? "-" : id(src.note)}`;
    k += `,${i.apiKeyFile === null ? "-" : id(i.apiKeyFile)};`;
    const c = i.cpu;
    if (c && c.affinity !== "") {
      // Marked, and the variable-length lists closed, so no two layouts give one key.
      k += `cpu,${id(c.affinity)},${id(c.numaPolicy ?? "-")},${id(c.numaMask ?? "-")},${c.threads},${id(c.frontend)}`;
      for (const [name, v] of Object.entries(i.environment)) if (name.startsWith("VLLM_CPU_")) k += `,${id(name)},${id(v)}`;
      k += ",=";
      for (const a of i.extraArgs) k += `,${id(a)}`;
      k += ";";
    }
  }
  k += "|";
  for (const b of h.loadBalancers ?? []) {
    k += `${id(b.name)},${id(b.listen)},${b.port},${id(b.decision.reason)}`;
    for (const x of b.backends) k += `,${id(x)}`;
    k += ";";
  }
  k += "|";
  for (const f of sortFindings(h.findings)) k += `${id(f.severity)},${id(f.code)},${id(f.subject)},${id(f.message)},${id(f.fix ?? "-")},${id(f.source)};`;
  return k;
}

/** The README template's context for a fleet (one host is a fleet of one). */
export function readmeContext(fleet: FleetPlan, hwflakeUrl: string | null): object {
  const one = fleet.hosts.length === 1;
  const first = fleet.hosts[0]!;
  const outputs = [...new Set(fleet.buildSets.flatMap((s) => s.packages.map((p) => outputName(s.name, p.engine))))].sort(compareCodePoints);
  // `nix flake check` would also run the VM checks, which need KVM: evaluate everything here,
  // and run the VM checks where KVM is (CI).
  const groups = hostGroups(fleet);
  const vmChecks = groups
    .filter((g) => g.hosts[0]!.instances.some((i) => i.backend === "cpu"))
    .map((g) => {
      const h = g.hosts[0]!;
      const others = g.hosts.length > 1 ? `; likewise vm-<host> for the ${g.hosts.length - 1} other host(s) of its group` : "";
      return `nix build .#checks.${h.system}.vm-${h.host}   # needs KVM: runs the CPU instances in a VM${others}`;
    });
  const buildCommands = ["nix flake check --no-build", ...outputs.map((o) => `nix build .#${o}`), ...vmChecks].join("\n");
  const input = nixAttrName(`${fleet.name}-llm`);
  const module = one ? "default" : "<host>";
  const flakeUsage = [
    "{",
    `  inputs.${input}.url = "path:/path/to/this/folder";`,
    "",
    "  outputs =",
    "    { nixpkgs, ... }@inputs:",
    "    {",
    `      nixosConfigurations.${one ? nixAttrName(first.host) : "<host>"} = nixpkgs.lib.nixosSystem {`,
    "        modules = [",
    "          ./configuration.nix",
    `          inputs.${input}.nixosModules.${module}`,
    "        ];",
    "      };",
    "    };",
    "}",
  ].join("\n");
  const classicUsage = [
    "{",
    "  imports = [",
    hwflakeUrl ? "    <hwflake/modules>" : "    ./path/to/this/folder/modules",
    `    ./path/to/this/folder/hosts/${one ? first.host : "<host>"}.nix`,
    "  ];",
    "}",
  ].join("\n");
  // Deployment with an existing tool: the user's flake adds each host's hardware configuration
  // (deploy-rs README @ a1eb366d; colmena manual tutorial/flakes.md @ d11e94dc).
  const shown = fleet.hosts.slice(0, 2);
  const more = fleet.hosts.length > shown.length ? [`      # … one entry per host (${fleet.hosts.length} in all, listed under Hosts above)`] : [];
  const deployUsage = [
    "{",
    "  inputs = {",
    '    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";',
    `    ${input}.url = "path:/path/to/this/folder";`,
    `    ${input}.inputs.nixpkgs.follows = "nixpkgs";`,
    '    deploy-rs.url = "github:serokell/deploy-rs";',
    "  };",
    "",
    "  outputs =",
    `    { self, nixpkgs, deploy-rs, ... }@inputs:`,
    "    {",
    ...shown.flatMap((h) => [
      `      nixosConfigurations.${nixAttrName(h.host)} = nixpkgs.lib.nixosSystem {`,
      `        system = "${h.system}";`,
      "        modules = [",
      `          ./${h.host}/configuration.nix # its hardware, disks, network, users`,
      `          inputs.${input}.nixosModules.${nixAttrName(h.host)}`,
      "        ];",
      "      };",
      `      deploy.nodes.${nixAttrName(h.host)} = {`,
      `        hostname = "${h.host}";`,
      "        profiles.system = {",
      '          user = "root";',
      `          path = deploy-rs.lib.${h.system}.activate.nixos self.nixosConfigurations.${nixAttrName(h.host)};`,
      "        };",
      "      };",
    ]),
    ...more,
    "      checks = builtins.mapAttrs (system: deployLib: deployLib.deployChecks self.deploy) deploy-rs.lib;",
    "    };",
    "}",
  ].join("\n");
  const colmenaUsage = [
    "colmenaHive = colmena.lib.makeHive {",
    `  meta.nixpkgs = import nixpkgs { system = "${first.system}"; };`,
    ...shown.flatMap((h) => [
      `  ${nixAttrName(h.host)} = {`,
      `    imports = [ ./${h.host}/configuration.nix inputs.${input}.nixosModules.${nixAttrName(h.host)} ];`,
      `    deployment.targetHost = "${h.host}";`,
      "  };",
    ]),
    ...more.map((l) => l.slice(4)),
    "};",
  ].join("\n");
  // Sets with pinned wheels: each wheel's version and where its hash comes from, and how another
  // program (a Ray driver) runs the engine's environment without holding it (seed 002's split).
  const pythonSets = [...new Map(fleet.buildSets.filter((s) => s.python).map((s) => [s.name, s])).values()].map((s) => {
    const out = outputName(s.name, "python");
    return {
      name: s.name,
      output: out,
      wheels: s.python!.value.wheels.map((w) => ({
        package: w.package,
        version: w.version,
        from: w.fetch === "github" ? `${w.github!.owner}/${w.github!.repo} ${w.github!.tag} (nixpkgs' expression)` : w.fetch === "requireFile" ? `${w.file} (your file, requireFile)` : (w.url ?? "-"),
        hash: w.hash ? `${w.hash} (${w.hashSource})` : `needed: ${w.prefetch}`,
      })),
      ray: [
        `# nix build .#${out} --out-link ./engine-python`,
        "# The engine's interpreter: its vLLM and accelerator stack at the pinned versions. The",
        "# driver's own environment (training code, torch_xla, ...) holds none of them.",
        "import ray",
        "",
        'ENGINE_PY = "/path/to/engine-python/bin/python"',
        "",
        '@ray.remote(runtime_env={"py_executable": ENGINE_PY})',
        "class Generator:",
        "    def __init__(self, model: str):",
        "        from vllm import LLM  # imported in the actor's process only",
        "        self.llm = LLM(model=model)",
        "",
        "    def generate(self, prompts):",
        "        return [o.outputs[0].text for o in self.llm.generate(prompts)]",
      ].join("\n"),
    };
  });
  // A group of one is labelled by its host; a bigger one by its first host and a count.
  const labelOf = (g: HostGroup) => (g.hosts.length === 1 ? g.hosts[0]!.host : `${g.hosts[0]!.host} and ${g.hosts.length - 1} more like it`);
  const groupOfHost = new Map(groups.flatMap((g) => g.hosts.map((h) => [h.host, g] as const)));
  const findings = [
    ...sortFindings(fleet.findings).map((f) => ({ ...f, host: "fleet.yaml" })),
    ...groups.flatMap((g) => g.detail.findings.map((f) => ({ ...f, host: labelOf(g) }))),
  ];
  const firstOf = (g: HostGroup) => g.hosts[0]!;
  // Commands are shown for one host of each group; the others differ only in the name.
  const runCommands = groups
    .flatMap((g) =>
      byName(firstOf(g).instances)
        .map((i) => `${i.apiKeyFile ? `HWFLAKE_API_KEY_FILE=${i.apiKeyFile} ` : ""}nix run .#${appName(firstOf(g).host, i.name, one)}`),
    )
    .join("\n");
  const smGroups = groups.filter((g) => needsSystemManager(firstOf(g)));
  const unitCommands = smGroups
    .flatMap((g) => {
      const h = firstOf(g);
      return [
        `sudo nix build .#systemdUnits.${h.system}.${h.host} --out-link /nix/var/nix/gcroots/hwflake-${h.host}-units`,
        ...byName(h.instances)
          .flatMap((i) => [
            `sudo systemctl link /nix/var/nix/gcroots/hwflake-${h.host}-units/hwflake-${i.name}.service`,
            `sudo systemctl add-wants multi-user.target hwflake-${i.name}.service`,
          ]),
      ];
    })
    .join("\n");
  const systemManagerWhy = one
    ? `This host runs ${osText(first)}${first.os ? ", not NixOS" : " (NixOS or not)"}.`
    : `Hosts that are not NixOS, or whose profile does not name the OS: ${smGroups.map((g) => `${labelOf(g)} (${g.detail.os})`).join(", ")}.`;

  return {
    title: one ? first.host : `the ${fleet.name} fleet`,
    host: first.host,
    system: first.system,
    fleet: !one,
    hostCount: String(fleet.hosts.length),
    refused: fleet.refused,
    groups: groups.map((g) => ({
      first: g.hosts[0]!.host,
      others: g.hosts.length > 1 ? String(g.hosts.length - 1) : null,
      hostNames: g.hosts.map((h) => h.host),
      system: g.hosts[0]!.system,
      instanceNames: g.detail.instances.length ? g.detail.instances.map((i) => i.name).join(", ") : "-",
      sets: [...new Set(g.hosts[0]!.instances.map((i) => i.buildSet))].sort(compareCodePoints).join(", ") || "-",
      refused: g.hosts[0]!.refused ? "refused" : "ok",
      instances: g.detail.instances,
      hasInstances: g.detail.instances.length > 0,
      services: g.services,
      cpuPlacements: g.detail.cpuPlacements.length ? g.detail.cpuPlacements : null,
      loadBalancers: g.detail.loadBalancers.length ? g.detail.loadBalancers : null,
    })),
    grouped: groups.some((g) => g.hosts.length > 1),
    groupCount: String(groups.length),
    sets: fleet.buildSets.map((s) => ({
      name: s.name,
      system: s.system,
      backend: s.backend,
      targets: s.targets.length ? s.targets.join(", ") : "-",
      config: oneLineNix(s.config.value),
      instances: one ? s.instances.map((i) => i.slice(i.indexOf("/") + 1)).join(", ") : s.instances.join(", "),
      // Hosts of one group use the same sets: name the groups, not thousands of hosts.
      hosts: [...new Set(s.hosts.map((h) => groupOfHost.get(h)!))].map(labelOf).join(", "),
      packages: s.packages.map((p) => p.engine).join(", "),
      forecast: forecastLine(s),
    })),
    packages: fleet.buildSets.flatMap((s) =>
      s.packages.map((p) => ({
        name: outputName(s.name, p.engine),
        set: s.name,
        system: s.system,
        base: p.base,
        args: Object.keys(p.args).length > 0 ? oneLineNix(p.args) : "-",
        env: Object.keys(p.env).length > 0 ? oneLineNix(p.env) : "-",
        reason: p.reason,
        sources: sourcesText(p.sources),
      })),
    ),
    forecast: fleet.buildSets.flatMap((s) =>
      s.forecast.compiles.map((c) => ({
        set: s.name,
        system: s.system,
        what: c.what,
        hours: hoursText(c.hours),
        disk: c.diskGB === null ? "-" : `~${c.diskGB} GB`,
        assumes: c.assumes,
        sources: sourcesText(c.sources),
      })),
    ),
    hasSets: fleet.buildSets.length > 0,
    hasForecast: fleet.buildSets.some((s) => s.forecast.compiles.length > 0),
    findings: findings.map((f) => ({
      host: f.host,
      severity: f.severity,
      code: f.code,
      subject: f.subject,
      message: f.message,
      fix: f.fix ?? "-",
      source: f.source === "" ? "-" : f.source,
    })),
    hasFindings: findings.length > 0,
    buildCommands,
    deployUsage,
    colmenaUsage,
    services: fleet.services.map((svc) => ({
      name: svc.name,
      model: modelText(svc.instance),
      endpoint: `${svc.members[0]!.host} ${svc.instance.listen}:${svc.instance.port}`,
      members: svc.members.map((m) => `${m.host} (${m.role}, ${m.address})`).join(", "),
      shape: `TP ${svc.tensorParallel} × PP ${svc.pipelineParallel}`,
      set: svc.buildSet,
      reason: svc.decision.reason,
      sources: sourcesText(svc.decision.sources),
    })),
    hasServices: fleet.services.length > 0,
    hasApps: runCommands !== "",
    runCommands,
    systemManager: smGroups.length > 0,
    // Unless every profile names an OS other than NixOS.
    nixosUsage: fleet.hosts.some((h) => h.os === undefined || h.os.id === "nixos"),
    systemManagerWhy,
    unitCommands,
    // numtide/system-manager README.md and docs/site/reference/cli.md @ 48d47346.
    systemManagerCommand: "nix run 'github:numtide/system-manager' -- switch --flake . --sudo",
    pythonSets,
    hasPythonSets: pythonSets.length > 0,
    flakeUsage,
    classicUsage,
  };
}
