/**
 * CPU serving: which cores, which NUMA memory, how many threads and how much KV cache an
 * inference server on the CPU gets, and whether a multi-node host runs one server per node
 * behind nginx (data parallel) or one server across the nodes (tensor parallel), as seed 004
 * (vLLM's CPU backend notes) and seed 000 (POWER8) prescribe. Pure, like the rest of plan/.
 */
import type { Profile, Serve } from "../profile/schema.js";
import {
  SRC,
  cite,
  expandCpulist,
  formatCpulist,
  frontendCores,
  headroomGiB,
  kvCacheGiB,
  missingCpuFeatures,
  requiredCpuFeatures,
  threadsPerCoreUsed,
  vllmCpuDtype,
} from "../knowledge/index.js";
import type { CpuPlacement, Decision, Engine, Finding, Instance, LoadBalancer } from "./types.js";

/** Where findings go (the planner's collector). */
export interface FindingSink {
  add(f: Finding): void;
}

/** One NUMA node with CPUs, its physical cores (each a sorted list of its hardware threads) and memory. */
interface Node {
  readonly id: number;
  readonly cores: readonly (readonly number[])[];
  readonly memGiB: number | null;
}

/** One server a serve entry becomes: the entry itself, or one per NUMA node. */
export interface CpuReplica {
  /** "node<N>" for a per-node server, null for the entry itself. */
  readonly suffix: string | null;
  readonly listen: string;
  readonly port: number;
  readonly cpu: CpuPlacement;
  readonly environment: Readonly<Record<string, string>>;
  readonly extraArgs: readonly string[];
}

export interface CpuServing {
  readonly replicas: readonly CpuReplica[];
  /** Set when the replicas sit behind nginx (data parallel): why. */
  readonly balancer: Decision<string> | null;
}

const LABEL: Readonly<Record<Engine, string>> = { vllm: "vLLM", "llama-cpp": "llama.cpp", ollama: "Ollama" };
const gib = (x: number) => `${Math.round(x * 10) / 10} GiB`;
const nodesText = (nodes: readonly Node[]) => (nodes.length === 1 ? `node ${nodes[0]!.id}` : `nodes ${nodes.map((n) => n.id).join(", ")}`);

/**
 * Which CPUs share a core when the profile does not say: the kernel's usual numbering. x86 and
 * Arm number the first thread of every core first ("0-13,28-41": 0 and 28 share a core); POWER
 * numbers a core's SMT threads one after another ("0-7" is one SMT8 core). `cpus` ascend, as
 * expandCpulist returns them.
 */
export function assumedCores(system: NonNullable<Profile["system"]>, cpus: readonly number[], threadsPerCore: number | null): number[][] {
  const t = threadsPerCore && threadsPerCore > 1 && cpus.length % threadsPerCore === 0 ? threadsPerCore : 1;
  const n = cpus.length / t;
  if (system === "powerpc64le-linux") return Array.from({ length: n }, (_, j) => cpus.slice(j * t, j * t + t));
  // cpus ascend, so each core's threads (j, j + n, j + 2n, …) come out ascending too.
  return Array.from({ length: n }, (_, j) => Array.from({ length: t }, (_, k) => cpus[j + k * n]!));
}

/** Plans the CPU side of every CPU instance of one host; computes the topology once. */
export class CpuServingPlanner {
  private topo: readonly Node[] | null | undefined;

  constructor(
    private readonly p: Profile,
    private readonly out: FindingSink,
  ) {}

  private get system(): NonNullable<Profile["system"]> {
    return this.p.system!;
  }

