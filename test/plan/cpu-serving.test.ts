/**
 * CPU serving over real topologies: the detected profiles of multi-node fixture machines, with
 * serve entries added, planned for every engine and parallel mode. Every binding is checked for
 * node boundaries, SMT siblings and overlaps, and every number for its reason.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validateProfile, type Profile } from "../../src/profile/index.js";
import { planHost, type Plan } from "../../src/plan/index.js";
import type { Instance } from "../../src/plan/types.js";
import { assumedCores } from "../../src/plan/cpu-serving.js";
import { expandCpulist } from "../../src/knowledge/index.js";
import { makeProfile } from "../fixtures-builders.js";

const MACHINES = join(import.meta.dirname, "..", "fixtures", "machines");

function fixture(name: string, system: Profile["system"], serve: object[]): Profile {
  const raw = JSON.parse(readFileSync(join(MACHINES, name, "expected-profile.json"), "utf8"));
  return validateProfile({ ...raw, system: raw.system ?? system, serve }, name);
}

/** The physical cores of a node as the planner must see them: the profile's siblings when complete, else the assumed numbering. */
function coresOf(p: Profile, nodeId: number): number[][] {
  const n = p.cpu.numa!.find((x) => x.id === nodeId)!;
  const cpus = expandCpulist(n.cpus!);
  const listed = (n.siblings ?? []).map(expandCpulist);
  const covered = new Set(listed.flat());
  return listed.length && cpus.every((c) => covered.has(c)) ? listed : assumedCores(p.system!, cpus, p.cpu.threadsPerCore ?? null);
}

const TOPOLOGIES: [string, Profile["system"], number][] = [
  // fixture, system, NUMA nodes with CPUs
  ["x86-amd-epyc7451-2s", "x86_64-linux", 8],
  ["x86-intel-xeon-silver4108-2s", "x86_64-linux", 2],
  ["x86-intel-xeon-gold6230-cascadelake", "x86_64-linux", 4],
  ["x86-amd-epyc7742-2s-lscpu", "x86_64-linux", 8],
  ["aarch64-kunpeng920-2s", "aarch64-linux", 4],
  ["ppc64le-power9-nvgpu", "powerpc64le-linux", 2],
];

const ENTRIES = [
  { label: "vLLM auto", serve: { name: "chat", model: "org/m", engine: "vllm", port: 9000 } },
  { label: "vLLM tensor", serve: { name: "chat", model: "org/m", engine: "vllm", port: 9000, parallel: "tensor" } },
  { label: "llama.cpp auto", serve: { name: "chat", model: "org/m", gguf: { file: "/m.gguf" }, engine: "llama-cpp", port: 9000 } },
  { label: "llama.cpp tensor", serve: { name: "chat", model: "org/m", gguf: { file: "/m.gguf" }, engine: "llama-cpp", port: 9000, parallel: "tensor" } },
];

/** Every invariant of one instance's binding. */
function checkBinding(p: Profile, inst: Instance): void {
  const c = inst.cpu!;
  expect(c, inst.name).toBeTruthy();
  const affinity = expandCpulist(c.affinity);
  const nodeCpus = new Set(c.nodes.flatMap((id) => expandCpulist(p.cpu.numa!.find((n) => n.id === id)!.cpus!)));
  // Node boundaries: nothing outside the instance's nodes.
  for (const cpu of affinity) expect(nodeCpus.has(cpu), `${inst.name}: CPU ${cpu} outside nodes ${c.nodes}`).toBe(true);
  const coreOf = new Map<number, string>();
  for (const id of c.nodes) for (const core of coresOf(p, id)) for (const cpu of core) coreOf.set(cpu, `${id}:${core.join(",")}`);
  const ranks = inst.engine === "vllm" ? inst.environment.VLLM_CPU_OMP_THREADS_BIND!.split("|").map(expandCpulist) : [affinity.filter((x) => !expandCpulist(c.frontend).includes(x))];
  const compute = ranks.flat();
  // Overlaps: ranks disjoint, frontend disjoint from compute, compute inside the affinity.
  expect(new Set(compute).size, `${inst.name}: a CPU in two ranks`).toBe(compute.length);
  for (const cpu of expandCpulist(c.frontend)) expect(compute).not.toContain(cpu);
  for (const cpu of compute) expect(affinity).toContain(cpu);
  // A vLLM rank never crosses a node (one llama.cpp process over several nodes spreads its own
  // threads over them with --numa distribute).
  if (inst.engine === "vllm" || c.nodes.length === 1)
    for (const rank of ranks) expect(new Set(rank.map((cpu) => coreOf.get(cpu)!.split(":")[0])).size, `${inst.name}: rank across nodes`).toBe(1);
  // SMT: at most the allowed threads per core (1; on POWER half of them).
  const perCore = new Map<string, number>();
  for (const cpu of compute) perCore.set(coreOf.get(cpu)!, (perCore.get(coreOf.get(cpu)!) ?? 0) + 1);
  const tpc = Math.max(...[...coreOf.values()].map((k) => k.split(":")[1]!.split(",").length));
  const allowed = p.system === "powerpc64le-linux" ? Math.max(1, Math.floor(tpc / 2)) : 1;
  for (const [core, n] of perCore) expect(n, `${inst.name}: ${n} threads on core ${core}`).toBeLessThanOrEqual(allowed);
  expect(c.threads).toBe(compute.length);
  if (inst.engine === "llama-cpp") expect(inst.extraArgs[inst.extraArgs.indexOf("--threads") + 1]).toBe(String(compute.length));
  // Every number has a reason.
  for (const d of c.decisions) expect(d.reason.length, d.value).toBeGreaterThan(10);
}

