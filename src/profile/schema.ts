/**
 * The hardware profile: the public, documented input format of hwflake (version 1).
 *
 * Every object is strict, so a misspelled key is an error instead of being dropped silently.
 * Fields that detection may not be able to see are optional: absent means "unknown", never
 * "none" (an empty `flags` list means "known to have no flags", an absent one "not known").
 */
import { z } from "zod";
import { cpulistRanges } from "../knowledge/cpulist.js";

/** The profile format version this build reads and writes. */
export const PROFILE_VERSION = 1;

/** Nix system doubles hwflake knows how to plan for. */
export const NIX_SYSTEMS = ["x86_64-linux", "aarch64-linux", "powerpc64le-linux"] as const;

/** Linux cpulist syntax, e.g. "0-11,24-35"; empty for a memory-only NUMA node. */
export const CPULIST_RE = /^$|^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** A host name as NixOS accepts it for networking.hostName (RFC 1123 label). */
const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** Identifiers that serve entries use to refer to accelerators, and instance names. */
const ID_RE = /^[a-z][a-z0-9-]{0,62}$/;

/*
 * Strings that reach a systemd unit line, an environment block, a command line or a Nix literal
 * follow one rule, enforced here so a bad value is refused at the CLI with its field named:
 * no control characters (a newline would end the unit line and start a directive of its own),
 * no lone UTF-16 surrogates (no UTF-8 form: Nix and systemd cannot carry them), a length cap,
 * and, for values that become arguments, no leading "-" (it would be read as an option) and no
 * leading or trailing whitespace (systemd strips it). "%" is allowed and passes through
 * unchanged: the module library escapes systemd specifiers where a value is literal.
 */

/** A surrogate that is not half of a pair. */
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Longest path the kernel accepts (PATH_MAX). */
export const MAX_PATH_LENGTH = 4096;

/**
 * A string with no control characters or lone surrogates, at most `max` characters. `what` is
 * the field as the user knows it, for the message. Shared by every free-text field below.
 */
export function safeString(what: string, max: number) {
  // Written as a pattern (not only a refinement) so the JSON Schema carries it to editors too.
  return z
    .string()
    .max(max, { message: `${what} is at most ${max} characters` })
    // C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
    .regex(/^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/, {
      message: `${what} may not contain control characters (newline, carriage return, tab, NUL, ESC …): they would end a unit line or split a command; write it on one line`,
    })
    .refine((v) => !LONE_SURROGATE_RE.test(v), {
      message: `${what} holds a lone UTF-16 surrogate (not valid Unicode text); remove it`,
    });
}

/** A value that becomes a command-line argument: safeString, trimmed, not starting with "-". */
export function argString(what: string, max: number) {
  return safeString(what, max)
    .min(1, { message: `${what} may not be empty` })
    .refine((v) => v.trim() === v, { message: `${what} may not start or end with whitespace (systemd strips it); remove it` })
    .refine((v) => !v.startsWith("-"), { message: `${what} may not start with "-": it would be read as an option` });
}

/**
 * An absolute, normalised path to a file on the target host: argString, starting with "/",
 * with no empty, "." or ".." segments and no trailing "/". ".." is refused (not resolved) so the
 * path names the file it reads as, e.g. "/run/secrets/../../etc/shadow" is never a key file.
 */
export function absoluteFilePath(what: string, example: string) {
  return argString(what, MAX_PATH_LENGTH)
    .regex(/^\//, { message: `${what} is an absolute path on the target host, e.g. "${example}"` })
    .refine((v) => !v.startsWith("/") || isNormalisedPath(v), { message: notNormalised(what, example) });
}

/** True for an absolute path with no empty, "." or ".." segments and no trailing "/". */
function isNormalisedPath(v: string): boolean {
  return v.slice(1).split("/").every((seg) => seg !== "" && seg !== "." && seg !== "..");
}

const notNormalised = (what: string, example: string) =>
  `${what} must be a normalised path to a file: no "//", no "." or ".." segments, no trailing "/" (e.g. "${example}")`;

/**
 * Highest CPU number a cpulist may name, in profiles and in captures. Linux caps NR_CPUS at 8192
 * on every architecture hwflake plans for; 65535 leaves room while keeping a list cheap to expand.
 */
export const MAX_CPU_NUMBER = 65_535;

/** True when every CPU number in a cpulist (already CPULIST_RE-shaped) is in range and ranges ascend. */
function cpulistInRange(list: string): boolean {
  return cpulistRanges(list).every(([a, b]) => a <= b && b <= MAX_CPU_NUMBER);
}

/** Most entries any profile list may hold: far above any machine, low enough to check quickly. */
const MAX_ENTRIES = 256;

const id = (what: string) =>
  z
    .string()
    .regex(ID_RE, {
      message: `${what} must start with a lower-case letter and use only a-z, 0-9 and '-' (e.g. "mi50", "coder")`,
    });

/** CPU ISA flag in /proc/cpuinfo spelling (lower case: avx2, avx512f, asimd, vsx ...). */
const cpuFlag = z.string().max(64).regex(/^[a-z0-9_.]+$/, {
  message: 'CPU flags use /proc/cpuinfo spelling: lower case, digits, "_" (e.g. "avx2", "avx512_bf16")',
});

/**
 * A cpulist of hardware threads that share one physical core ("0,24"; "5" for a core without SMT).
 * Listing these per NUMA node lets a planner take one thread per core without crossing a node.
 */
const coreSiblings = z
  .string()
  .max(1024)
  .regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, {
    message: 'siblings entries are cpulists of the threads of one core, e.g. "0,24"',
  })
  .refine(cpulistInRange, {
    message: `siblings entries name CPUs 0…${MAX_CPU_NUMBER} in ascending ranges such as "0,24"`,
  });

