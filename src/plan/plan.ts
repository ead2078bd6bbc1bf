/**
 * The planner: a pure function from a validated profile to a Plan. It never touches the disk;
 * every decision carries its reason and sources, every problem becomes a Finding.
 */
import { UserError } from "../errors.js";
import type { Accelerator, Profile, Serve } from "../profile/schema.js";
import {
  CREDENTIALS_SYSTEMD,
  ENGINE_FLAGS,
  SRC,
  cite,
  cpuBuildSet,
  cpuSupport,
  distroSystemd,
  familyOf,
  forecastOf,
  systemManagerTested,
  vllmCpuNeedsAvx512Off,
  x86LevelNumber,
  type AcceleratorFamily,
  type BuildSetRecipe,
  type SupportLevel,
  type Verdict,
} from "../knowledge/index.js";
import { CpuServingPlanner, checkCpuSharing, checkListeners, cpuPreflight, replicaNameClash } from "./cpu-serving.js";
import type { Backend, BuildSet, Decision, Engine, Finding, Instance, InstanceModel, LoadBalancer, PackageBuild, Plan, Source } from "./types.js";

const RANK: Record<SupportLevel, number> = { supported: 0, experimental: 1, unsupported: 2 };

/** The least favourable verdict of several (an instance is only as supported as its worst device). */
function worst(verdicts: readonly Verdict[]): Verdict {
  return verdicts.reduce((a, b) => (RANK[b.level] > RANK[a.level] ? b : a));
}

/** How engines are named in messages. */
export const ENGINE_LABEL: Readonly<Record<Engine, string>> = { vllm: "vLLM", "llama-cpp": "llama.cpp", ollama: "Ollama" };

/** Where an instance runs, resolved from its `on` list. */
interface Placement {
  readonly accs: readonly Accelerator[];
  readonly family: AcceleratorFamily | null;
  readonly label: string;
}

function placement(p: Profile, s: Serve): Placement {
  const accs = s.on.map((id) => p.accelerators.find((a) => a.id === id)!);
  if (accs.length === 0) return { accs, family: null, label: "CPU" };
  const family = familyOf(accs[0]!);
  const archs = [...new Set(accs.map((a) => a.arch ?? a.kind))].join("+");
  return { accs, family, label: `${accs.map((a) => a.id).join("+")} (${family.label} ${archs})` };
}

function verdictFor(p: Profile, where: Placement, engine: Engine): Verdict {
  if (!where.family) return cpuSupport(p.system, p.cpu, engine);
  return worst(where.accs.map((a) => where.family!.support(a, engine)));
}

/** What an engine would load for this entry, or null when the entry lacks it (GGUF for llama.cpp). */
function modelFor(s: Serve, engine: Engine): InstanceModel | null {
  if (engine === "vllm") return { kind: "hf", id: s.model };
  if (engine === "ollama") return { kind: "ollama", tag: s.model };
  if (s.gguf && "file" in s.gguf) return { kind: "gguf-file", path: s.gguf.file };
  if (s.gguf && "repo" in s.gguf) return { kind: "gguf-repo", repo: s.gguf.repo };
  if (/^\/.*\.gguf$/i.test(s.model)) return { kind: "gguf-file", path: s.model };
  return null;
}

/** Collects findings while planning. */
class Findings {
  readonly list: Finding[] = [];
  add(f: Finding): void {
    // Instances sharing a set can report the same thing about it (a missing wheel hash) once.
    if (this.list.some((x) => x.code === f.code && x.subject === f.subject && x.message === f.message)) return;
    this.list.push(f);
  }
}

interface EngineChoice {
  readonly engine: Engine;
  readonly decision: Decision<Engine>;
  /** Verdict of the chosen engine on the placement. */
  readonly verdict: Verdict;
}