  /** NUMA nodes with CPUs and their cores, or null when the profile does not list them. */
  private topology(): readonly Node[] | null {
    if (this.topo !== undefined) return this.topo;
    const p = this.p;
    const numa = (p.cpu.numa ?? []).filter((n) => n.cpus !== undefined && n.cpus !== "").sort((a, b) => a.id - b.id);
    if (numa.length === 0) {
      this.out.add({
        code: "CPU_TOPOLOGY_UNKNOWN",
        severity: "warning",
        subject: "cpu.numa",
        message:
          "the profile does not list the NUMA nodes' CPUs, so CPU instances run unbound: threads and memory may wander across sockets, and SMT siblings may share a core.",
        fix: "run hwflake detect on the host (it fills cpu.numa[].cpus, memoryMiB and siblings)",
        source: cite(SRC.vllmCpuTips),
      });
      return (this.topo = null);
    }
    const t = p.cpu.threadsPerCore ?? null;
    const assumed: string[] = [];
    const nodes = numa.map((n): Node => {
      const cpus = expandCpulist(n.cpus!);
      const listed = (n.siblings ?? []).map(expandCpulist);
      const covered = new Set(listed.flat());
      let cores: number[][];
      if (listed.length > 0 && cpus.every((c) => covered.has(c))) cores = listed;
      else {
        cores = assumedCores(this.system, cpus, t);
        // Without SMT (threadsPerCore known to be 1) every CPU is its own core: nothing assumed.
        if (t !== 1) assumed.push(`node ${n.id}` + (listed.length > 0 ? ` (its siblings cover ${covered.size} of its ${cpus.length} CPUs)` : ""));
      }
      cores.sort((a, b) => a[0]! - b[0]!);
      return { id: n.id, cores, memGiB: n.memoryMiB !== undefined ? n.memoryMiB / 1024 : null };
    });
    if (assumed.length > 0) {
      const how =
        t === null || t <= 1
          ? "every CPU taken as its own core (threadsPerCore unknown or 1)"
          : this.system === "powerpc64le-linux"
            ? `each run of ${t} consecutive CPUs taken as one core (POWER numbering)`
            : `CPU j and j + cores/node × k taken as threads of one core (x86/Arm numbering, threadsPerCore ${t})`;
      this.out.add({
        code: "CPU_SIBLINGS_ASSUMED",
        severity: "warning",
        subject: "cpu.numa[].siblings",
        message: `which CPUs share a physical core is not known for ${assumed.join(", ")}: assumed the kernel's usual enumeration, ${how}. If that is wrong, two compute threads may share a core.`,
        fix: "run hwflake detect on the host: it reads sysfs thread_siblings_list (or lscpu -p, or cpuinfo core id) into cpu.numa[].siblings",
        source: cite(SRC.linuxCpuEnumeration),
      });
    }
    // Memory per node: the profile's, else the total split evenly (said), else unknown.
    if (nodes.some((n) => n.memGiB === null) && p.memory) {
      const each = p.memory.totalMiB / 1024 / nodes.length;
      this.out.add({
        code: "NUMA_MEMORY_ASSUMED",
        severity: "info",
        subject: "cpu.numa[].memoryMiB",
        message: `memory per NUMA node is not known: assumed ${gib(each)} each (memory.totalMiB split evenly over ${nodes.length} node(s)).`,
        fix: "add cpu.numa[].memoryMiB (hwflake detect reads sysfs node<N>/meminfo)",
        source: "hwflake",
      });
      return (this.topo = nodes.map((n) => ({ ...n, memGiB: n.memGiB ?? each })));
    }
    return (this.topo = nodes);
  }