/** One NUMA node with the CPUs that belong to it. */
export const NumaNodeSchema = z
  .strictObject({
    id: z.number().int().nonnegative().meta({ description: "NUMA node number (node<N> in sysfs)" }),
    // 64 K characters: every CPU up to 8192 written singly is ~40 K; ranges are far shorter.
    cpus: z
      .string()
      .max(65_536)
      .regex(CPULIST_RE, {
        message: 'cpus is a Linux cpulist such as "0-11,24-35" ("" for a memory-only node)',
      })
      .refine(cpulistInRange, {
        message: `cpus names CPUs 0…${MAX_CPU_NUMBER} in ascending ranges such as "0-11,24-35"`,
      })
      .optional()
      .meta({ description: 'CPUs of this node as a Linux cpulist ("" for a memory-only node); absent means unknown' }),
    cpuCount: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .meta({ description: "Number of logical CPUs of this node, when the list itself is not known (KFD, rocminfo)" }),
    memoryMiB: z.number().int().nonnegative().optional().meta({ description: "Memory attached to this node, MiB" }),
    siblings: z
      .array(coreSiblings)
      .optional()
      .meta({
        description:
          'One cpulist per physical core of this node: the hardware threads that share it ("0,24"). ' +
          "The first CPU of each entry is one thread per core; absent means unknown",
      }),
  })
  .meta({ description: "A NUMA node" });

/**
 * CPU vendors. x86: amd, intel. POWER: ibm. Arm: the implementer in MIDR_EL1 ("CPU implementer"
 * in /proc/cpuinfo), named after Linux arch/arm64/include/asm/cputype.h ARM_CPU_IMP_* and
 * util-linux sys-utils/lscpu-arm.c; "arm" is Arm Ltd. itself (Cortex, Neoverse: also AWS
 * Graviton, NVIDIA Grace and Ampere Altra, which use Neoverse cores).
 */
export const CPU_VENDORS = [
  "amd", "intel", "ibm",
  "arm", "ampere", "apm", "apple", "broadcom", "cavium", "fujitsu", "hisilicon", "marvell", "microsoft", "nvidia", "phytium", "qualcomm",
  "other",
] as const;

/** The host CPU. */
export const CpuSchema = z
  .strictObject({
    vendor: z
      .enum(CPU_VENDORS)
      .optional()
      .meta({ description: "CPU vendor; on Arm the core's implementer (arm = Arm Ltd. cores such as Neoverse; hisilicon, ampere, nvidia ...)" }),
    model: safeString("cpu.model", 256).min(1).optional().meta({ description: "Model name as the kernel prints it" }),
    arch: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.+-]*$/, { message: 'arch is a gcc -march/-mcpu name such as "znver2" or "power9"' })
      .optional()
      .meta({ description: 'gcc architecture name when it is known for certain ("znver2", "sapphirerapids", "power9")' }),
    flags: z
      .array(cpuFlag)
      .max(1024)
      .optional()
      .meta({ description: "ISA flags in /proc/cpuinfo spelling; absent means unknown" }),
    sockets: z.number().int().positive().optional(),
    coresPerSocket: z.number().int().positive().optional(),
    threadsPerCore: z.number().int().positive().optional(),
    powerIsa: z
      .enum(["2.06", "2.07", "3.0", "3.1"])
      .optional()
      .meta({ description: "Power ISA version, derived from the POWER generation (POWER7 2.06, POWER8 2.07, POWER9 3.0, POWER10 3.1)" }),
    numa: z.array(NumaNodeSchema).max(1024).optional().meta({ description: "NUMA nodes; absent means unknown" }),
  })
  .meta({ description: "The host CPU" });