describe.each(TOPOLOGIES)("%s", (name, system, nodes) => {
  it.each(ENTRIES)("$label: bindings stay inside nodes, skip SMT siblings and never overlap", ({ serve }) => {
    const p = fixture(name, system, [serve]);
    const plan = planHost(p);
    expect(plan.refused, JSON.stringify(plan.findings)).toBe(false);
    const tensor = (serve as { parallel?: string }).parallel === "tensor";
    expect(plan.instances).toHaveLength(tensor ? 1 : nodes);
    for (const inst of plan.instances) checkBinding(p, inst);
    // Per-node servers: disjoint, one node each, on loopback, behind one nginx on the entry's port.
    if (!tensor) {
      const all = plan.instances.flatMap((i) => expandCpulist(i.cpu!.affinity));
      expect(new Set(all).size).toBe(all.length);
      expect(plan.instances.every((i) => i.cpu!.nodes.length === 1 && i.cpu!.numaPolicy === "bind" && i.cpu!.numaMask === String(i.cpu!.nodes[0]))).toBe(true);
      expect(plan.instances.map((i) => [i.listen, i.port])).toEqual(plan.instances.map((_, k) => ["127.0.0.1", 9001 + k]));
      expect(plan.loadBalancers).toEqual([expect.objectContaining({ name: "chat", port: 9000, backends: plan.instances.map((i) => i.name) })]);
      expect(plan.instances.map((i) => i.name)).toEqual(p.cpu.numa!.filter((n) => n.cpus).map((n) => `chat-node${n.id}`));
    } else {
      expect(plan.loadBalancers).toEqual([]);
      expect(plan.instances[0]!.cpu!.nodes).toHaveLength(nodes);
      if (serve.engine === "vllm") {
        expect(plan.instances[0]!.environment.VLLM_CPU_OMP_THREADS_BIND!.split("|")).toHaveLength(nodes);
        expect(plan.instances[0]!.extraArgs).toEqual(expect.arrayContaining(["--tensor-parallel-size", String(nodes), "--distributed-executor-backend", "mp"]));
      } else expect(plan.instances[0]!.extraArgs).toEqual(expect.arrayContaining(["--numa", "distribute"]));
    }
  });
});

const codes = (plan: Plan) => plan.findings.map((f) => `${f.severity}:${f.code}`);
const xeon = (over: object = {}) =>
  makeProfile({
    cpu: {
      flags: ["avx", "avx2", "fma", "f16c", "bmi2", "sse4_2"],
      threadsPerCore: 2,
      numa: [
        { id: 0, cpus: "0-13,28-41", memoryMiB: 131072, siblings: Array.from({ length: 14 }, (_, j) => `${j},${28 + j}`) },
        { id: 1, cpus: "14-27,42-55", memoryMiB: 131072, siblings: Array.from({ length: 14 }, (_, j) => `${14 + j},${42 + j}`) },
      ],
    },
    ...over,
  } as never);
const vllm = (over: object = {}) => ({ name: "chat", model: "org/m", engine: "vllm", port: 8000, ...over });