  /** The servers serve entry `i` becomes on the CPU, or null when a finding refused it. */
  serve(s: Serve, i: number, engine: Engine): CpuServing | null {
    const nodes = this.topology();
    if (engine === "ollama") {
      // Ollama sizes its own threads and has no NUMA or binding options; it runs unbound.
      return { replicas: [this.replica(s, null, [], null, engine, { value: "single", reason: "Ollama runs one server and sizes its own threads", sources: [SRC.ollamaArch] })], balancer: null };
    }
    if (!nodes) return { replicas: [this.replica(s, null, [], null, engine, { value: "single", reason: "NUMA topology unknown: one unbound server", sources: [] })], balancer: null };
    if (nodes.length === 1) {
      if (s.parallel !== "auto")
        this.out.add({
          code: "PARALLEL_ONE_NODE",
          severity: "info",
          subject: `serve[${i}].parallel`,
          message: `${s.name}: parallel: ${s.parallel} has no effect on a host with one NUMA node; one server is bound to node ${nodes[0]!.id}.`,
          source: cite(SRC.vllmCpuTips),
        });
      const one = this.replica(s, null, nodes, null, engine, { value: "single", reason: `one NUMA node (${nodes[0]!.id}): one server on its cores`, sources: [SRC.vllmCpuTips] });
      return this.fits(s, i, one) ? { replicas: [one], balancer: null } : null;
    }

    const mode = this.chooseParallel(s, i, engine, nodes);
    if (!mode) return null;
    if (mode.value === "tensor") {
      const one = this.replica(s, null, nodes, null, engine, mode);
      return this.fits(s, i, one) ? { replicas: [one], balancer: null } : null;
    }
    if (s.port + nodes.length > 65535) {
      this.out.add({
        code: "PORT_RANGE",
        severity: "error",
        subject: `serve[${i}].port`,
        message: `${s.name}: its ${nodes.length} per-node servers take ports ${s.port + 1}–${s.port + nodes.length}, beyond 65535.`,
        fix: `lower serve[${i}].port`,
        source: "hwflake",
      });
      return null;
    }
    const replicas = nodes.map((n, k) => this.replica(s, `node${n.id}`, [n], s.port + 1 + k, engine, mode));
    if (!replicas.every((r) => this.fits(s, i, r))) return null;
    return {
      replicas,
      balancer: {
        value: `nginx on ${s.listen}:${s.port} → ${replicas.map((r) => `127.0.0.1:${r.port}`).join(", ")}`,
        reason:
          `${mode.reason}. nginx listens on ${s.listen}:${s.port} and sends each request to the per-node server with the fewest active connections (least_conn), ` +
          `takes a server out for 30 s after 2 failed attempts (passive health check), and does not buffer or time out streamed responses for an hour. ` +
          `Per-node servers listen on 127.0.0.1 only, on ports ${s.port}+1 … ${s.port}+${nodes.length} (one per node, in node order). ` +
          (s.apiKeyFile
            ? "The API key is still checked by every engine: nginx passes the Authorization header through unchanged."
            : "No API key: the engines answer anyone who reaches nginx."),
        sources: [SRC.vllmCpuTips, SRC.nixpkgsNginx, SRC.nginxUpstream, ...(engine === "llama-cpp" ? [SRC.llamaCppNuma] : [])],
      },
    };
  }