/** Choose the engine for one serve entry, recording why and what was rejected. */
function chooseEngine(p: Profile, s: Serve, i: number, where: Placement, out: Findings): EngineChoice | null {
  const subject = `serve[${i}].engine`;
  const verdicts = Object.fromEntries(
    (["vllm", "llama-cpp", "ollama"] as const).map((e) => [e, verdictFor(p, where, e)]),
  ) as Record<Engine, Verdict>;
  const alternatives = (but: Engine) =>
    (Object.keys(verdicts) as Engine[]).filter((e) => e !== but && verdicts[e].level === "supported");

  if (s.engine !== "auto") {
    const engine = s.engine;
    const v = verdicts[engine];
    if (v.level === "unsupported") {
      const alts = alternatives(engine);
      const buildable = where.family === null || where.family.backend !== null;
      const accepted = s.acceptUnsupported && buildable;
      out.add({
        code: "ENGINE_UNSUPPORTED",
        severity: accepted ? "warning" : "error",
        subject,
        message: `${ENGINE_LABEL[engine]} on ${where.label}: ${v.reason}.` + (accepted ? " Planned anyway because acceptUnsupported is set." : ""),
        fix: accepted
          ? undefined
          : (alts.length ? `use engine: ${alts.map((e) => `"${e}"`).join(" or ")} (or "auto")` : "run this model on another device") +
            (buildable ? `, or set serve[${i}].acceptUnsupported: true to build it anyway` : ""),
        source: cite(...v.sources),
      });
      if (!accepted) return null;
    } else if (v.level === "experimental") {
      out.add({
        code: "ENGINE_EXPERIMENTAL",
        severity: "warning",
        subject,
        message: `${ENGINE_LABEL[engine]} on ${where.label}: ${v.reason}.`,
        fix: alternatives(engine).length ? `engine "${alternatives(engine)[0]}" is supported here` : undefined,
        source: cite(...v.sources),
      });
    }
    return {
      engine,
      verdict: v,
      decision: { value: engine, reason: `requested in the profile; ${v.reason}`, sources: v.sources },
    };
  }

  // auto: vLLM where upstream supports the device and the model is not only a GGUF file,
  // else llama.cpp, which runs nearly everywhere (also where it is only experimental). Ollama is
  // never chosen automatically: it loads models by its own registry names, not the profile's.
  const rejected: string[] = [];
  const ggufOnly = /\.gguf$/i.test(s.model);
  for (const engine of ["vllm", "llama-cpp"] as const) {
    const v = verdicts[engine];
    if (engine === "vllm" && ggufOnly) {
      rejected.push("vLLM: the model is a GGUF file, which llama.cpp serves natively");
      continue;
    }
    if (v.level === "unsupported" || (engine === "vllm" && v.level === "experimental")) {
      rejected.push(`${ENGINE_LABEL[engine]}: ${v.reason}`);
      continue;
    }
    if (rejected.length > 0) {
      out.add({
        code: "AUTO_FALLBACK",
        severity: "info",
        subject,
        message: `${s.name}: ${ENGINE_LABEL[engine]} chosen on ${where.label} because ${rejected.join("; ")}.`,
        source: cite(...verdicts.vllm.sources, ...v.sources),
      });
    }
    if (v.level === "experimental") {
      out.add({
        code: "ENGINE_EXPERIMENTAL",
        severity: "warning",
        subject,
        message: `${ENGINE_LABEL[engine]} on ${where.label}: ${v.reason}.`,
        source: cite(...v.sources),
      });
    }
    const sources = [...v.sources, ...(rejected.length ? verdicts.vllm.sources : [])];
    return {
      engine,
      verdict: v,
      decision: {
        value: engine,
        reason: rejected.length ? `${v.reason}. Not ${rejected.join("; not ")}` : v.reason,
        sources: dedupe(sources),
      },
    };
  }
  out.add({
    code: "NO_ENGINE",
    severity: "error",
    subject,
    message: `no engine runs ${s.name} on ${where.label}: ${rejected.join("; ")}.`,
    fix: "run it on another device (serve[].on), or on the CPU with on: []",
    source: cite(...Object.values(verdicts).flatMap((v) => v.sources)),
  });
  return null;
}

