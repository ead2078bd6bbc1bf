/**
 * Services across hosts (fleet.yaml): vLLM on Ray, vLLM's own multi-node backend. Tensor
 * parallel over each host's GPUs, pipeline parallel across hosts; a Ray head and the OpenAI
 * server on the first host, Ray workers on the others. Pure.
 */
import { FleetError } from "../errors.js";
import type { Accelerator, Profile } from "../profile/schema.js";
import type { FleetService, FleetSpec } from "../profile/fleet.js";
import { SRC, cite, familyOf, type AcceleratorFamily } from "../knowledge/index.js";
import type { BuildSet, Finding, Instance, Plan, ServiceMember, ServicePlan } from "./types.js";
import { forecastOf } from "../knowledge/build-cost.js";

/** The Ray head's GCS port, as vLLM's multi-node recipe uses it. */
export const RAY_PORT = 6379;

/** What planning the services adds to a fleet. */
export interface ServicesPlan {
  readonly services: ServicePlan[];
  readonly findings: Finding[];
  /** Per member host, the build set its Ray node needs (merged with the hosts' own sets). */
  readonly sets: { host: string; system: Plan["system"]; set: BuildSet }[];
}

interface HostInput {
  readonly file: string;
  readonly profile: Profile;
  readonly plan: Plan;
}

/** `host:port`, with IPv6 literals in brackets. */
function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The GPUs hwflake can build for on a host, and their family (one family per service host). */
function gpusOf(p: Profile): { family: AcceleratorFamily; accs: Accelerator[] } | null {
  const buildable = p.accelerators.filter((a) => familyOf(a).backend !== null);
  if (buildable.length === 0) return null;
  return { family: familyOf(buildable[0]!), accs: buildable };
}

/** Refuses fleet.yaml input that cannot be planned at all (unknown hosts, clashes), naming the field. */
function checkInput(file: string, spec: FleetSpec, hosts: ReadonlyMap<string, HostInput>): void {
  const issues: { file: string; path: string; message: string }[] = [];
  const known = [...hosts.keys()].sort().join(", ");
  const usedBy = new Map<string, string>();
  spec.services.forEach((s, i) => {
    if (spec.services.findIndex((o) => o.name === s.name) !== i)
      issues.push({ file, path: `services[${i}].name`, message: `"${s.name}" names two services; give each its own name` });
    s.hosts.forEach((h, j) => {
      const where = `services[${i}].hosts[${j}]`;
      const host = hosts.get(h);
      if (!host) return void issues.push({ file, path: where, message: `unknown host "${h}"; the profiles in the folder are for ${known}` });
      if (s.hosts.indexOf(h) !== j) issues.push({ file, path: where, message: `"${h}" is listed twice` });
      const other = usedBy.get(h);
      if (other && other !== s.name) issues.push({ file, path: where, message: `"${h}" already serves "${other}" with all its GPUs; a host can be in one service` });
      usedBy.set(h, s.name);
      if (!spec.addresses[h]) issues.push({ file, path: `addresses.${h}`, message: `missing: the members of "${s.name}" reach each other (and the Ray head) by address; add addresses.${h}: <IP>` });
      // The service takes every GPU of its hosts; a host's own instance on one would collide.
      host.profile.serve.forEach((own, k) => {
        if (own.on.length > 0)
          issues.push({ file: host.file, path: `serve[${k}].on`, message: `"${own.name}" runs on ${own.on.join(", ")}, but ${h} gives all its GPUs to the fleet service "${s.name}"; move it to another host or to the CPU (on: [])` });
      });
      if (j === 0) {
        const head = host.profile;
        const clash = head.serve.findIndex((own) => own.port === s.port);
        if (clash >= 0) issues.push({ file, path: `services[${i}].port`, message: `${s.port} is already used on ${h} by serve[${clash}] ("${head.serve[clash]!.name}") in ${host.file}; pick another port` });
        if (s.port === RAY_PORT) issues.push({ file, path: `services[${i}].port`, message: `${RAY_PORT} is the Ray head's port on ${h}; pick another port` });
        const nameClash = head.serve.findIndex((own) => own.name === s.name);
        if (nameClash >= 0) issues.push({ file, path: `services[${i}].name`, message: `"${s.name}" is also serve[${nameClash}] of ${h} (${host.file}); both would be the unit hwflake-${s.name}` });
      }
    });
  });
  if (issues.length) throw new FleetError(issues);
}

