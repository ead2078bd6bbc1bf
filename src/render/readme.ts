/** What the generated README.md shows: decisions, build sets, the forecast, findings, next steps. */
import type { Finding, FleetPlan, Severity } from "../plan/types.js";
import { compareCodePoints, nixAttrName } from "./nix.js";
import { deviceText, forecastLine, hoursText, modelText, oneLineNix, outputName, sourcesText } from "./text.js";

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
  const buildCommands = ["nix flake check", ...outputs.map((o) => `nix build .#${o}`)].join("\n");
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
  const findings = fleet.hosts.flatMap((h) => sortFindings(h.findings).map((f) => ({ ...f, host: h.host })));

  return {
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
    pythonSets,
    hasPythonSets: pythonSets.length > 0,
    flakeUsage,
    classicUsage,
  };
}