function dedupe(sources: readonly Source[]): Source[] {
  const seen = new Set<string>();
  return sources.filter((s) => (seen.has(s.ref) ? false : (seen.add(s.ref), true)));
}

/** The attribute of a build set's package set each engine is derived from. */
const ENGINE_BASE: Readonly<Record<Engine, PackageBuild["base"]>> = {
  "llama-cpp": "llama-cpp",
  ollama: "ollama",
  vllm: "python3Packages.vllm",
};

/** The build set an instance on `where` needs: its family's recipe for the devices' build targets, or the CPU set. */
function recipeFor(p: Profile, where: Placement): BuildSetRecipe | null {
  if (!where.family) return cpuBuildSet(p);
  const targets = [...new Set(where.accs.map((a) => where.family!.buildTarget(a)))].sort();
  return where.family.buildSet(targets);
}

/** Plan one host. Throws UserError only when nothing can be planned (unknown system). */
export function planHost(p: Profile): Plan {
  if (!p.system) {
    throw new UserError(
      'system: unknown. Set system to "x86_64-linux", "aarch64-linux" or "powerpc64le-linux" in the profile',
    );
  }
  const system = p.system;
  const out = new Findings();
  const flags = p.cpu.flags;
  const cpu = {
    x86Level: system === "x86_64-linux" ? x86LevelNumber(flags) : null,
    gccArch: p.cpu.arch ?? null,
    relevantFlags: (flags ?? []).filter((f) => (ENGINE_FLAGS as readonly string[]).includes(f)).sort(),
  };
  if (!flags) {
    out.add({
      code: "CPU_FLAGS_UNKNOWN",
      severity: "warning",
      subject: "cpu.flags",
      message: "CPU flags are unknown, so hwflake cannot prove a CPU build is safe on this host.",
      fix: "add cpu.flags (the flags line of /proc/cpuinfo), or run hwflake detect on the host",
      source: cite(SRC.vllmCpuCmake, SRC.psabi),
    });
  }

  if (system === "powerpc64le-linux") {
    out.add({
      code: "NO_BINARY_CACHE",
      severity: "info",
      subject: "system",
      message:
        "powerpc64le-linux has no public Nix binary cache (Hydra builds x86_64 and aarch64 only): Nix compiles everything this flake needs " +
        "on this host, from the compiler toolchain and the standard environment up to the engines. hwflake has no recorded time for the " +
        "toolchain; the build-cost forecast lists what it knows per build set.",
      fix: "build once and keep it: a remote builder of the same system (nix.buildMachines, or nix build --builders), or a binary cache of your own (nix copy --to) shared by your POWER hosts",
      source: cite(SRC.nixpkgsNoPpc64Cache),
    });
  }

  const instances: Instance[] = [];
  const loadBalancers: LoadBalancer[] = [];
  const cpuServing = new CpuServingPlanner(p, out);
  const recipes = new Map<string, BuildSetRecipe>();
  p.serve.forEach((s, i) => {
    const where = placement(p, s);
    const choice = chooseEngine(p, s, i, where, out);
    if (!choice) return;
    const { engine } = choice;
    // Families whose set depends on the entry (pins, plug-in options) plan it themselves.
    const served = where.family?.planServe?.({ profile: p, serve: s, index: i, accs: where.accs, engine }) ?? null;
    if (served) for (const f of served.findings) out.add(f);
    const recipe = served ? served.recipe : recipeFor(p, where);
    if (!recipe || (where.family && where.family.backend === null)) return; // reported as unsupported above
    const backend: Backend = where.family?.backend ?? "cpu";

    const model = modelFor(s, engine);
    if (!model) {
      out.add({
        code: "GGUF_MISSING",
        severity: "error",
        subject: `serve[${i}].gguf`,
        message: `${s.name} runs on llama.cpp, which loads GGUF files, but the profile gives only "${s.model}".`,
        fix: `add serve[${i}].gguf with repo: "<org>/<model>-GGUF:<quant>" (llama-server -hf) or file: "/path/model.gguf"`,
        source: cite(SRC.llamaServerArgs),
      });
      return;
    }
    if (engine === "ollama" && s.apiKeyFile) {
      out.add({
        code: "OLLAMA_NO_API_KEY",
        severity: "error",
        subject: `serve[${i}].apiKeyFile`,
        message: `${s.name}: Ollama has no API-key support, so apiKeyFile cannot protect it.`,
        fix: 'use engine "llama-cpp" or "vllm" (both read the key from a systemd credential), or drop apiKeyFile',
        source: cite(SRC.ollamaNoAuth),
      });
      return;
    }
    if (!["127.0.0.1", "::1", "localhost"].includes(s.listen) && !s.apiKeyFile && engine !== "ollama") {
      out.add({
        code: "LISTEN_WITHOUT_API_KEY",
        severity: "warning",
        subject: `serve[${i}].listen`,
        message: `${s.name} listens on ${s.listen} without an API key: anyone who can reach the port can use it.`,
        fix: `set serve[${i}].apiKeyFile to a file on the host holding the key`,
        source: cite(SRC.vllmServeArgs, SRC.llamaServerArgs),
      });
    }

    let pinning: Decision<Record<string, string>> | null = null;
    const environment: Record<string, string> = { ...(served?.environment?.value ?? {}) };
    const extraArgs: string[] = [];
    if (where.family) {
      const all = p.accelerators.filter((a) => where.family!.matches(a));
      const pin = where.family.pinning(where.accs, all, engine);
      pinning = { value: pin.env, reason: pin.reason, sources: pin.sources };
      Object.assign(environment, pin.env);
      for (const w of pin.warnings) {
        out.add({ code: "PIN_BY_INDEX", severity: "warning", subject: `serve[${i}].on`, message: w, source: cite(...pin.sources) });
      }
      const ea = where.family.engineArgs(where.accs, engine);
      if (ea) extraArgs.push(...ea.args);
      if (engine === "llama-cpp") extraArgs.push("--n-gpu-layers", "999");
    }

    const requiredCpuFeatures = cpuPreflight(p, s, engine, !where.family, out);
    const gpuVendor: Instance["gpuVendor"] = backend === "rocm" ? "amd" : backend === "cuda" ? "nvidia" : null;
    // Written out rather than spread from a shared base: a fleet makes tens of thousands of
    // these, and spreading objects of varying shape was a tenth of its planning time.
    const instance = (name: string, listen: string, port: number, env: Instance["environment"], args: readonly string[], cpu: Instance["cpu"], behind: string | null): Instance => {
      const x: { -readonly [K in keyof Instance]: Instance[K] } = {
        engine,
        on: s.on,
        backend,
        buildSet: recipe.name,
        model,
        apiKeyFile: s.apiKeyFile ?? null,
        gpuVendor,
        engineDecision: choice.decision,
        pinning,
        requiredCpuFeatures,
        name,
        listen,
        port,
        environment: env,
        extraArgs: args,
        cpu,
        behind,
      };
      if (served?.devices) x.devices = served.devices;
      if (served?.startTimeout) x.startTimeout = served.startTimeout;
      if (served?.environment) x.settings = served.environment;
      return x;
    };
    if (where.family) {
      instances.push(instance(s.name, s.listen, s.port, environment, extraArgs, null, null));
    } else {
      // Cores, NUMA memory, threads and KV cache; one server per node behind nginx when data parallel.
      const serving = cpuServing.serve(s, i, engine);
      if (!serving) return;
      const names = serving.replicas.map((r) => (r.suffix ? `${s.name}-${r.suffix}` : s.name));
      const clash = serving.balancer ? replicaNameClash(p, s, names) : null;
      if (clash) {
        out.add({
          code: "NAME_CLASH",
          severity: "error",
          subject: `serve[${i}].name`,
          message: `${s.name}'s per-node server ${clash} has the name of another serve entry.`,
          fix: `rename serve[${i}] or the entry named ${clash}`,
          source: "hwflake",
        });
        return;
      }
      if (serving.balancer)
        loadBalancers.push({ name: s.name, listen: s.listen, port: s.port, backends: names, decision: serving.balancer });
      serving.replicas.forEach((r, k) =>
        instances.push(instance(names[k]!, r.listen, r.port, { ...environment, ...r.environment }, [...extraArgs, ...r.extraArgs], r.cpu, serving.balancer ? s.name : null)),
      );
    }
    recipes.set(recipe.name, recipe);
  });

  const used = new Set(instances.flatMap((x) => x.on));
  p.accelerators.forEach((a, i) => {
    if (!used.has(a.id) && p.serve.length > 0)
      out.add({
        code: "ACCELERATOR_UNUSED",
        severity: "info",
        subject: `accelerators[${i}]`,
        message: `${a.id} (${a.model ?? a.arch ?? a.kind}) runs no instance; nothing is built for it.`,
        source: "hwflake",
      });
  });

  checkListeners(p, instances, loadBalancers, out);
  checkCpuSharing(p, instances, out);
  osFindings(p, instances, out);
  const buildSets = planBuildSets(p, instances, recipes, out);
  const findings = out.list;
  return {
    version: 1,
    host: p.host,
    system,
    ...(p.os ? { os: p.os.versionId === undefined ? { id: p.os.id } : { id: p.os.id, versionId: p.os.versionId } } : {}),
    cpu,
    instances,
    buildSets,
    loadBalancers: loadBalancers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    findings,
    refused: findings.some((f) => f.severity === "error"),
  };
}