describe("choices and their arithmetic", () => {
  it("auto: data parallel when the model fits a node; KV cache = node − headroom − weights, with the sum in the reason", () => {
    const plan = planHost(xeon({ serve: [vllm({ modelSizeGiB: 15 })] }));
    expect(plan.instances.map((i) => i.name)).toEqual(["chat-node0", "chat-node1"]);
    const n0 = plan.instances[0]!;
    expect(n0.environment).toEqual({ VLLM_CPU_OMP_THREADS_BIND: "0-12", VLLM_CPU_KVCACHE_SPACE: "100" });
    expect(n0.cpu).toMatchObject({ affinity: "0-13,41", frontend: "13,41", numaPolicy: "bind", numaMask: "0", threads: 13, tcmalloc: true });
    const kv = n0.cpu!.decisions.find((d) => d.value.startsWith("VLLM_CPU_KVCACHE_SPACE"))!;
    expect(kv.reason).toContain("128 GiB − 12.8 GiB headroom");
    expect(kv.reason).toContain("− 15 GiB of weights = 100.2 GiB, rounded down to 100 GiB");
    expect(n0.extraArgs).toEqual(["--dtype", "float32"]);
    expect(n0.requiredCpuFeatures?.value).toEqual(["avx2"]);
    expect(codes(plan)).not.toContain("info:MODEL_SIZE_UNKNOWN");
    expect(codes(plan)).not.toContain("warning:CPU_SIBLINGS_ASSUMED");
  });
  it("auto: tensor parallel when the model does not fit one node, per-rank KV cache", () => {
    const plan = planHost(xeon({ serve: [vllm({ modelSizeGiB: 145 })] }));
    expect(plan.instances).toHaveLength(1);
    const i = plan.instances[0]!;
    expect(i.name).toBe("chat");
    expect(i.environment.VLLM_CPU_OMP_THREADS_BIND).toBe("0-13|14-25");
    expect(i.environment.VLLM_CPU_KVCACHE_SPACE).toBe("42");
    expect(i.extraArgs).toEqual(["--dtype", "float32", "--tensor-parallel-size", "2", "--distributed-executor-backend", "mp"]);
    expect(i.cpu!.decisions[0]!.reason).toMatch(/^auto: the model's 145 GiB of weights do not fit the smallest node/);
    expect(plan.loadBalancers).toEqual([]);
  });
  it("parallel: data with a model larger than a node is refused with the field named", () => {
    const plan = planHost(xeon({ serve: [vllm({ modelSizeGiB: 145, parallel: "data" })] }));
    expect(plan.refused).toBe(true);
    expect(plan.findings.find((f) => f.code === "MODEL_EXCEEDS_NODE")).toMatchObject({ severity: "error", subject: "serve[0].parallel" });
  });
  it("a model larger than all memory leaves no KV cache: refused", () => {
    const plan = planHost(xeon({ serve: [vllm({ modelSizeGiB: 400 })] }));
    expect(plan.findings.find((f) => f.code === "MODEL_EXCEEDS_MEMORY")).toMatchObject({ severity: "error", subject: "serve[0].modelSizeGiB" });
  });
  it("unknown model size: data parallel with a finding; half of the rest for the KV cache", () => {
    const plan = planHost(xeon({ serve: [vllm()] }));
    expect(codes(plan)).toContain("info:MODEL_SIZE_UNKNOWN");
    expect(plan.instances[0]!.environment.VLLM_CPU_KVCACHE_SPACE).toBe("57");
  });
  it("bf16 only with AVX512_BF16 or AMX", () => {
    const withBf16 = planHost(xeon({ cpu: { ...xeon().cpu, flags: ["avx2", "avx512f", "avx512_bf16"] }, serve: [vllm()] }));
    expect(withBf16.instances[0]!.extraArgs).toEqual(["--dtype", "bfloat16"]);
  });
  it("per-node ports that hit another entry's port are an error naming the field", () => {
    const plan = planHost(xeon({ serve: [vllm(), { name: "other", model: "/m.gguf", engine: "llama-cpp", port: 8002, parallel: "tensor" }] }));
    const f = plan.findings.find((x) => x.code === "PORT_CLASH")!;
    expect(f).toMatchObject({ severity: "error", subject: "serve[1].port" });
    expect(f.message).toContain("chat-node1 (per-node server of chat)");
  });
  it("a per-node name that is another entry's name is an error", () => {
    const plan = planHost(xeon({ serve: [vllm(), { name: "chat-node1", model: "/m.gguf", engine: "llama-cpp", port: 9000 }] }));
    expect(plan.findings.find((x) => x.code === "NAME_CLASH")).toMatchObject({ severity: "error", subject: "serve[0].name" });
  });
  it("unknown siblings: the kernel's usual numbering, with a warning; none without SMT", () => {
    const noSib = xeon().cpu.numa!.map(({ siblings: _s, ...n }) => n);
    const plan = planHost(xeon({ cpu: { ...xeon().cpu, numa: noSib }, serve: [vllm()] }));
    expect(codes(plan)).toContain("warning:CPU_SIBLINGS_ASSUMED");
    expect(plan.instances[0]!.environment.VLLM_CPU_OMP_THREADS_BIND).toBe("0-12");
    const noSmt = planHost(xeon({ cpu: { ...xeon().cpu, threadsPerCore: 1, numa: [{ id: 0, cpus: "0-7", memoryMiB: 8192 }] }, serve: [vllm()] }));
    expect(codes(noSmt)).not.toContain("warning:CPU_SIBLINGS_ASSUMED");
  });
  it("no NUMA topology: unbound, with a warning; KV cache from the host's memory", () => {
    const plan = planHost(makeProfile({ cpu: { flags: ["avx2"] }, memory: { totalMiB: 65536 }, serve: [vllm()] } as never));
    expect(codes(plan)).toContain("warning:CPU_TOPOLOGY_UNKNOWN");
    expect(plan.instances[0]!.cpu).toMatchObject({ affinity: "", numaPolicy: null, threads: null });
    expect(plan.instances[0]!.environment).toEqual({ VLLM_CPU_KVCACHE_SPACE: "28" });
  });
  it("two entries on the same cores: said, not refused", () => {
    const plan = planHost(xeon({ serve: [vllm(), { name: "small", model: "/m.gguf", engine: "llama-cpp", port: 9000 }] }));
    expect(plan.refused).toBe(false);
    expect(codes(plan)).toContain("info:CPU_SHARED");
  });
});

describe("POWER and Arm", () => {
  const power8 = (serve: object[]) =>
    makeProfile({
      system: "powerpc64le-linux",
      cpu: { vendor: "ibm", arch: "power8", flags: ["altivec", "vsx"], threadsPerCore: 8, numa: [{ id: 0, cpus: "0-63", memoryMiB: 294912 }, { id: 1, cpus: "64-127", memoryMiB: 294912 }] },
      serve,
    } as never);
  it("POWER8: vLLM refused with seed 000's path explained", () => {
    const plan = planHost(power8([vllm({ engine: "vllm" })]));
    const f = plan.findings.find((x) => x.code === "ENGINE_UNSUPPORTED")!;
    expect(f.message).toMatch(/VSX header patch.*ten patches to vLLM.*cpu_attention_with_kv_cache/);
    expect(f.source).toContain("seed 000");
  });
  it("POWER8 llama.cpp: 4 of 8 SMT threads per core (64 of 128), memory interleaved for a model larger than a node", () => {
    const plan = planHost(power8([{ name: "big", model: "/m.gguf", engine: "llama-cpp", port: 8090, modelSizeGiB: 380 }]));
    const i = plan.instances[0]!;
    expect(i.extraArgs).toEqual(["--threads", "64", "--numa", "distribute"]);
    expect(i.cpu).toMatchObject({ numaPolicy: "interleave", numaMask: "0-1", threads: 64 });
    expect(i.cpu!.decisions.map((d) => d.reason).join(" ")).toMatch(/seed 000/);
  });
  it("Arm without NEON in its flags: the build's floor is missing, refused at plan time", () => {
    const plan = planHost(makeProfile({ system: "aarch64-linux", cpu: { vendor: "arm", flags: ["fp", "evtstrm"] }, serve: [vllm()] } as never));
    expect(plan.findings.find((x) => x.code === "CPU_ISA_MISSING")).toMatchObject({ severity: "error", subject: "cpu.flags" });
  });
  it.each([
    [["asimd", "bf16", "sve"], "bfloat16"],
    [["asimd", "asimdhp"], "float16"],
    [["asimd"], "float32"],
  ])("Arm flags %j → --dtype %s", (flags, dtype) => {
    const plan = planHost(makeProfile({ system: "aarch64-linux", cpu: { vendor: "arm", flags }, serve: [vllm()] } as never));
    expect(plan.instances[0]!.extraArgs).toEqual(["--dtype", dtype]);
    expect(plan.instances[0]!.requiredCpuFeatures?.value).toEqual(["asimd"]);
  });
});
