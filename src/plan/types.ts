/**
 * The plan: everything hwflake decided for one host, as plain JSON-serialisable data.
 *
 * `plan/` produces it from a profile without touching the disk; `render/` turns it into Nix
 * text; `hwflake plan --json` prints it. Every decision carries a reason and a source so a
 * user can check it against upstream.
 */

/** Where a fact or rule comes from: an upstream file at a commit, a doc page, an issue, or a seed. */
export interface Source {
  /** Short citation, e.g. "vllm-project/vllm CMakeLists.txt @ 000a1ee9 (HIP_SUPPORTED_ARCHS)". */
  readonly ref: string;
  /** Optional URL-free locator detail (line, heading); never a live link requirement. */
  readonly note?: string;
}

/** A decision with the value chosen, why, and where the rule comes from. */
export interface Decision<T> {
  readonly value: T;
  readonly reason: string;
  readonly sources: readonly Source[];
}

/** Severity of a finding: errors refuse the plan (exit 1) unless accepted explicitly. */
export type Severity = "error" | "warning" | "info";

/** Something the planner wants the user to know, with a stable code for scripts and tests. */
export interface Finding {
  /** Stable identifier, SCREAMING_SNAKE_CASE, e.g. "VLLM_ROCM_ARCH_UNSUPPORTED". */
  readonly code: string;
  readonly severity: Severity;
  /** Profile path the finding is about, e.g. "serve[0].engine" or "accelerators[1]". */
  readonly subject: string;
  readonly message: string;
  /** What to do about it, when there is something to do. */
  readonly fix?: string;
  /** Source citation(s), joined with "; " for the JSON contract's single string. */
  readonly source: string;
}

/** Engines an instance can run. */
export type Engine = "vllm" | "llama-cpp" | "ollama";

/** Which device family a build or instance targets. */
export type Backend = "cpu" | "rocm" | "cuda" | "tpu" | "spyre";

/** A Nix value the renderer knows how to print as a literal. */
export type NixValue =
  | string
  | number
  | boolean
  | null
  | readonly NixValue[]
  | { readonly [key: string]: NixValue };

/**
 * One engine package built inside a build set: `pkgs.hwflake.<set>.<engine>`.
 *
 * `base` names the attribute of the set's own package set it is derived from; `args` are
 * passed to `.override` with exactly nixpkgs' argument names (the Nix tests apply them to
 * stand-ins that take only those names, so a typo fails); `env` is merged into the
 * derivation's `env` via overrideAttrs / overridePythonAttrs.
 */
export interface PackageBuild {
  /** Attribute name inside the set: the engine ("llama-cpp", "vllm", "ollama"). */
  readonly engine: Engine;
  /** Where it comes from in the set's package set: a top-level attribute or the Python set. */
  readonly base: "llama-cpp" | "ollama" | "python3Packages.vllm" | "python312Packages.vllm-tpu" | "python312Packages.vllm" | "pythonEnv";
  /** Arguments for `.override { ... }`, nixpkgs names only. */
  readonly args: { readonly [arg: string]: NixValue };
  /** Build-time environment variables added to the derivation. */
  readonly env: { readonly [name: string]: string };
  readonly reason: string;
  readonly sources: readonly Source[];
}

/** One wheel a build set installs at an exact version, as data for modules/lib/build-sets.nix. */
export interface WheelPin {
  /** PyPI project name ("tpu-inference"). */
  readonly package: string;
  /** Attribute in the set's Python package set (nixpkgs spelling: lower case, '-'). */
  readonly attr: string;
  readonly version: string;
  /** Download URL, or null when no public record gives it. */
  readonly url: string | null;
  /** SRI sha256 of the file at `url`, or null when no public record gives it. */
  readonly hash: string | null;
  /** Where url and hash come from ("the profile's wheels entry" when the user gave them). */
  readonly hashSource: string | null;
  /** Attributes of the same set this wheel depends on. */
  readonly deps: readonly string[];
  /** Take the Python dependencies of this nixpkgs package as well (vllm-tpu takes vllm's). */
  readonly inheritDependencies: string | null;
  /** nixpkgs-style licence record for an unfree wheel (its shortName goes into allowUnfreeLicenses), or null. */
  readonly unfree: { readonly shortName: string; readonly fullName: string } | null;
  /** The exact commands that print the url and sha256 (shown in the plan and in Nix's throw). */
  readonly prefetch: string;
  /**
   * How the file is fetched: "url" (fetchurl of a wheel), "github" (the package's nixpkgs
   * expression with version and src replaced by this tag's source tree), or "requireFile" (a
   * file only the user has, added to the store by hand: `requireFile`).
   */
  readonly fetch?: "url" | "github" | "requireFile";
  readonly github?: { readonly owner: string; readonly repo: string; readonly tag: string } | null;
  /** requireFile: the file name the user adds to the store, and what to tell them. */
  readonly file?: string | null;
}

