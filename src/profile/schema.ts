/**
 * The hardware profile: the public, documented input format of hwflake (version 1).
 *
 * Every object is strict, so a misspelled key is an error instead of being dropped silently.
 * Fields that detection may not be able to see are optional: absent means "unknown", never
 * "none" (an empty `flags` list means "known to have no flags", an absent one "not known").
 */
import { z } from "zod";

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

const id = (what: string) =>
  z
    .string()
    .regex(ID_RE, {
      message: `${what} must start with a lower-case letter and use only a-z, 0-9 and '-' (e.g. "mi50", "coder")`,
    });

/** CPU ISA flag in /proc/cpuinfo spelling (lower case: avx2, avx512f, asimd, vsx ...). */
const cpuFlag = z.string().regex(/^[a-z0-9_.]+$/, {
  message: 'CPU flags use /proc/cpuinfo spelling: lower case, digits, "_" (e.g. "avx2", "avx512_bf16")',
});

/**
 * A cpulist of hardware threads that share one physical core ("0,24"; "5" for a core without SMT).
 * Listing these per NUMA node lets a planner take one thread per core without crossing a node.
 */
const coreSiblings = z.string().regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, {
  message: 'siblings entries are cpulists of the threads of one core, e.g. "0,24"',
});

/** One NUMA node with the CPUs that belong to it. */
export const NumaNodeSchema = z
  .strictObject({
    id: z.number().int().nonnegative().meta({ description: "NUMA node number (node<N> in sysfs)" }),
    cpus: z
      .string()
      .regex(CPULIST_RE, {
        message: 'cpus is a Linux cpulist such as "0-11,24-35" ("" for a memory-only node)',
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
    model: z.string().min(1).optional().meta({ description: "Model name as the kernel prints it" }),
    arch: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.+-]*$/, { message: 'arch is a gcc -march/-mcpu name such as "znver2" or "power9"' })
      .optional()
      .meta({ description: 'gcc architecture name when it is known for certain ("znver2", "sapphirerapids", "power9")' }),
    flags: z
      .array(cpuFlag)
      .optional()
      .meta({ description: "ISA flags in /proc/cpuinfo spelling; absent means unknown" }),
    sockets: z.number().int().positive().optional(),
    coresPerSocket: z.number().int().positive().optional(),
    threadsPerCore: z.number().int().positive().optional(),
    powerIsa: z
      .enum(["2.06", "2.07", "3.0", "3.1"])
      .optional()
      .meta({ description: "Power ISA version, derived from the POWER generation (POWER7 2.06, POWER8 2.07, POWER9 3.0, POWER10 3.1)" }),
    numa: z.array(NumaNodeSchema).optional().meta({ description: "NUMA nodes; absent means unknown" }),
  })
  .meta({ description: "The host CPU" });

/** Installed memory. */
export const MemorySchema = z.strictObject({
  totalMiB: z.number().int().positive().meta({ description: "Total memory in MiB (MemTotal)" }),
});

const acceleratorCommon = {
  id: id("accelerator id").meta({ description: "Name that serve entries use in `on`" }),
  model: z.string().min(1).optional().meta({ description: "Marketing name, e.g. AMD Instinct MI50" }),
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

/** Google TPU (one host's chips). */
export const TpuSchema = z.strictObject({
  kind: z.literal("tpu"),
  vendor: z.literal("google"),
  ...acceleratorCommon,
  arch: z
    .enum(["v2", "v3", "v4", "v5e", "v5p", "v6e", "v7x"])
    .meta({ description: "TPU generation" }),
  chips: z.number().int().positive().optional(),
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
    file: z.string().regex(/^\//, { message: "gguf.file is an absolute path on the target host" }),
  }),
  z.strictObject({
    repo: z
      .string()
      .regex(/^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)?$/, {
        message: 'gguf.repo is a Hugging Face GGUF repo, optionally with a quant tag: "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF:Q4_K_M"',
      }),
  }),
]);

/** Engines a serve entry may ask for. */
export const ENGINES = ["auto", "vllm", "llama-cpp", "ollama"] as const;

/** One OpenAI-compatible server to run. */
export const ServeSchema = z.strictObject({
  name: id("serve name").meta({ description: "Instance name (systemd unit hwflake-<name>)" }),
  model: z.string().min(1).meta({ description: "Hugging Face model id, or an absolute path on the target" }),
  gguf: GgufSchema.optional().meta({
    description: "GGUF form of the model, needed when the instance runs on llama.cpp",
  }),
  engine: z.enum(ENGINES).default("auto"),
  on: z
    .array(id("accelerator id"))
    .default([])
    .meta({ description: "Accelerator ids to run on; empty for the CPU" }),
  listen: z.string().min(1).default("127.0.0.1").meta({ description: "Listen address" }),
  port: z.number().int().min(1).max(65535),
  apiKeyFile: z
    .string()
    .regex(/^\//, { message: "apiKeyFile is an absolute path on the target host (it is never copied into the Nix store)" })
    .optional(),
  acceptUnsupported: z
    .boolean()
    .default(false)
    .meta({ description: "Build a combination hwflake knows to be unsupported instead of refusing it" }),
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
      torchSendnn: z
        .string()
        .regex(/^\//, { message: "spyre.torchSendnn is an absolute path to IBM's torch_sendnn wheel on the build machine" })
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
    $schema: z.string().optional(),
    version: z.literal(PROFILE_VERSION).meta({ description: "Profile format version" }),
    host: z.string().regex(HOSTNAME_RE, {
      message: "host is a host name: letters, digits and '-', at most 63 characters",
    }),
    system: z.enum(NIX_SYSTEMS).optional().meta({ description: "Nix system double; absent means unknown" }),
    cpu: CpuSchema.default({}),
    memory: MemorySchema.optional(),
    accelerators: z.array(AcceleratorSchema).default([]),
    serve: z.array(ServeSchema).default([]),
    wheels: z
      .record(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][A-Za-z0-9.+-]*$/, { message: 'wheels keys are "package==version", e.g. "libtpu==0.0.23"' }),
        z.strictObject({
          url: z.string().regex(/^https:\/\//, { message: "wheels.<key>.url is the https URL of the wheel file" }),
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
