/**
 * Small, sourced tables that turn what the hardware reports into names the rest of hwflake uses.
 * Every table says where it comes from; an entry is here only when the source states it, so a
 * lookup that misses means "unknown", never a guess.
 */

/**
 * x86-64 micro-architecture levels, in /proc/cpuinfo spelling.
 * Source: System V ABI, AMD64 Architecture Processor Supplement (x86-64 psABI,
 * https://gitlab.com/x86-psABIs/x86-64-ABI), section 3.1.1 "Micro-architecture levels":
 *   v2: CMPXCHG16B LAHF-SAHF POPCNT SSE3 SSE4_1 SSE4_2 SSSE3
 *   v3: AVX AVX2 BMI1 BMI2 F16C FMA LZCNT MOVBE OSXSAVE
 *   v4: AVX512F AVX512BW AVX512CD AVX512DQ AVX512VL
 * The kernel spells SSE3 "pni", LAHF-SAHF "lahf_lm", CMPXCHG16B "cx16", LZCNT "abm" (AMD's name
 * for the ABM group, which the kernel also sets on Intel CPUs with LZCNT), and shows OSXSAVE as
 * "xsave" (it hides "osxsave", a flag that changes at run time).
 */
export const X86_LEVEL_FLAGS = {
  "x86-64-v2": ["cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"],
  "x86-64-v3": ["avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"],
  "x86-64-v4": ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"],
} as const;

/** An x86-64 level name usable as gcc -march. */
export type X86Level = "x86-64" | "x86-64-v2" | "x86-64-v3" | "x86-64-v4";

const LEVEL_ORDER: readonly X86Level[] = ["x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4"];

/** The highest psABI level whose flags (and all lower levels' flags) are all present. */
export function x86Level(flags: readonly string[]): X86Level {
  // A profile's flag list is immutable and asked about several times per plan.
  const known = levelOf.get(flags);
  if (known) return known;
  let level: X86Level = "x86-64";
  for (const l of ["x86-64-v2", "x86-64-v3", "x86-64-v4"] as const) {
    if (X86_LEVEL_FLAGS[l].every((f) => flags.includes(f))) level = l;
    else break;
  }
  levelOf.set(flags, level);
  return level;
}

const levelOf = new WeakMap<readonly string[], X86Level>();

/** Flags of `level` (and below) missing from `flags`, for messages. */
export function missingForLevel(flags: readonly string[], level: X86Level): string[] {
  const have = new Set(flags);
  const need = LEVEL_ORDER.slice(1, LEVEL_ORDER.indexOf(level) + 1).flatMap((l) => [...X86_LEVEL_FLAGS[l as Exclude<X86Level, "x86-64">]]);
  return need.filter((f) => !have.has(f));
}

/** True when level a is at least level b. */
export function levelAtLeast(a: X86Level, b: X86Level): boolean {
  return LEVEL_ORDER.indexOf(a) >= LEVEL_ORDER.indexOf(b);
}

/**
 * The psABI level each gcc x86 arch name needs, so a family/model match can be checked against
 * the flags the kernel shows (a VM may mask AVX-512; an old kernel may not know newer flags).
 * Levels follow the ISA of each arch in nixpkgs lib/systems/architectures.nix `features`
 * (haswell: avx2 fma = v3; skylake-avx512 and later server parts: avx512 = v4; znver4/5: avx512).
 */
export const ARCH_MIN_LEVEL: Readonly<Record<string, X86Level>> = {
  nehalem: "x86-64-v2",
  westmere: "x86-64-v2",
  sandybridge: "x86-64-v2",
  ivybridge: "x86-64-v2",
  haswell: "x86-64-v3",
  broadwell: "x86-64-v3",
  skylake: "x86-64-v3",
  "skylake-avx512": "x86-64-v4",
  cascadelake: "x86-64-v4",
  cooperlake: "x86-64-v4",
  cannonlake: "x86-64-v4",
  "icelake-client": "x86-64-v4",
  "icelake-server": "x86-64-v4",
  tigerlake: "x86-64-v4",
  rocketlake: "x86-64-v4",
  alderlake: "x86-64-v3",
  sapphirerapids: "x86-64-v4",
  graniterapids: "x86-64-v4",
  "graniterapids-d": "x86-64-v4",
  sierraforest: "x86-64-v3",
  znver1: "x86-64-v3",
  znver2: "x86-64-v3",
  znver3: "x86-64-v3",
  znver4: "x86-64-v4",
  znver5: "x86-64-v4",
};