/**
 * The operating system as /etc/os-release names it (os-release(5)): `ID` and `VERSION_ID`.
 * NixOS is `id: nixos`. Absent means unknown, and then the generated flake serves both a
 * NixOS host and another distribution (through system-manager).
 */
export const OsSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9._-]+$/, { message: 'os.id is os-release ID: lower case, digits, ".", "_", "-" (e.g. "ubuntu", "debian", "nixos")' })
      .meta({ description: 'os-release ID, e.g. "ubuntu", "debian", "nixos"' }),
    versionId: z
      .string()
      .regex(/^[A-Za-z0-9._~-]+$/, { message: 'os.versionId is os-release VERSION_ID: letters, digits, ".", "_", "-", "~" (e.g. "20.04")' })
      .optional()
      .meta({ description: 'os-release VERSION_ID, e.g. "20.04" or "25.05"; absent means unknown (rolling releases have none)' }),
  })
  .meta({ description: "Operating system from /etc/os-release; absent means unknown" });

/** Installed memory. */
export const MemorySchema = z.strictObject({
  totalMiB: z.number().int().positive().meta({ description: "Total memory in MiB (MemTotal)" }),
});

const acceleratorCommon = {
  id: id("accelerator id").meta({ description: "Name that serve entries use in `on`" }),
  model: safeString("model", 256).min(1).optional().meta({ description: "Marketing name, e.g. AMD Instinct MI50" }),
  memoryMiB: z.number().int().positive().optional().meta({ description: "Device memory in MiB" }),
  pciAddress: z
    .string()
    .regex(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/, { message: 'pciAddress looks like "0000:03:00.0"' })
    .optional(),
};

/**
 * amdgpu compute partition modes of MI300-series cards: one partition (SPX), two (DPX), three
 * (TPX), four (QPX), or one per XCC (CPX). Source: Linux drivers/gpu/drm/amd/amdgpu/amdgpu_gfx.c
 * (xcp_desc, the names current_compute_partition prints) and aqua_vanjaram.c (CPX: one
 * partition per XCC).
 */
export const AMD_PARTITION_MODES = ["SPX", "DPX", "TPX", "QPX", "CPX"] as const;

/** AMD GPU, identified by its LLVM gfx target. */
export const AmdGpuSchema = z.strictObject({
  kind: z.literal("gpu"),
  vendor: z.literal("amd"),
  ...acceleratorCommon,
  arch: z
    .string()
    .regex(/^gfx[0-9a-f]{3,4}$/, { message: 'AMD arch is an LLVM gfx target such as "gfx906" or "gfx1102"' })
    .meta({ description: 'LLVM gfx target, e.g. "gfx906" (MI50) or "gfx1100" (RX 7900)' }),
  uuid: z
    .string()
    .regex(/^GPU-[0-9a-f]{16}$/, { message: 'AMD uuid is what rocminfo prints, e.g. "GPU-0e54792172da5eeb"' })
    .optional()
    .meta({ description: "ROCm unique id as rocminfo prints it (used for ROCR_VISIBLE_DEVICES)" }),
  index: z.number().int().nonnegative().optional().meta({ description: "ROCm device index, when no uuid is known" }),
  partitions: z
    .strictObject({
      mode: z.enum(AMD_PARTITION_MODES).optional().meta({ description: "Compute partition mode; absent means unknown" }),
      count: z.number().int().min(2).meta({ description: "Partitions (KFD nodes, ROCm agents) this card shows" }),
    })
    .optional()
    .meta({ description: "A partitioned card (MI300-series DPX/QPX/CPX): one entry per physical card, its partitions here" }),
});

/** NVIDIA GPU, identified by its CUDA compute capability. */
export const NvidiaGpuSchema = z.strictObject({
  kind: z.literal("gpu"),
  vendor: z.literal("nvidia"),
  ...acceleratorCommon,
  arch: z
    .string()
    .regex(/^\d{1,2}\.\d[af]?$/, { message: 'NVIDIA arch is a CUDA compute capability such as "8.6" or "9.0"' })
    .meta({ description: 'CUDA compute capability, e.g. "8.6"' }),
  uuid: z
    .string()
    .regex(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, {
      message: 'NVIDIA uuid is what nvidia-smi -L prints, e.g. "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"',
    })
    .optional(),
  index: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .meta({ description: "nvidia-smi index (PCI bus order); vLLM needs it because it rejects UUIDs" }),
});