/**
 * One build set per hardware class, shared by every instance of that class: the recipe's
 * config and narrowing, one package per engine the instances run, and the forecast.
 */
function planBuildSets(p: Profile, instances: readonly Instance[], recipes: ReadonlyMap<string, BuildSetRecipe>, out: Findings): BuildSet[] {
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...recipes.keys()].sort(byName).map((name): BuildSet => {
    const recipe = recipes.get(name)!;
    const users = instances.filter((x) => x.buildSet === name);
    const engines = [...new Set(users.map((x) => x.engine))].sort(byName);
    const packages = engines.map((engine): PackageBuild => ({ engine, base: ENGINE_BASE[engine], ...recipe.pkg(engine) }));
    const backend = users[0]!.backend;
    const targets = recipe.rocmGpuTargets?.value ?? (recipe.config.value.cudaCapabilities as readonly string[] | undefined) ?? [];
    setFindings(p, name, backend, engines, recipe, out);
    return {
      name,
      backend,
      targets: [...targets],
      config: recipe.config,
      rocmGpuTargets: recipe.rocmGpuTargets,
      allowUnfreeLicenses: recipe.allowUnfreeLicenses,
      packages,
      ...(recipe.python ? { python: recipe.python } : {}),
      instances: users.map((x) => x.name).sort(byName),
      forecast: forecastOf(recipe.compiles(engines), recipe.cache),
    };
  });
}