/**
 * Intel family 6 model → gcc arch, for models gcc names without looking at feature bits.
 * Source: gcc `gcc/common/config/i386/cpuinfo.h`, get_intel_cpu() (gcc-mirror/gcc @
 * f775bb892cb75616bd947ce76c7fdfdc515cbcfd). Model 0x55 (Skylake-SP/Cascade Lake/Cooper Lake)
 * depends on flags and is handled in {@link gccArchX86}.
 */
export const INTEL_FAMILY6: Readonly<Record<number, string>> = {
  0x1a: "nehalem", 0x1e: "nehalem", 0x1f: "nehalem", 0x2e: "nehalem",
  0x25: "westmere", 0x2c: "westmere", 0x2f: "westmere",
  0x2a: "sandybridge", 0x2d: "sandybridge",
  0x3a: "ivybridge", 0x3e: "ivybridge",
  0x3c: "haswell", 0x3f: "haswell", 0x45: "haswell", 0x46: "haswell",
  0x3d: "broadwell", 0x47: "broadwell", 0x4f: "broadwell", 0x56: "broadwell",
  0x4e: "skylake", 0x5e: "skylake", 0x8e: "skylake", 0x9e: "skylake", 0xa5: "skylake", 0xa6: "skylake",
  0x66: "cannonlake",
  0x6a: "icelake-server", 0x6c: "icelake-server",
  0x7d: "icelake-client", 0x7e: "icelake-client", 0x9d: "icelake-client",
  0x8c: "tigerlake", 0x8d: "tigerlake",
  0xa7: "rocketlake",
  0x97: "alderlake", 0x9a: "alderlake", 0xbe: "alderlake", 0xb7: "alderlake", 0xba: "alderlake",
  0xbf: "alderlake", 0xaa: "alderlake", 0xac: "alderlake",
  // gcc maps Emerald Rapids (0xcf) to sapphirerapids too: same ISA.
  0x8f: "sapphirerapids", 0xcf: "sapphirerapids",
  0xaf: "sierraforest",
  0xad: "graniterapids",
  0xae: "graniterapids-d",
};

/**
 * gcc arch for an x86 CPU from vendor, family, model and (where gcc itself looks at them) flags.
 * Sources: gcc `gcc/common/config/i386/cpuinfo.h` get_amd_cpu() / get_intel_cpu()
 * (gcc-mirror/gcc @ f775bb892cb75616bd947ce76c7fdfdc515cbcfd):
 *   AMD 0x17: model <= 0x1f znver1, >= 0x30 znver2, between: clwb → znver2, clzero → znver1.
 *   AMD 0x19: model <= 0x0f znver3; 0x10-0x1f and 0x60-0xaf znver4; otherwise avx512f → znver4,
 *             vaes → znver3.
 *   AMD 0x1a: model <= 0x77 znver5; otherwise avx512_vp2intersect → znver5.
 *   Intel family 6: {@link INTEL_FAMILY6}; model 0x55: avx512_bf16 → cooperlake,
 *             avx512_vnni → cascadelake, else skylake-avx512.
 * Returns undefined when gcc would not name the CPU either.
 */
export function gccArchX86(vendor: "amd" | "intel", family: number, model: number, flags: readonly string[] | undefined): string | undefined {
  const has = (f: string) => flags?.includes(f) ?? false;
  if (vendor === "amd") {
    if (family === 0x17) {
      if (model <= 0x1f) return "znver1";
      if (model >= 0x30) return "znver2";
      if (has("clwb")) return "znver2";
      if (has("clzero")) return "znver1";
      return undefined;
    }
    if (family === 0x19) {
      if (model <= 0x0f) return "znver3";
      if ((model >= 0x10 && model <= 0x1f) || (model >= 0x60 && model <= 0xaf)) return "znver4";
      if (has("avx512f")) return "znver4";
      if (has("vaes")) return "znver3";
      return undefined;
    }
    if (family === 0x1a) {
      if (model <= 0x77) return "znver5";
      if (has("avx512_vp2intersect")) return "znver5";
      return undefined;
    }
    return undefined;
  }
  if (family !== 6) return undefined;
  if (model === 0x55) {
    if (flags === undefined) return undefined;
    if (has("avx512_bf16")) return "cooperlake";
    if (has("avx512_vnni")) return "cascadelake";
    return "skylake-avx512";
  }
  return INTEL_FAMILY6[model];
}