/**
 * Most TPU chips one host has: Cloud TPU v6e lists 8 chips per host, and v5e VMs have 1, 4 or 8
 * (docs.cloud.google.com/tpu/docs/v6e, /v5e). The planner makes one device node per chip, so an
 * unbounded count would be an unbounded list.
 */
export const MAX_TPU_CHIPS = 8;

/** Google TPU (one host's chips). */
export const TpuSchema = z.strictObject({
  kind: z.literal("tpu"),
  vendor: z.literal("google"),
  ...acceleratorCommon,
  arch: z
    .enum(["v2", "v3", "v4", "v5e", "v5p", "v6e", "v7x"])
    .meta({ description: "TPU generation" }),
  chips: z
    .number()
    .int()
    .positive()
    .max(MAX_TPU_CHIPS, { message: `a TPU host has at most ${MAX_TPU_CHIPS} chips (Cloud TPU v5e and v6e VMs have 1, 4 or 8); give the chips of this host` })
    .optional()
    .meta({ description: "Chips of this host in this entry (1, 4 or 8 on v5e/v6e VMs)" }),
});

/** IBM Spyre AIU card. */
export const SpyreSchema = z.strictObject({
  kind: z.literal("spyre"),
  vendor: z.literal("ibm"),
  ...acceleratorCommon,
  arch: z.literal("spyre").optional(),
});

/** Any accelerator. Discriminated first on kind, then on vendor for GPUs. */
export const AcceleratorSchema = z
  .discriminatedUnion("kind", [
    z.discriminatedUnion("vendor", [AmdGpuSchema, NvidiaGpuSchema]),
    TpuSchema,
    SpyreSchema,
  ])
  .meta({ description: "A GPU, TPU or Spyre card" });

/** Where llama.cpp gets a GGUF model from. */
export const GgufSchema = z.union([
  z.strictObject({
    file: absoluteFilePath("gguf.file", "/srv/models/qwen2.5-coder-7b-q4_k_m.gguf"),
  }),
  z.strictObject({
    repo: z
      .string()
      // Each part starts with a letter or digit: no option-like "-x", no "." or ".." segments.
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*(:[A-Za-z0-9._-]+)?$/, {
        message: 'gguf.repo is a Hugging Face GGUF repo, optionally with a quant tag: "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF:Q4_K_M"',
      }),
  }),
]);

/** Engines a serve entry may ask for. */
export const ENGINES = ["auto", "vllm", "llama-cpp", "ollama"] as const;

/** How a CPU instance uses several NUMA nodes (see ServeSchema.parallel). */
export const PARALLEL_MODES = ["auto", "data", "tensor"] as const;