  /** Data or tensor parallel on several nodes, with the reason; null when the entry cannot be served. */
  private chooseParallel(s: Serve, i: number, engine: Engine, nodes: readonly Node[]): Decision<string> | null {
    const mems = nodes.map((n) => n.memGiB);
    const smallest = mems.every((m): m is number => m !== null) ? Math.min(...mems) : null;
    const w = s.modelSizeGiB ?? null;
    const fitsOne = w === null || smallest === null ? null : w <= smallest - headroomGiB(smallest) - 1;
    const across = engine === "vllm" ? `one server across the ${nodes.length} nodes, tensor parallel (-tp ${nodes.length})` : `one llama.cpp process across the ${nodes.length} nodes (--numa distribute)`;
    const sources = [SRC.vllmCpuTips, ...(engine === "llama-cpp" ? [SRC.llamaCppNuma] : [])];
    const split = `the model's ${gib(w ?? 0)} of weights do not fit the smallest node (${gib(smallest ?? 0)} − ${gib(headroomGiB(smallest ?? 0))} headroom − 1 GiB of KV cache)`;
    if (s.parallel === "data" && fitsOne === false) {
      this.out.add({
        code: "MODEL_EXCEEDS_NODE",
        severity: "error",
        subject: `serve[${i}].parallel`,
        message: `${s.name}: parallel: data puts a whole copy of the model on every node, but ${split}.`,
        fix: `set serve[${i}].parallel to "tensor" or "auto", or serve a smaller model`,
        source: cite(SRC.vllmCpuTips),
      });
      return null;
    }
    if (s.parallel === "tensor") return { value: "tensor", reason: `requested (serve[${i}].parallel: tensor): ${across}`, sources };
    if (s.parallel === "data")
      return { value: "data", reason: `requested (serve[${i}].parallel: data): one ${LABEL[engine]} server per NUMA node, each bound to its node's cores and memory`, sources };
    if (fitsOne === false) return { value: "tensor", reason: `auto: ${split}, so ${across}`, sources };
    if (fitsOne === null)
      this.out.add({
        code: "MODEL_SIZE_UNKNOWN",
        severity: "info",
        subject: `serve[${i}].modelSizeGiB`,
        message: `${s.name}: the model's size is unknown${smallest === null ? " (and so is the memory per node)" : ""}, so parallel: auto assumes it fits one node and runs one server per node (data parallel).`,
        fix: `set serve[${i}].modelSizeGiB (the weights' size) so hwflake can choose, or set serve[${i}].parallel`,
        source: cite(SRC.vllmCpuTips),
      });
    return {
      value: "data",
      reason:
        `auto: ${fitsOne === null ? "the model's size is unknown, assumed to fit one node" : `the model (${gib(w!)}) fits one node`}, so one ${LABEL[engine]} server per NUMA node ` +
        `(${nodes.length} in all) for throughput` +
        (engine === "llama-cpp" ? ", each with --numa isolate (llama.cpp PR #5377: almost twice the combined throughput of one process)" : ""),
      sources,
    };
  }

  /** A refused KV cache (the model does not fit) is an error finding. */
  private fits(s: Serve, i: number, r: CpuReplica): boolean {
    const kv = r.environment.VLLM_CPU_KVCACHE_SPACE;
    if (kv === undefined || Number(kv) >= 1) return true;
    this.out.add({
      code: "MODEL_EXCEEDS_MEMORY",
      severity: "error",
      subject: `serve[${i}].modelSizeGiB`,
      message: `${s.name}${r.suffix ? ` (${r.suffix})` : ""}: no memory is left for the KV cache: ${r.cpu.decisions.find((d) => d.value.startsWith("VLLM_CPU_KVCACHE_SPACE"))?.reason ?? ""}.`,
      fix: "serve a smaller (or quantized) model, or run it across more NUMA nodes (parallel: tensor)",
      source: cite(SRC.vllmCpuEnvs),
    });
    return false;
  }