/**
 * Arm cores by (implementer, part) as /proc/cpuinfo prints them, → gcc -mcpu name.
 * Source: gcc `gcc/config/aarch64/aarch64-cores.def` (gcc-mirror/gcc @
 * 00c22ba69d8e738a4789b30165ff9c925c508fc1): AARCH64_CORE(name, ..., IMP, PART, VARIANT).
 */
export const ARM_CORES: ReadonlyArray<{ implementer: number; part: number; gcc: string }> = [
  { implementer: 0x41, part: 0xd08, gcc: "cortex-a72" },
  { implementer: 0x41, part: 0xd0b, gcc: "cortex-a76" },
  { implementer: 0x41, part: 0xd0c, gcc: "neoverse-n1" },
  { implementer: 0x41, part: 0xd40, gcc: "neoverse-v1" },
  { implementer: 0x41, part: 0xd49, gcc: "neoverse-n2" },
  { implementer: 0x41, part: 0xd4f, gcc: "neoverse-v2" },
  { implementer: 0x46, part: 0x001, gcc: "a64fx" },
  { implementer: 0x48, part: 0xd01, gcc: "tsv110" },
  { implementer: 0xc0, part: 0xac3, gcc: "ampere1" },
];

/** gcc -mcpu name for an Arm core, or undefined when not in {@link ARM_CORES}. */
export function gccArchArm(implementer: number, part: number): string | undefined {
  return ARM_CORES.find((c) => c.implementer === implementer && c.part === part)?.gcc;
}

/**
 * Arm implementers (MIDR_EL1 bits 31:24, "CPU implementer" in /proc/cpuinfo) → profile vendor.
 * Sources: Linux arch/arm64/include/asm/cputype.h ARM_CPU_IMP_* (torvalds/linux; MICROSOFT 0x6D
 * added for Azure Cobalt 100) and util-linux sys-utils/lscpu-arm.c hw_implementer[]
 * (util-linux @ 01e2697a: 0x70 Phytium). 0x41 is Arm Ltd. itself: its Cortex and Neoverse cores
 * are what AWS Graviton, NVIDIA Grace and Ampere Altra ship, so those report "arm".
 */
export const ARM_IMPLEMENTERS: Readonly<Record<number, string>> = {
  0x41: "arm",
  0x42: "broadcom",
  0x43: "cavium",
  0x46: "fujitsu",
  0x48: "hisilicon",
  0x4e: "nvidia",
  0x50: "apm",
  0x51: "qualcomm",
  0x56: "marvell",
  0x61: "apple",
  0x6d: "microsoft",
  0x70: "phytium",
  0xc0: "ampere",
};

/**
 * Power ISA version by POWER generation, and whether it has VSX. VSX arrived with POWER7 (Power
 * ISA 2.06); POWER8 implements 2.07, POWER9 3.0, POWER10 3.1 (IBM Power ISA books; gcc's
 * rs6000 -mcpu=power7..power10 enable -mvsx and the matching ISA level).
 */
export const POWER_ISA: Readonly<Record<number, "2.06" | "2.07" | "3.0" | "3.1">> = { 7: "2.06", 8: "2.07", 9: "3.0", 10: "3.1" };

/**
 * gcc -mcpu name for a POWER generation from the cpuinfo "cpu : POWER9 ..." line. gcc's rs6000
 * -mcpu names are power7, power8, power9 and power10 (gcc/config/rs6000/rs6000-cpus.def).
 */
export function gccArchPower(generation: number): string | undefined {
  return generation >= 7 && generation <= 10 ? `power${generation}` : undefined;
}

/**
 * CUDA compute capability by NVIDIA model name, for when nvidia-smi does not print it.
 * Source: NVIDIA "CUDA GPU Compute Capability" https://developer.nvidia.com/cuda-gpus and
 * "Legacy CUDA GPU Compute Capability" https://developer.nvidia.com/cuda-legacy-gpus
 * (read 2026 through the stored docs corpus). Patterns are matched against the full model name
 * with the "NVIDIA"/"Tesla"/"GeForce"/"Quadro" brand kept; order matters (first match wins).
 */