/** Plan the services of fleet.yaml against the planned hosts. */
export function planServices(file: string, spec: FleetSpec, inputs: readonly HostInput[]): ServicesPlan {
  const hosts = new Map(inputs.map((h) => [h.profile.host, h]));
  checkInput(file, spec, hosts);
  const out: ServicesPlan = { services: [], findings: [], sets: [] };
  spec.services.forEach((s, i) => planService(s, i, spec, hosts, out));
  out.services.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

function planService(s: FleetService, i: number, spec: FleetSpec, hosts: ReadonlyMap<string, HostInput>, out: ServicesPlan): void {
  const subject = `services[${i}]`;
  const refuse = (code: string, message: string, fix: string, ...sources: Parameters<typeof cite>) =>
    void out.findings.push({ code, severity: "error", subject, message: `${s.name}: ${message}`, fix, source: cite(...sources) });

  const members = s.hosts.map((h) => ({ host: h, input: hosts.get(h)!, gpus: gpusOf(hosts.get(h)!.profile) }));
  const noGpu = members.filter((m) => !m.gpus).map((m) => m.host);
  if (noGpu.length)
    return refuse("SERVICE_NO_GPU", `${noGpu.join(", ")} has no GPU hwflake can build vLLM for.`, "list hosts with GPUs in services[].hosts", SRC.vllmMultiNode);

  // Every pipeline stage runs the same kernels on the same number of GPUs: one class, one count.
  const shape = (m: (typeof members)[number]) =>
    `${m.input.profile.system} ${m.gpus!.accs.length}× ${m.gpus!.family.label} ${[...new Set(m.gpus!.accs.map((a) => m.gpus!.family.buildTarget(a)))].sort().join("+")}`;
  const shapes = [...new Set(members.map(shape))];
  if (shapes.length > 1)
    return refuse(
      "SERVICE_HOSTS_DIFFER",
      `its hosts differ in system, GPU class or count (${members.map((m) => `${m.host}: ${shape(m)}`).join("; ")}); vLLM runs the same tensor-parallel shape in every pipeline stage, from one identical environment on every node.`,
      "list hosts with the same GPUs and system in services[].hosts, or serve the model on one host",
      SRC.vllmMultiNode,
    );

  const first = members[0]!;
  const { family } = first.gpus!;
  const system = first.input.profile.system!;
  if (system !== "x86_64-linux")
    return refuse("SERVICE_RAY_PLATFORM", `nixpkgs packages Ray only for x86_64-linux; these hosts are ${system}.`, "serve the model on one host, or on x86_64-linux hosts", SRC.nixpkgsRay);

  const verdicts = first.gpus!.accs.map((a) => family.support(a, "vllm"));
  const bad = verdicts.find((v) => v.level === "unsupported");
  if (bad) return refuse("ENGINE_UNSUPPORTED", `vLLM on ${family.label}: ${bad.reason}.`, "serve it on hosts whose GPUs vLLM supports", ...bad.sources);
  const experimental = verdicts.find((v) => v.level === "experimental");
  if (experimental)
    out.findings.push({ code: "ENGINE_EXPERIMENTAL", severity: "warning", subject, message: `${s.name}: vLLM on ${family.label}: ${experimental.reason}.`, source: cite(...experimental.sources) });

  const targets = [...new Set(first.gpus!.accs.map((a) => family.buildTarget(a)))].sort();
  const recipe = family.buildSet(targets);
  if (!recipe) return refuse("NO_ENGINE", `hwflake cannot build for ${family.label}.`, "serve it on other hosts", SRC.vllmMultiNode);

  const tp = first.gpus!.accs.length;
  const pp = members.length;
  const planned: ServiceMember[] = members.map((m, k) => {
    const all = m.input.profile.accelerators.filter((a) => family.matches(a));
    const pin = family.pinning(m.gpus!.accs, all, "vllm");
    const address = spec.addresses[m.host]!;
    return {
      host: m.host,
      role: k === 0 ? "head" : "worker",
      address,
      // vLLM and Ray must agree on each node's address, and it must differ per node.
      environment: { ...pin.env, VLLM_HOST_IP: address },
      gpuVendor: m.gpus!.accs[0]!.vendor as "amd" | "nvidia",
    };
  });
  const head = planned[0]!;
  // The device's own arguments (e.g. --dtype half below CUDA 8.0), asked for one GPU so they
  // hold no tensor-parallel size of their own.
  const dtype = family.engineArgs(first.gpus!.accs.slice(0, 1), "vllm")?.args ?? [];
  const reason = `tensor parallel over each host's ${tp} ${family.label}${tp > 1 ? "s" : ""}, pipeline parallel across ${pp} hosts, on Ray (vLLM's multi-node backend); the Ray head and the OpenAI server run on ${head.host}`;
  const instance: Instance = {
    name: s.name,
    engine: "vllm",
    on: first.gpus!.accs.map((a) => a.id),
    backend: family.backend!,
    buildSet: recipe.name,
    model: { kind: "hf", id: s.model },
    listen: s.listen,
    port: s.port,
    apiKeyFile: s.apiKeyFile ?? null,
    // vLLM finds the cluster through RAY_ADDRESS; the unit's private /tmp hides `ray start`'s address file.
    environment: { ...head.environment, RAY_ADDRESS: hostPort(head.address, RAY_PORT) },
    extraArgs: ["--tensor-parallel-size", String(tp), "--pipeline-parallel-size", String(pp), "--distributed-executor-backend", "ray", ...dtype],
    gpuVendor: head.gpuVendor,
    engineDecision: { value: "vllm", reason, sources: [SRC.vllmMultiNode, SRC.vllmRayAddress] },
    pinning: null,
    // The Ray driver talks to the cluster's other nodes.
    network: "host",
  };
  out.services.push({
    name: s.name,
    system,
    buildSet: recipe.name,
    members: planned,
    rayPort: RAY_PORT,
    tensorParallel: tp,
    pipelineParallel: pp,
    instance,
    decision: { value: s.name, reason, sources: [SRC.vllmMultiNode, SRC.vllmRayAddress, SRC.rayPorts, SRC.nixpkgsVllmRay] },
  });
  // Every member builds the set's vLLM and a Python with vLLM and Ray for its Ray node.
  const pkg = recipe.pkg("vllm");
  for (const m of planned)
    out.sets.push({
      host: m.host,
      system,
      set: {
        name: recipe.name,
        backend: family.backend!,
        targets,
        config: recipe.config,
        rocmGpuTargets: recipe.rocmGpuTargets,
        allowUnfreeLicenses: recipe.allowUnfreeLicenses,
        packages: [{ engine: "vllm", base: "python3Packages.vllm", ...pkg }],
        instances: m.role === "head" ? [s.name] : [],
        forecast: forecastOf(recipe.compiles(["vllm"]), recipe.cache),
        rayEnv: true,
      },
    });
  if (!["127.0.0.1", "::1", "localhost"].includes(s.listen) && !s.apiKeyFile)
    out.findings.push({
      code: "LISTEN_WITHOUT_API_KEY",
      severity: "warning",
      subject: `${subject}.listen`,
      message: `${s.name} listens on ${s.listen} without an API key: anyone who can reach the port can use it.`,
      fix: `set ${subject}.apiKeyFile to a file on ${head.host} holding the key`,
      source: cite(SRC.vllmServeArgs),
    });
  out.findings.push({
    code: "SERVICE_ON_RAY",
    severity: "info",
    subject,
    message: `${s.name}: ${reason}. The members accept every TCP connection from each other (NCCL picks ephemeral ports that cannot be pinned) and nothing else for Ray.`,
    source: cite(SRC.vllmMultiNode, SRC.rayPorts, SRC.ncclNoPortRange),
  });
}