  /**
   * One server on `nodes` (all of them: one rank per node when `mode` is tensor). `port` null:
   * the entry's own address; else a per-node server on loopback.
   */
  private replica(s: Serve, suffix: string | null, nodes: readonly Node[], port: number | null, engine: Engine, mode: Decision<string>): CpuReplica {
    const system = this.system;
    const vllm = engine === "vllm";
    const decisions: Decision<string>[] = [{ value: `parallel: ${mode.value}`, reason: mode.reason, sources: mode.sources }];
    const environment: Record<string, string> = {};
    const extraArgs: string[] = [];
    const tensor = mode.value === "tensor";

    let affinity = "";
    let threads: number | null = null;
    let frontend = "";
    let numaPolicy: CpuPlacement["numaPolicy"] = null;
    let numaMask: string | null = null;

    if (nodes.length > 0 && engine !== "ollama") {
      let tpc = this.p.cpu.threadsPerCore ?? 1;
      let coreCount = 0;
      for (const n of nodes) {
        coreCount += n.cores.length;
        for (const c of n.cores) if (c.length > tpc) tpc = c.length;
      }
      const per = threadsPerCoreUsed(system, tpc);
      const fr = vllm ? frontendCores(coreCount) : null;
      const last = nodes[nodes.length - 1]!;
      const reserved = new Set(fr ? last.cores.slice(last.cores.length - fr.value) : []);
      // One rank per node for tensor parallel, else one rank over all of the instance's nodes;
      // each rank takes the first `per` threads of each of its cores but the frontend's.
      const ranks = tensor && vllm ? nodes.map((n) => [n]) : [nodes];
      const rankCpus = ranks.map((rn) => {
        const cpus: number[] = [];
        for (const n of rn)
          for (const core of n.cores) {
            if (reserved.has(core)) continue;
            for (let k = 0; k < per.value && k < core.length; k++) cpus.push(core[k]!);
          }
        return cpus;
      });
      const compute = rankCpus.length === 1 ? rankCpus[0]! : rankCpus.flat();
      const front = [...reserved].flat();
      affinity = formatCpulist([...compute, ...front]);
      threads = compute.length;
      frontend = formatCpulist(front);
      const computeCores = coreCount - reserved.size;
      decisions.push({
        value: `CPUAffinity=${affinity}`,
        reason: `${nodesText(nodes)}: ${coreCount} physical cores; ${per.reason}; ${threads} compute threads on ${computeCores} cores` + (front.length ? ` plus the frontend's ${reserved.size} core(s) (CPUs ${frontend})` : "") + "; no other CPU of its node(s)",
        sources: [SRC.systemdNuma, ...per.sources],
      });
      if (fr) decisions.push({ value: `frontend: ${frontend || "none"}`, reason: fr.reason, sources: fr.sources });
      if (vllm) {
        environment.VLLM_CPU_OMP_THREADS_BIND = rankCpus.map(formatCpulist).join("|");
        decisions.push({
          value: `VLLM_CPU_OMP_THREADS_BIND=${environment.VLLM_CPU_OMP_THREADS_BIND}`,
          reason:
            (ranks.length > 1 ? `one list per tensor-parallel rank ('|' between ranks), each inside its own node; ` : "") +
            `OpenMP threads bound explicitly, never across a node within a rank, SMT siblings and the frontend's cores left out`,
          sources: [SRC.vllmCpuEnvs, SRC.vllmCpuTips],
        });
      } else {
        extraArgs.push("--threads", String(threads));
        decisions.push({
          value: `--threads ${threads}`,
          reason: `the physical cores it is bound to` + (per.value > 1 ? ` × ${per.value} threads each (POWER)` : ""),
          sources: [SRC.llamaServerArgs, ...per.sources],
        });
      }
      // Memory placement.
      const wholeHost = (this.topology() ?? []).length;
      if (nodes.length === 1 && wholeHost > 1) {
        numaPolicy = "bind";
        numaMask = String(nodes[0]!.id);
        decisions.push({ value: `NUMAPolicy=bind NUMAMask=${numaMask}`, reason: `memory only from node ${numaMask}, the node its cores are on`, sources: [SRC.systemdNuma, SRC.vllmCpuTips] });
      } else if (nodes.length > 1 && !vllm && system === "powerpc64le-linux") {
        numaPolicy = "interleave";
        numaMask = formatCpulist(nodes.map((n) => n.id));
        decisions.push({
          value: `NUMAPolicy=interleave NUMAMask=${numaMask}`,
          reason: "one process across nodes on POWER: memory interleaved over them (seed 000: numactl --interleave=all for models larger than one node)",
          sources: [SRC.seedPower8, SRC.systemdNuma],
        });
      } else if (nodes.length > 1) {
        decisions.push({
          value: "NUMAPolicy unset",
          reason: vllm
            ? "each tensor-parallel rank's threads stay on their node, so their pages are placed there on first touch"
            : "llama.cpp's --numa distribute spreads its threads evenly over the nodes and places pages by first touch",
          sources: vllm ? [SRC.vllmCpuTips] : [SRC.llamaCppNuma],
        });
      }
      if (!vllm && nodes.length > 1) extraArgs.push("--numa", "distribute");
      if (!vllm && suffix !== null) extraArgs.push("--numa", "isolate", "--no-mmap");
      if (!vllm && (nodes.length > 1 || suffix !== null))
        decisions.push({
          value: `--numa ${suffix !== null ? "isolate" : "distribute"}`,
          reason: suffix !== null ? "threads only on the node the process starts on (its own, by CPUAffinity)" : "threads spread evenly over the nodes",
          sources: [SRC.llamaCppNuma],
        });
      if (!vllm && suffix !== null)
        decisions.push({
          value: "--no-mmap",
          reason:
            "every per-node server reads the model into its own node's memory: memory-mapped, all of them would share one copy in the page cache, on whichever node first read it (llama.cpp's --numa help: pages already in the page cache stay where they are)",
          sources: [SRC.llamaServerArgs, SRC.llamaCppNuma],
        });
    }

    if (vllm) {
      const dtype = vllmCpuDtype(system, this.p.cpu);
      if (dtype) {
        extraArgs.push("--dtype", dtype.value);
        decisions.push({ value: `--dtype ${dtype.value}`, reason: dtype.reason, sources: dtype.sources });
      }
      if (tensor && nodes.length > 1) {
        extraArgs.push("--tensor-parallel-size", String(nodes.length), "--distributed-executor-backend", "mp");
        decisions.push({
          value: `--tensor-parallel-size ${nodes.length} --distributed-executor-backend mp`,
          reason: `one rank per NUMA node, as vLLM's CPU notes show (TP = number of nodes); the model's attention heads must divide by ${nodes.length}`,
          sources: [SRC.vllmCpuTips],
        });
      }
      // KV cache per rank, from the memory of the rank's node.
      const w = s.modelSizeGiB ?? null;
      const ranks = tensor && nodes.length > 1 ? nodes.length : 1;
      const memOf = nodes.length > 0 ? Math.min(...nodes.map((n) => n.memGiB ?? Infinity)) : Infinity;
      const mem = memOf !== Infinity ? (tensor || nodes.length <= 1 ? memOf : nodes.reduce((a, n) => a + n.memGiB!, 0)) : this.p.memory ? this.p.memory.totalMiB / 1024 : null;
      if (mem !== null) {
        const what = nodes.length === 0 ? "the host's memory" : ranks > 1 ? `each rank's node (the smallest of ${nodesText(nodes)})` : nodesText(nodes);
        const kv = kvCacheGiB(mem, w === null ? null : w / ranks, what + (ranks > 1 && w !== null ? `, ${gib(w)} of weights / ${ranks} ranks` : ""));
        environment.VLLM_CPU_KVCACHE_SPACE = String(kv.value);
        decisions.push({ value: `VLLM_CPU_KVCACHE_SPACE=${kv.value}`, reason: kv.reason, sources: kv.sources });
      } else
        decisions.push({ value: "VLLM_CPU_KVCACHE_SPACE unset", reason: "memory unknown (memory.totalMiB, cpu.numa[].memoryMiB): vLLM's default of 4 GiB", sources: [SRC.vllmCpuEnvs] });
      decisions.push({ value: "LD_PRELOAD=libtcmalloc_minimal.so", reason: "TCMalloc from nixpkgs' gperftools, as vLLM's CPU notes recommend for allocation speed and cache locality", sources: [SRC.vllmCpuTips, SRC.nixpkgsGperftools] });
    }

    return {
      suffix,
      listen: port === null ? s.listen : "127.0.0.1",
      port: port ?? s.port,
      cpu: {
        nodes: nodes.map((n) => n.id),
        affinity,
        numaPolicy,
        numaMask,
        threads,
        frontend,
        tcmalloc: vllm,
        decisions,
      },
      environment,
      extraArgs,
    };
  }
}