export const NVIDIA_COMPUTE_CAPABILITY: ReadonlyArray<{ pattern: RegExp; cc: string; example: string }> = [
  { pattern: /\bGH200\b/, cc: "9.0", example: "NVIDIA GH200 480GB" },
  { pattern: /\bH(100|200)\b/, cc: "9.0", example: "NVIDIA H100 80GB HBM3" },
  { pattern: /\bB200\b/, cc: "10.0", example: "NVIDIA B200" },
  { pattern: /\bL40S?\b/, cc: "8.9", example: "NVIDIA L40S" },
  { pattern: /\bL4\b/, cc: "8.9", example: "NVIDIA L4" },
  { pattern: /\bRTX (6000|5000|4500|4000|2000) Ada\b/, cc: "8.9", example: "NVIDIA RTX 6000 Ada Generation" },
  { pattern: /\bRTX 40[5-9]0\b/, cc: "8.9", example: "NVIDIA GeForce RTX 4090" },
  { pattern: /\bA100\b/, cc: "8.0", example: "NVIDIA A100-SXM4-80GB" },
  { pattern: /\bA30\b/, cc: "8.0", example: "NVIDIA A30" },
  { pattern: /\bA(10|10G|16|2|40)\b/, cc: "8.6", example: "NVIDIA A10G" },
  { pattern: /\bRTX A(2000|3000|4000|5000|6000)\b/, cc: "8.6", example: "NVIDIA RTX A6000" },
  { pattern: /\bRTX 30[5-9]0\b/, cc: "8.6", example: "NVIDIA GeForce RTX 3090" },
  { pattern: /\bT4\b/, cc: "7.5", example: "Tesla T4" },
  { pattern: /\bQuadro RTX (4000|5000|6000|8000)\b/, cc: "7.5", example: "Quadro RTX 8000" },
  { pattern: /\bRTX 20[6-8]0\b/, cc: "7.5", example: "NVIDIA GeForce RTX 2080 Ti" },
  { pattern: /\bV100\b/, cc: "7.0", example: "Tesla V100-SXM2-16GB" },
  { pattern: /\bP100\b/, cc: "6.0", example: "Tesla P100-PCIE-16GB" },
  { pattern: /\bP(40|4)\b/, cc: "6.1", example: "Tesla P40" },
];

/** Compute capability for a full (not truncated) NVIDIA model name, or undefined. */
export function nvidiaComputeCapability(model: string): string | undefined {
  return NVIDIA_COMPUTE_CAPABILITY.find((e) => e.pattern.test(model))?.cc;
}

/** PCI vendor ids. Google: 0x1ae0; IBM: 0x1014; AMD/ATI: 0x1002; NVIDIA: 0x10de (pci.ids). */
export const PCI_VENDOR = { google: "1ae0", ibm: "1014", amd: "1002", nvidia: "10de" } as const;

/**
 * Google TPU chips by PCI device id (vendor 0x1ae0).
 * Sources: google/cloud-accelerator-diagnostics (AI-Hypercomputer/cloud-accelerator-diagnostics)
 * `tpu_info/tpu_info/device.py` TpuChip.from_pci_device_id @ 2cbfaa9d228bf76874ed1a83e2b10f11ff8e4178
 * (0x005e v4, 0x0063 v5e, 0x0062 v5p, 0x006f v6e, 0x0076 v7x; 0x0027 is v2 or v3, told apart only
 * by the subsystem id 0x004e / 0x004f, which `lspci -nn` does not print), confirmed for v4/v5e/v5p
 * by google/gvisor `pkg/abi/tpu/tpu.go` (TPUV4DeviceID 0x005E, TPUV5eDeviceID 0x0063,
 * TPUV5pDeviceID 0x0062).
 */
export const TPU_DEVICE_IDS: Readonly<Record<string, "v4" | "v5e" | "v5p" | "v6e" | "v7x">> = {
  "005e": "v4",
  "0063": "v5e",
  "0062": "v5p",
  "006f": "v6e",
  "0076": "v7x",
};

/** The PCI device id TPU v2 and v3 share (needs the subsystem id to tell apart). */
export const TPU_V2_V3_DEVICE_ID = "0027";

/**
 * IBM Spyre AIU cards: vendor 0x1014 (IBM), device 0x06a7 or 0x06a8.
 * Sources: sosreport/sos `sos/report/plugins/spyre.py` @ 7be5290cff26e635c2540ac906007b2f35181c44
 * ("Vendor ID = 0x1014 (IBM) - Device ID = 0x06a7 or 0x06a8"), and IBM's ServiceReport
 * `servicereportpkg/validate/plugins/spyre.py` (spyre_device_ids = ["0x06a7", "0x06a8"]).
 */
export const SPYRE_DEVICE_IDS: readonly string[] = ["06a7", "06a8"];