/** The Python package set a build set adds its wheels to. */
export interface PythonSet {
  /** Interpreter attribute of the set ("python312"); its package set is `<interpreter>Packages`. */
  readonly interpreter: "python312";
  readonly wheels: readonly WheelPin[];
}

/** A heavy derivation a build set compiles from source, with a rough cost. */
export interface ForecastItem {
  /** What compiles, e.g. "torch (ROCm)" or "ROCm libraries (rocBLAS, MIOpen, …)". */
  readonly what: string;
  /** Wall-clock hours, low and high, on the builder the sources describe; null when no source gives a figure. */
  readonly hours: readonly [number, number] | null;
  /** Disk needed while building, GB (null when no source gives a figure). */
  readonly diskGB: number | null;
  /** What the figure assumes (builder cores, memory), as the source states it. */
  readonly assumes: string;
  readonly sources: readonly Source[];
}

/** What building a set costs, said before anything builds. */
export interface Forecast {
  /** Heavy derivations compiled from source; empty when the set comes from the binary cache. */
  readonly compiles: readonly ForecastItem[];
  /** Sum of the items' known ranges, hours. */
  readonly hours: readonly [number, number];
  /** Sum of the known disk figures, GB. */
  readonly diskGB: number;
  /** Items that compile but have no recorded figure (not in `hours`). */
  readonly unmeasured: readonly string[];
  /** Why this set is, or is not, in the public binary cache. */
  readonly cache: string;
  readonly cacheSources: readonly Source[];
}

/**
 * A build set: its own nixpkgs package set for one hardware class (backend, GPU targets,
 * pins), made from the user's nixpkgs the way nixpkgs makes pkgsRocm / pkgsForCudaArch.
 * Inside it the change is global and consistent; outside it nothing changes.
 */
export interface BuildSet {
  /** Attribute name under pkgs.hwflake, derived from the class ("cpu", "rocm-gfx906", "cuda-sm89"). */
  readonly name: string;
  readonly backend: Backend;
  /** GPU build targets (gfx targets or CUDA capabilities), sorted; empty for CPU. */
  readonly targets: readonly string[];
  /** The set's own nixpkgs `config` (never the host's). */
  readonly config: Decision<{ readonly [key: string]: NixValue }>;
  /** clr `localGpuTargets` of the set's ROCm scope, or null when the set narrows no ROCm. */
  readonly rocmGpuTargets: Decision<readonly string[]> | null;
  /** nixpkgs licence shortNames the set may use although unfree, or null: nothing unfree. */
  readonly allowUnfreeLicenses: Decision<readonly string[]> | null;
  /** Engine packages built in this set, sorted by engine. */
  readonly packages: readonly PackageBuild[];
  /** Python wheels pinned at exact versions inside the set (TPU, Spyre), or absent. */
  readonly python?: Decision<PythonSet> | null;
  /** Instances that run a package of this set, sorted. */
  readonly instances: readonly string[];
  readonly forecast: Forecast;
  /** True when the set also provides `ray-env`: a Python with its vLLM and Ray, for Ray nodes. */
  readonly rayEnv?: boolean;
}