/**
 * The CPU features a serve entry's build needs (the unit checks them at every start), and an
 * error now when the profile already shows one missing.
 */
export function cpuPreflight(p: Profile, s: Serve, engine: Engine, onCpu: boolean, out: FindingSink): Decision<readonly string[]> | null {
  const req = requiredCpuFeatures(p.system!, engine, onCpu);
  if (!req) return null;
  const missing = missingCpuFeatures(req.value, p.system!, p.cpu);
  if (missing.length > 0)
    out.add({
      code: "CPU_ISA_MISSING",
      severity: s.acceptUnsupported ? "warning" : "error",
      subject: p.system === "powerpc64le-linux" ? "cpu.arch" : "cpu.flags",
      message: `${s.name}: this CPU lacks ${missing.join(", ")}, which ${LABEL[engine]} on the CPU needs (${req.reason}); the unit's start-up check would refuse to run it rather than let it die with SIGILL.`,
      fix: s.acceptUnsupported ? undefined : 'use engine "llama-cpp" (it picks its CPU code at start), or check cpu.flags against /proc/cpuinfo',
      source: cite(...req.sources),
    });
  return req;
}

/** Two listeners that cannot both bind are an error on the serve entry's port. */
export function checkListeners(p: Profile, instances: readonly Instance[], balancers: readonly LoadBalancer[], out: FindingSink): void {
  const wildcard = (h: string) => ["", "0.0.0.0", "::", "[::]"].includes(h);
  const all = [
    ...instances.map((x) => ({ who: x.behind ? `${x.name} (per-node server of ${x.behind})` : x.name, entry: x.behind ?? x.name, host: x.listen, port: x.port })),
    ...balancers.map((b) => ({ who: `${b.name} (nginx)`, entry: b.name, host: b.listen, port: b.port })),
  ];
  const index = (name: string) => p.serve.findIndex((s) => s.name === name);
  for (let a = 0; a < all.length; a++)
    for (let b = a + 1; b < all.length; b++) {
      const x = all[a]!;
      const y = all[b]!;
      if (x.port !== y.port || !(x.host === y.host || wildcard(x.host) || wildcard(y.host))) continue;
      const [ix, iy] = [index(x.entry), index(y.entry)];
      out.add({
        code: "PORT_CLASH",
        severity: "error",
        subject: `serve[${Math.max(ix, iy)}].port`,
        message: `${x.who} and ${y.who} both listen on port ${x.port} (${x.host}, ${y.host}).`,
        fix: `per-node servers of a data-parallel entry take port+1 … port+N (one per NUMA node, in node order); move serve[${Math.max(ix, iy)}].port or serve[${Math.min(ix, iy)}].port`,
        source: "hwflake",
      });
    }
}

