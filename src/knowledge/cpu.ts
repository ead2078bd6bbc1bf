/** CPU ISA knowledge: x86-64 levels, the flags engines care about, and engine CPU support. */
import type { Profile } from "../profile/schema.js";
import type { Engine } from "../plan/types.js";
import { SRC } from "./sources.js";
import { verdict, type Verdict } from "./types.js";
import { X86_LEVEL_FLAGS, x86Level } from "./identify.js";

/** Flags the engines' builds branch on (x86, Arm, POWER), in /proc/cpuinfo spelling. */
export const ENGINE_FLAGS = [
  "sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
  "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8", "avx_vnni",
  "asimd", "asimddp", "sve", "sve2", "bf16", "i8mm", "fphp", "asimdhp",
  "vsx", "altivec",
] as const;

/**
 * Prefixes of the ISA-extension families whose spelling hwflake checks: a misspelled flag there
 * (e.g. "avx512bf16") would silently read as "absent" and change a build decision. Other
 * /proc/cpuinfo flags (hundreds, kernel-version dependent) are passed through unchecked.
 */
export const CHECKED_FLAG_RE = /^(avx|amx|sse|ssse|sve|asimd|vsx|fma|f16c|bf16|i8mm)/;

/** Every spelling Linux prints in the checked families (arch/x86/include/asm/cpufeatures.h, arm64 hwcaps). */
export const KNOWN_CPU_FLAGS: ReadonlySet<string> = new Set<string>([
  ...ENGINE_FLAGS,
  ...Object.values(X86_LEVEL_FLAGS).flat(),
  "sse", "sse2", "sse3", "ssse3", "sse4a", "sse4_1", "sse4_2", "fma4",
  "avx512cd", "avx512dq", "avx512er", "avx512pf", "avx512ifma", "avx512vbmi", "avx512_vbmi2",
  "avx512_bitalg", "avx512_vpopcntdq", "avx512_4vnniw", "avx512_4fmaps", "avx512_vp2intersect",
  "avx512_fp16", "avx_vnni_int8", "avx_ifma", "avx_ne_convert", "avx_vnni_int16", "avx10",
  "amx_fp16", "amx_complex", "amx_fp8", "amx_tf32", "amx_transpose", "amx_avx512", "amx_movrs",
  "asimdrdm", "asimdfhm", "svei8mm", "svebf16", "sveaes", "svepmull", "svebitperm", "svesha3",
  "svesm4", "svef32mm", "svef64mm", "sve2p1", "svebf16", "sveb16b16",
]);

/** The x86-64 psABI level number (1..4) the flags prove, or null when flags are unknown. */
export function x86LevelNumber(flags: readonly string[] | undefined): number | null {
  if (!flags) return null;
  const name = x86Level(flags);
  return name === "x86-64" ? 1 : Number(name.slice("x86-64-v".length));
}

/** POWER ISA generation from cpu.arch ("power8", "power9", "power10"), or null. */
export function powerLevel(cpu: Profile["cpu"]): number | null {
  const m = /^power(\d+)$/.exec(cpu.arch ?? "");
  if (m) return Number(m[1]);
  const model = /POWER\s*(\d+)/i.exec(cpu.model ?? "");
  return model ? Number(model[1]) : null;
}


/** Whether `engine` can serve on this host's CPU. */
export function cpuSupport(system: Profile["system"], cpu: Profile["cpu"], engine: Engine): Verdict {
  const flags = cpu.flags;
  if (engine === "llama-cpp") {
    return verdict(
      "supported",
      "llama.cpp is built with every CPU variant (GGML_CPU_ALL_VARIANTS) and picks the best one for this CPU at start, so no instruction the CPU lacks is ever executed",
      SRC.nixpkgsLlamaCpp, SRC.ggmlAllVariants,
    );
  }
  if (engine === "ollama") {
    return system === "powerpc64le-linux"
      ? verdict("unsupported", "Ollama builds only for amd64 and arm64", SRC.ollamaArch)
      : verdict("supported", "Ollama's CPU runner is built with every CPU variant and picks one at start", SRC.ollamaArch);
  }
  if (system === "x86_64-linux") {
    if (!flags) return verdict("experimental", "CPU flags unknown: vLLM's CPU backend needs AVX2 at least; add cpu.flags to the profile", SRC.vllmCpuCmake);
    if (!flags.includes("avx2"))
      return verdict("unsupported", "vLLM's CPU backend needs AVX2 (it ships no pre-AVX2 kernels); this CPU has none", SRC.vllmCpuCmake);
    return verdict(
      "supported",
      flags.includes("avx512f")
        ? "vLLM builds its AVX2, AVX-512 and AVX-512+AMX kernels and picks the AVX-512 ones on this CPU"
        : "vLLM builds its AVX2, AVX-512 and AVX-512+AMX kernels and picks the AVX2 ones at start on this CPU (no AVX-512)",
      SRC.vllmCpuCmake,
    );
  }
  if (system === "powerpc64le-linux") {
    const p = powerLevel(cpu);
    if (p === null) return verdict("experimental", "POWER generation unknown: vLLM's CPU backend needs POWER9 or newer; set cpu.arch", SRC.vllmPower8);
    if (p < 9)
      return verdict(
        "unsupported",
        `vLLM's CPU backend needs POWER9 or newer; POWER${p} fails at CMake configure, and upstream declined POWER8 ports` +
          (p === 8
            ? ". Seed 000's own path on a POWER8 S824 (a torch 2.4 source build with a VSX header patch in vec256.h, plus ten patches to vLLM) got vLLM to import and load a model, but its C extension still lacks cpu_attention_with_kv_cache, so it cannot serve; the seed itself falls back to llama.cpp, which has POWER8 VSX kernels"
            : ""),
        SRC.vllmPower8,
        ...(p === 8 ? [SRC.seedPower8] : []),
      );
    return verdict("supported", `vLLM's CPU backend builds VSX kernels for POWER${p}`, SRC.vllmCpuCmake);
  }
  if (system === "aarch64-linux") {
    return verdict("supported", "vLLM's CPU backend builds NEON (ASIMD) kernels for Arm64", SRC.vllmCpuCmake);
  }
  return verdict("experimental", "system unknown", SRC.vllmCpuCmake);
}