/** One inference server, as the host module will configure it under services.hwflake.instances.<name>. */
export interface Instance {
  readonly name: string;
  readonly engine: Engine;
  /** Accelerator ids from the profile; empty for CPU. */
  readonly on: readonly string[];
  readonly backend: Backend;
  /** The build set whose package runs it: `pkgs.hwflake.<buildSet>.<engine>`. */
  readonly buildSet: string;
  /** What the engine is told to load: HF id / path for vLLM, GGUF file or repo for llama.cpp, tag for Ollama. */
  readonly model: InstanceModel;
  readonly listen: string;
  readonly port: number;
  readonly apiKeyFile: string | null;
  /** Runtime environment for device pinning and engine settings (sorted when rendered). */
  readonly environment: { readonly [name: string]: string };
  /** Extra engine arguments decided by the planner (e.g. ["--dtype", "bfloat16"]). */
  readonly extraArgs: readonly string[];
  /** Which device nodes the unit needs: decides DeviceAllow / groups in the module. */
  readonly gpuVendor: "amd" | "nvidia" | null;
  /** The engine decision with its reason and sources. */
  readonly engineDecision: Decision<Engine>;
  /** The device-pinning decision. */
  readonly pinning: Decision<{ readonly [name: string]: string }> | null;
  /**
   * "host" when the server must reach other hosts (the vLLM server of a service on Ray), so it
   * keeps the host's network; absent: its own network namespace behind a socket proxy.
   */
  readonly network?: "host";
  /** CPU instances: cores, NUMA memory and tuning (src/plan/cpu-serving.ts); absent or null otherwise. */
  readonly cpu?: CpuPlacement | null;
  /**
   * CPU features the unit's build needs, in the preflight's spelling (a /proc/cpuinfo flag such
   * as "avx2" or "asimd"; "powerN" for a POWER generation; "vsx"). Checked at plan time against
   * the profile and at every start by the unit's ExecStartPre. Absent or null: nothing to check.
   */
  readonly requiredCpuFeatures?: Decision<readonly string[]> | null;
  /** For a per-NUMA-node server: the load balancer (serve entry name) it sits behind. */
  readonly behind?: string | null;
  /** Device nodes the unit may open beyond the GPU vendor's (TPU, Spyre: /dev/vfio/N), or absent. */
  readonly devices?: Decision<readonly string[]> | null;
  /** Engine settings in `environment` beyond pinning (Spyre backend, warm-up shapes), with why; or absent. */
  readonly settings?: Decision<{ readonly [name: string]: string }> | null;
  /** The unit's TimeoutStartSec when the engine compiles at start (Spyre), or absent. */
  readonly startTimeout?: Decision<string> | null;
}

/**
 * Where a CPU instance runs: systemd CPUAffinity=, NUMAPolicy= and NUMAMask= (systemd.exec(5)),
 * the engine's thread count, and every number with its arithmetic.
 */
export interface CpuPlacement {
  /** NUMA nodes the instance uses, ascending. */
  readonly nodes: readonly number[];
  /** CPUAffinity=: compute threads plus the frontend's cores, as a cpulist; "" when not bound (topology unknown). */
  readonly affinity: string;
  /** NUMAPolicy= ("bind": memory only from `numaMask`; "interleave": spread over it), or null for the kernel default. */
  readonly numaPolicy: "bind" | "interleave" | null;
  /** NUMAMask=: the node list for numaPolicy, or null. */
  readonly numaMask: string | null;
  /** Compute threads: OpenMP threads for vLLM, --threads for llama.cpp; null when not bound. */
  readonly threads: number | null;
  /** CPUs (whole cores) left to the HTTP frontend and tokenizer; "" for none. */
  readonly frontend: string;
  /** Preload nixpkgs' TCMalloc (gperftools libtcmalloc_minimal) with LD_PRELOAD. */
  readonly tcmalloc: boolean;
  /** Each tuning decision: the value set, why, with the arithmetic, and the sources. */
  readonly decisions: readonly Decision<string>[];
}

/**
 * One address for several per-NUMA-node servers of one serve entry (data parallel): the
 * module library runs nixpkgs' services.nginx with an upstream of the backends.
 */
export interface LoadBalancer {
  /** The serve entry's name: services.hwflake.loadBalancers.<name>. */
  readonly name: string;
  readonly listen: string;
  readonly port: number;
  /** Instance names of the per-node servers, in node order. */
  readonly backends: readonly string[];
  readonly decision: Decision<string>;
}