/** What a user should know about a set before it builds. */
function setFindings(p: Profile, name: string, backend: Backend, engines: readonly Engine[], recipe: BuildSetRecipe, out: Findings): void {
  if (backend === "cpu" && engines.includes("vllm")) {
    if (vllmCpuNeedsAvx512Off(p))
      out.add({
        code: "VLLM_CPU_NO_AVX512",
        severity: "info",
        subject: "cpu.flags",
        message: "no AVX-512 on this CPU: the vLLM CPU build is told not to use it, whatever the build machine has.",
        source: cite(SRC.vllmCpuCmakeOld, SRC.vllmCpuCmake),
      });
    if (p.system === "aarch64-linux" || p.system === "powerpc64le-linux")
      out.add({
        code: "VLLM_CPU_BUILDER_ISA",
        severity: "warning",
        subject: "system",
        message:
          p.system === "aarch64-linux"
            ? "vLLM's Arm CPU build enables BF16 when the build machine has it; built elsewhere, it can crash on a CPU without bf16."
            : "vLLM's POWER CPU build picks -mcpu=power9 or power10 from the build machine's /proc/cpuinfo.",
        fix: "build on this host (or a builder with the same CPU generation)",
        source: cite(SRC.vllmCpuCmake),
      });
  }
  const rocm = recipe.rocmGpuTargets;
  if (rocm) {
    out.add({
      code: "ROCM_STACK_NARROWED",
      severity: "info",
      subject: `buildSets.${name}`,
      message: `the ${name} set builds ROCm for ${rocm.value.join(", ")} only: far less to compile than all targets, but not in the NixOS binary cache, so its first build takes hours. The host's own ROCm packages are untouched.`,
      source: cite(...rocm.sources),
    });
  }
  if (recipe.allowUnfreeLicenses && backend !== "cuda") {
    out.add({
      code: "SET_UNFREE",
      severity: "info",
      subject: `buildSets.${name}`,
      message: `${recipe.allowUnfreeLicenses.reason}.`,
      source: cite(...recipe.allowUnfreeLicenses.sources),
    });
  }
  if (recipe.allowUnfreeLicenses && backend === "cuda") {
    out.add({
      code: "CUDA_UNFREE",
      severity: "info",
      subject: `buildSets.${name}`,
      message: `CUDA is unfree: the ${name} set, and only it, accepts packages under ${recipe.allowUnfreeLicenses.value.join(", ")}; the host's nixpkgs.config is not changed. Builds narrowed to these capabilities are not in any binary cache.`,
      source: cite(...recipe.allowUnfreeLicenses.sources),
    });
  }
}

