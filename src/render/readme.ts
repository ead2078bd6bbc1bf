/** What the generated README.md shows: decisions, build sets, the forecast, findings, next steps. */
import type { Finding, FleetPlan, Severity } from "../plan/types.js";
import { compareCodePoints, nixAttrName } from "./nix.js";
import { appName, deviceText, forecastLine, hoursText, modelText, needsSystemManager, oneLineNix, outputName, sourcesText } from "./text.js";

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

/** The README template's context for a fleet (one host is a fleet of one). */
export function readmeContext(fleet: FleetPlan, hwflakeUrl: string | null): object {
  const one = fleet.hosts.length === 1;
  const first = fleet.hosts[0]!;
  const outputs = [...new Set(fleet.buildSets.flatMap((s) => s.packages.map((p) => outputName(s.name, p.engine))))].sort(compareCodePoints);
  // `nix flake check` would also run the VM checks, which need KVM: evaluate everything here,
  // and run the VM checks where KVM is (CI).
  const vmChecks = fleet.hosts
    .filter((h) => h.instances.some((i) => i.backend === "cpu"))
    .map((h) => `nix build .#checks.${h.system}.vm-${h.host}   # needs KVM: runs the CPU instances in a VM`);
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
  const more = fleet.hosts.length > shown.length ? [`      # … one entry per host: ${fleet.hosts.map((h) => h.host).join(", ")}`] : [];
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
  const instances = fleet.hosts.flatMap((h) =>
    [...h.instances]
      .sort((a, b) => compareCodePoints(a.name, b.name))
      .map((i) => ({
        host: h.host,
        name: i.name,
        engine: i.engine,
        device: deviceText(i),
        package: `pkgs.hwflake.${i.buildSet}.${i.engine}`,
        model: modelText(i),
        endpoint: `${i.listen}:${i.port}`,
        reason: i.engineDecision.reason,
        sources: sourcesText(i.engineDecision.sources),
      })),
  );
  const findings = [
    ...sortFindings(fleet.findings).map((f) => ({ ...f, host: "fleet.yaml" })),
    ...fleet.hosts.flatMap((h) => sortFindings(h.findings).map((f) => ({ ...f, host: h.host }))),
  ];
  // CPU instances' placement and tuning, and the nginx load balancers (src/plan/cpu-serving.ts).
  const label = (host: string, name: string) => (fleet.hosts.length === 1 ? name : `${host}/${name}`);
  const cpuPlacements = fleet.hosts.flatMap((h) =>
    [...h.instances]
      .filter((i) => i.cpu && i.cpu.affinity !== "")
      .sort((a, b) => compareCodePoints(a.name, b.name))
      .map((i) => ({
        name: label(h.host, i.name),
        affinity: i.cpu!.affinity,
        memory: i.cpu!.numaPolicy ? `${i.cpu!.numaPolicy} ${i.cpu!.numaMask}` : "-",
        threads: String(i.cpu!.threads ?? "-"),
        frontend: i.cpu!.frontend || "-",
        settings: [...Object.entries(i.environment).filter(([k]) => k.startsWith("VLLM_CPU_")).map(([k, v]) => `${k}=${v}`), ...i.extraArgs].join(" ") || "-",
      })),
  );
  const loadBalancers = fleet.hosts.flatMap((h) =>
    (h.loadBalancers ?? []).map((b) => ({
      name: label(h.host, b.name),
      endpoint: `${b.listen}:${b.port}`,
      backends: b.backends.join(", "),
      reason: b.decision.reason,
    })),
  );
  const runCommands = fleet.hosts
    .flatMap((h) =>
      [...h.instances]
        .sort((a, b) => compareCodePoints(a.name, b.name))
        .map((i) => `${i.apiKeyFile ? `HWFLAKE_API_KEY_FILE=${i.apiKeyFile} ` : ""}nix run .#${appName(h.host, i.name, one)}`),
    )
    .join("\n");
  const smHosts = fleet.hosts.filter(needsSystemManager);
  const osText = (h: (typeof fleet.hosts)[number]) => (h.os ? `${h.os.id}${h.os.versionId ? ` ${h.os.versionId}` : ""}` : "an OS the profile does not name");
  const unitCommands = smHosts
    .flatMap((h) => [
      `sudo nix build .#systemdUnits.${h.system}.${h.host} --out-link /nix/var/nix/gcroots/hwflake-${h.host}-units`,
      ...[...h.instances]
        .sort((a, b) => compareCodePoints(a.name, b.name))
        .flatMap((i) => [
          `sudo systemctl link /nix/var/nix/gcroots/hwflake-${h.host}-units/hwflake-${i.name}.service`,
          `sudo systemctl add-wants multi-user.target hwflake-${i.name}.service`,
        ]),
    ])
    .join("\n");
  const systemManagerWhy = one
    ? `This host runs ${osText(first)}${first.os ? ", not NixOS" : " (NixOS or not)"}.`
    : `Hosts that are not NixOS, or whose profile does not name the OS: ${smHosts.map((h) => `${h.host} (${osText(h)})`).join(", ")}.`;

  return {
    cpuPlacements: cpuPlacements.length ? cpuPlacements : null,
    loadBalancers: loadBalancers.length ? loadBalancers : null,
    title: one ? first.host : `the ${fleet.name} fleet`,
    host: first.host,
    system: first.system,
    fleet: !one,
    hostCount: String(fleet.hosts.length),
    refused: fleet.refused,
    hosts: fleet.hosts.map((h) => ({
      host: h.host,
      system: h.system,
      instances: h.instances.length ? h.instances.map((i) => i.name).join(", ") : "-",
      sets: [...new Set(h.instances.map((i) => i.buildSet))].sort(compareCodePoints).join(", ") || "-",
      refused: h.refused ? "refused" : "ok",
    })),
    instances,
    hasInstances: instances.length > 0,
    sets: fleet.buildSets.map((s) => ({
      name: s.name,
      system: s.system,
      backend: s.backend,
      targets: s.targets.length ? s.targets.join(", ") : "-",
      config: oneLineNix(s.config.value),
      instances: one ? s.instances.map((i) => i.slice(i.indexOf("/") + 1)).join(", ") : s.instances.join(", "),
      hosts: s.hosts.join(", "),
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
    systemManager: smHosts.length > 0,
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