/** The model an instance loads. */
export type InstanceModel =
  | { readonly kind: "hf"; readonly id: string } // vLLM: Hugging Face id or local path
  | { readonly kind: "gguf-file"; readonly path: string } // llama.cpp: -m
  | { readonly kind: "gguf-repo"; readonly repo: string } // llama.cpp: -hf
  | { readonly kind: "ollama"; readonly tag: string }; // Ollama: pulled by name

/** CPU-level decisions, shown in the plan and used for findings. */
export interface CpuPlan {
  /** x86-64 micro-architecture level the flags prove (1..4), or null when not x86 / unknown. */
  readonly x86Level: number | null;
  /** gcc arch name, from the profile or derived from the model when certain. */
  readonly gccArch: string | null;
  /** Flags that matter to the engines, present on this CPU (sorted). */
  readonly relevantFlags: readonly string[];
}

/** Everything decided for one host. */
export interface Plan {
  readonly version: 1;
  readonly host: string;
  readonly system: "x86_64-linux" | "aarch64-linux" | "powerpc64le-linux";
  /**
   * The host's distribution from the profile (os-release ID and VERSION_ID); absent when the
   * profile does not say, and then the flake serves both NixOS and other distributions.
   */
  readonly os?: { readonly id: string; readonly versionId?: string };
  readonly cpu: CpuPlan;
  readonly instances: readonly Instance[];
  /** One package set per hardware class, sorted by name. */
  readonly buildSets: readonly BuildSet[];
  /** nginx in front of data-parallel CPU servers, sorted by name; absent means none. */
  readonly loadBalancers?: readonly LoadBalancer[];
  readonly findings: readonly Finding[];
  /** True when an error finding was not accepted: generate refuses (exit 1). */
  readonly refused: boolean;
}

/** A build set as the fleet shares it: one per system and class, used by several hosts. */
export interface FleetBuildSet extends Omit<BuildSet, "instances"> {
  readonly system: Plan["system"];
  /** Hosts with an instance on this set, sorted. */
  readonly hosts: readonly string[];
  /** Instances on this set as "host/instance", sorted. */
  readonly instances: readonly string[];
}

/** Everything decided for a folder of host profiles (a single host is a fleet of one). */
export interface FleetPlan {
  readonly version: 1;
  /** Name for messages and markers: the fleet folder's name, or the host of a fleet of one. */
  readonly name: string;
  /** Each host's own plan, sorted by host name. */
  readonly hosts: readonly Plan[];
  /** The build sets across hosts, one per (system, class), sorted by name then system. */
  readonly buildSets: readonly FleetBuildSet[];
  /** Models served across hosts (fleet.yaml services), sorted by name. */
  readonly services: readonly ServicePlan[];
  /** Findings about the services (subject `services[i]…`, about fleet.yaml). */
  readonly findings: readonly Finding[];
  /** True when any host's plan or any service was refused. */
  readonly refused: boolean;
}

/** One host of a service on Ray: the Ray node it runs and how it sees its GPUs. */
export interface ServiceMember {
  readonly host: string;
  readonly role: "head" | "worker";
  /** The address the other members reach it at (fleet.yaml addresses). */
  readonly address: string;
  /** Device pinning for the Ray node and the engine workers it starts. */
  readonly environment: { readonly [name: string]: string };
  readonly gpuVendor: "amd" | "nvidia";
}

/**
 * A model served by vLLM across hosts on Ray: a Ray head (and the OpenAI server) on the first
 * host, Ray workers on the others; tensor parallel within a host, pipeline parallel across.
 */
export interface ServicePlan {
  readonly name: string;
  readonly system: Plan["system"];
  readonly buildSet: string;
  readonly members: readonly ServiceMember[];
  /** The Ray head's GCS port. */
  readonly rayPort: number;
  readonly tensorParallel: number;
  readonly pipelineParallel: number;
  /** The vLLM server on the head, as an instance of the head's module. */
  readonly instance: Instance;
  readonly decision: Decision<string>;
}