/** One OpenAI-compatible server to run. */
export const ServeSchema = z.strictObject({
  name: id("serve name").meta({ description: "Instance name (systemd unit hwflake-<name>)" }),
  model: argString("model", MAX_PATH_LENGTH)
    .refine((v) => !v.startsWith("/") || isNormalisedPath(v), { message: notNormalised("a model path", "/srv/models/Qwen2.5-7B") })
    .meta({ description: "Hugging Face model id, or an absolute path on the target" }),
  gguf: GgufSchema.optional().meta({
    description: "GGUF form of the model, needed when the instance runs on llama.cpp",
  }),
  engine: z.enum(ENGINES).default("auto"),
  on: z
    .array(id("accelerator id"))
    .max(MAX_ENTRIES)
    .default([])
    .meta({ description: "Accelerator ids to run on; empty for the CPU" }),
  listen: argString("listen", 255)
    // An IPv6 scope id ("fe80::1%eth0") keeps its "%": the module library escapes it for systemd.
    .regex(/^[A-Za-z0-9._:%-]*$/, {
      message: 'listen is an IP address or host name, IPv6 without brackets (e.g. "127.0.0.1", "::1", "fe80::1%eth0")',
    })
    .default("127.0.0.1")
    .meta({ description: "Listen address" }),
  port: z.number().int().min(1).max(65535),
  // An absolute path on the target host; it is never copied into the Nix store.
  apiKeyFile: absoluteFilePath("apiKeyFile", "/run/secrets/coder-key").optional(),
  acceptUnsupported: z
    .boolean()
    .default(false)
    .meta({ description: "Build a combination hwflake knows to be unsupported instead of refusing it" }),
  parallel: z
    .enum(PARALLEL_MODES)
    .default("auto")
    .meta({
      description:
        "CPU instances on several NUMA nodes: data (one server per node behind nginx, for throughput), " +
        "tensor (one server across the nodes: vLLM -tp, llama.cpp --numa distribute, for models larger than one node), " +
        "auto (data unless the model does not fit one node's memory)",
    }),
  modelSizeGiB: z
    .number()
    .positive()
    .optional()
    .meta({ description: "Memory the model's weights take, GiB; decides parallel: auto and sizes the CPU KV cache. Absent means unknown" }),
  pins: z
    .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: "pins keys are Python package names such as \"jax\" or \"libtpu\"" }), z.string().regex(/^\d+(\.\d+)*([a-z0-9.+-]*)$/, { message: 'pins values are exact versions such as "0.7.2"' }))
    .optional()
    .meta({
      description:
        'Exact Python package versions for the engine\'s own set (TPU, Spyre), e.g. { jax: "0.7.2", libtpu: "0.0.23" }: hwflake picks the newest known-good release that has them, or refuses with the reason',
    }),
  spyre: z
    .strictObject({
      backend: z
        .enum(["sendnn", "eager", "inductor"])
        .default("sendnn")
        .meta({ description: "VLLM_SPYRE_DYNAMO_BACKEND: sendnn compiles for the cards (needs torch_sendnn); eager and inductor run on the CPU, for tests" }),
      warmup: z
        .strictObject({
          promptLens: z.array(z.number().int().positive()).min(1).optional(),
          newTokens: z.array(z.number().int().positive()).min(1).optional(),
          batchSizes: z.array(z.number().int().positive()).min(1).optional(),
        })
        .optional()
        .meta({ description: "Shapes compiled at start (VLLM_SPYRE_WARMUP_*); absent means vllm-spyre's defaults" }),
      torchSendnn: absoluteFilePath("spyre.torchSendnn", "/srv/wheels/torch_sendnn-….whl")
        .optional()
        .meta({ description: "IBM's torch_sendnn wheel (not public; from the ibm-aiu base image), needed for backend sendnn" }),
      torchSendnnSha256: z.string().optional().meta({ description: "sha256 of that wheel (nix hash file --type sha256 <file>)" }),
    })
    .optional()
    .meta({ description: "IBM Spyre options: compile backend, warm-up shapes, IBM's torch_sendnn" }),
});

/** The whole profile. */
export const ProfileSchema = z
  .strictObject({
    $schema: safeString("$schema", MAX_PATH_LENGTH).optional(),
    version: z.literal(PROFILE_VERSION).meta({ description: "Profile format version" }),
    host: z.string().regex(HOSTNAME_RE, {
      message: "host is a host name: letters, digits and '-', at most 63 characters",
    }),
    system: z.enum(NIX_SYSTEMS).optional().meta({ description: "Nix system double; absent means unknown" }),
    os: OsSchema.optional(),
    cpu: CpuSchema.default({}),
    memory: MemorySchema.optional(),
    accelerators: z.array(AcceleratorSchema).max(MAX_ENTRIES).default([]),
    serve: z.array(ServeSchema).max(MAX_ENTRIES).default([]),
    wheels: z
      .record(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][A-Za-z0-9.+-]*$/, { message: 'wheels keys are "package==version", e.g. "libtpu==0.0.23"' }),
        z.strictObject({
          url: safeString("wheels.<key>.url", 2048).regex(/^https:\/\/\S+$/, { message: "wheels.<key>.url is the https URL of the wheel file" }),
          sha256: z.string().regex(/^(sha256-[A-Za-z0-9+/]{43}=|[0-9a-f]{64})$/, { message: "wheels.<key>.sha256 is 64 hex digits or an SRI sha256-… hash" }),
        }),
      )
      .optional()
      .meta({ description: "URL and sha256 of pinned Python wheels hwflake has no public record of; the plan prints the command that gives them" }),
  })
  .meta({ title: "hwflake hardware profile", description: "A host's hardware and the inference servers to run on it" });

/** A parsed, validated profile. */
export type Profile = z.output<typeof ProfileSchema>;
/** A profile as written by hand (defaults not yet applied). */
export type ProfileInput = z.input<typeof ProfileSchema>;
/** Any accelerator entry. */
export type Accelerator = Profile["accelerators"][number];
/** One serve entry after defaults. */
export type Serve = Profile["serve"][number];
/** An engine a serve entry may name. */
export type EngineChoice = (typeof ENGINES)[number];