/** What a host that is not NixOS (run through system-manager) should know about its release. */
function osFindings(p: Profile, instances: readonly Instance[], out: Findings): void {
  if (!p.os || p.os.id === "nixos") return;
  const { id, versionId } = p.os;
  const name = `${id}${versionId ? ` ${versionId}` : ""}`;
  if (systemManagerTested(id, versionId) === false)
    out.add({
      code: "SYSTEM_MANAGER_UNTESTED",
      severity: "info",
      subject: "os",
      message: `system-manager, which runs the services on hosts that are not NixOS, is tested on Ubuntu 22.04+ and Debian 13, not on ${name}.`,
      fix: "expect to check the units yourself after `system-manager switch`; `nix run .#<instance>` does not depend on it",
      source: cite(SRC.systemManagerPlatforms),
    });
  if (p.system === "powerpc64le-linux")
    out.add({
      code: "SYSTEM_MANAGER_NO_POWER",
      severity: "warning",
      subject: "system",
      message:
        "system-manager, which runs the services on hosts that are not NixOS, has no package for powerpc64le-linux, so `nix run github:numtide/system-manager` has nothing to run on this host.",
      fix: "run the instances with `nix run .#<instance>`, or install the unit files the flake builds (systemdUnits.<system>.<host>) with systemctl link",
      source: cite(SRC.systemManagerSystems),
    });
  const systemd = distroSystemd(id, versionId);
  const withKey = instances.filter((i) => i.apiKeyFile !== null).map((i) => i.name);
  if (systemd && systemd.version < CREDENTIALS_SYSTEMD && withKey.length > 0)
    out.add({
      code: "SYSTEMD_NO_CREDENTIALS",
      severity: "warning",
      subject: "os",
      message: `${name} ships systemd ${systemd.version}; units get their API key through LoadCredential=, which needs systemd ${CREDENTIALS_SYSTEMD}: the units of ${withKey.join(", ")} cannot read their key there and fail to start.`,
      fix: `run ${withKey.join(", ")} in the foreground with \`nix run .#<instance> -- --api-key-file FILE\` instead, or move to a release with systemd ${CREDENTIALS_SYSTEMD} or newer`,
      source: cite(systemd.source, SRC.systemdCredentials),
    });
}