/** Serve entries whose per-node server names collide with another entry's name. */
export function replicaNameClash(p: Profile, s: Serve, names: readonly string[]): string | null {
  return names.find((n) => p.serve.some((o) => o !== s && o.name === n)) ?? null;
}

/** Different serve entries bound to the same CPUs compete for them: said, not refused. */
export function checkCpuSharing(p: Profile, instances: readonly Instance[], out: FindingSink): void {
  const bound = instances.filter((x) => x.cpu && x.cpu.affinity !== "");
  const entry = (x: Instance) => x.behind ?? x.name;
  const said = new Set<string>();
  const cpus = bound.map((x) => expandCpulist(x.cpu!.affinity));
  for (let a = 0; a < bound.length; a++)
    for (let b = a + 1; b < bound.length; b++) {
      const x = bound[a]!;
      const y = bound[b]!;
      const key = `${entry(x)}\u0000${entry(y)}`;
      if (entry(x) === entry(y) || said.has(key)) continue;
      const mine = new Set(cpus[a]);
      const shared = cpus[b]!.filter((c) => mine.has(c));
      if (shared.length === 0) continue;
      said.add(key);
      out.add({
        code: "CPU_SHARED",
        severity: "info",
        subject: `serve[${p.serve.findIndex((s) => s.name === entry(y))}]`,
        message: `${entry(x)} and ${entry(y)} are bound to some of the same CPUs (e.g. ${formatCpulist(shared.slice(0, 8))}): under load at the same time they compete for those cores.`,
        fix: "run fewer CPU instances on this host, or accept that they share it",
        source: "hwflake",
      });
    }
}
