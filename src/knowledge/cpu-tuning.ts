/**
 * How to run an inference server on CPU cores: threads per core, cores kept for the HTTP
 * frontend, KV-cache sizing, dtype and the ISA a build needs. Facts carry their sources; the
 * few numbers that are hwflake's own policy (headroom) say so in their reasons.
 */
import type { Profile } from "../profile/schema.js";
import type { Decision, Engine } from "../plan/types.js";
import { powerLevel } from "./cpu.js";
import { SRC } from "./sources.js";

type System = NonNullable<Profile["system"]>;
type Cpu = Profile["cpu"];

/**
 * Hardware threads of one core that compute threads use. One per core (SMT siblings share the
 * core's vector units, seed 004), except on POWER: vLLM's own auto binding takes the CPUs with
 * id % 8 < 4 (4 of SMT8), and seed 000 measured 64 threads beating 128 on 16 SMT8 cores.
 */
export function threadsPerCoreUsed(system: System, threadsPerCore: number): Decision<number> {
  if (system === "powerpc64le-linux" && threadsPerCore > 1) {
    const k = Math.max(1, Math.floor(threadsPerCore / 2));
    return {
      value: k,
      reason:
        `POWER: ${k} of the ${threadsPerCore} SMT threads of each core` +
        (threadsPerCore === 8
          ? " (vLLM's auto binding takes ids with id % 8 < 4; seed 000 measured 64 threads beating 128 on 16 SMT8 cores)"
          : " (half, as measured on SMT8 by seed 000 and used by vLLM's POWER auto binding; not measured for this SMT mode)"),
      sources: [SRC.vllmCpuAutobind, SRC.seedPower8],
    };
  }
  return {
    value: 1,
    reason: "one thread per physical core: SMT siblings share the core's vector units, so they are left out",
    sources: [SRC.vllmCpuTips, SRC.vllmCpuAutobind],
  };
}

/** Whole cores left to vLLM's HTTP frontend and tokenizer: seed 004 says 1–2 per instance. */
export function frontendCores(cores: number): Decision<number> {
  const n = cores <= 2 ? 0 : cores < 16 ? 1 : 2;
  return {
    value: n,
    reason:
      n === 0
        ? `only ${cores} core(s): none can be spared for the HTTP frontend`
        : `${n} of ${cores} cores left unbound for the HTTP frontend and tokenizer (seed 004: reserve 1–2 cores; hwflake takes 2 from 16 cores up)`,
    sources: [SRC.vllmCpuTips],
  };
}

/** GiB kept free on a node for the OS, the Python runtime and activations: hwflake's policy, 10 %, at least 4 GiB. */
export function headroomGiB(nodeGiB: number): number {
  return Math.max(4, Math.round(nodeGiB * 0.1 * 10) / 10);
}

const gib = (x: number) => `${Math.round(x * 10) / 10} GiB`;

/**
 * VLLM_CPU_KVCACHE_SPACE (whole GiB, per rank) for a rank whose node has `nodeGiB`, holding
 * `weightsGiB` of weights (null: unknown). Returns value 0 when nothing is left.
 */
export function kvCacheGiB(nodeGiB: number, weightsGiB: number | null, what: string): Decision<number> {
  const head = headroomGiB(nodeGiB);
  const left = nodeGiB - head;
  if (weightsGiB !== null) {
    const kv = Math.floor(left - weightsGiB);
    return {
      value: Math.max(0, kv),
      reason: `${what}: ${gib(nodeGiB)} − ${gib(head)} headroom (10 %, at least 4 GiB, for the OS, runtime and activations) − ${gib(weightsGiB)} of weights = ${gib(left - weightsGiB)}, rounded down to ${Math.max(0, kv)} GiB (vLLM's default would be 4 GiB)`,
      sources: [SRC.vllmCpuEnvs, SRC.vllmCpuTips],
    };
  }
  const kv = Math.floor(left / 2);
  return {
    value: Math.max(0, kv),
    reason: `${what}: (${gib(nodeGiB)} − ${gib(head)} headroom (10 %, at least 4 GiB)) / 2 = ${gib(left / 2)}, rounded down to ${Math.max(0, kv)} GiB; half, because the model's size is unknown and the other half is left for its weights (set serve[].modelSizeGiB to size it exactly)`,
    sources: [SRC.vllmCpuEnvs, SRC.vllmCpuTips],
  };
}

/** The dtype vLLM computes in on this CPU: bf16 only where the CPU has it natively. */
export function vllmCpuDtype(system: System, cpu: Cpu): Decision<string> | null {
  const flags = cpu.flags ?? [];
  const sources = [SRC.vllmCpuDtypes, SRC.vllmCpuDtype];
  if (system === "x86_64-linux") {
    if (!cpu.flags) return null;
    const bf16 = flags.filter((f) => f === "avx512_bf16" || f === "amx_bf16");
    return bf16.length
      ? { value: "bfloat16", reason: `this CPU computes bf16 natively (${bf16.join(", ")})`, sources }
      : { value: "float32", reason: "no AVX512_BF16 or AMX on this CPU: bf16 would be emulated, so vLLM computes in float32", sources };
  }
  if (system === "aarch64-linux") {
    if (!cpu.flags) return null;
    if (flags.includes("bf16")) return { value: "bfloat16", reason: "this Arm CPU has the bf16 extension", sources };
    if (flags.includes("asimdhp"))
      return { value: "float16", reason: "no bf16 on this Arm CPU; it has half-precision NEON arithmetic (asimdhp), which vLLM's Arm backend supports", sources };
    return { value: "float32", reason: "neither bf16 nor half-precision NEON (asimdhp) on this Arm CPU", sources };
  }
  const gen = powerLevel(cpu);
  if (gen !== null && gen >= 10)
    return { value: "bfloat16", reason: `POWER${gen} computes bf16 natively (Power ISA 3.1 MMA)`, sources: [...sources, SRC.seedPower8] };
  return {
    value: "float32",
    reason: `${gen === null ? "POWER" : `POWER${gen}`} has no native bf16 (seed 000: float32, bfloat16 not supported on POWER8); vLLM supports only bfloat16 and float32 on POWER`,
    sources: [...sources, SRC.seedPower8],
  };
}

/**
 * CPU features a unit's binary needs before it can run here, in the preflight's spelling, or
 * null when the build has none beyond the platform's baseline. llama.cpp and Ollama pick their
 * CPU code at start (GGML_CPU_ALL_VARIANTS), so only vLLM's CPU backend has a floor.
 */
export function requiredCpuFeatures(system: System, engine: Engine, onCpu: boolean): Decision<readonly string[]> | null {
  if (!onCpu || engine !== "vllm") return null;
  if (system === "x86_64-linux")
    return { value: ["avx2"], reason: "vLLM's CPU backend has no pre-AVX2 kernels", sources: [SRC.vllmCpuCmake, SRC.seedMi50] };
  if (system === "aarch64-linux")
    return { value: ["asimd"], reason: "vLLM's Arm CPU backend requires NEON (asimd)", sources: [SRC.vllmCpuTips, SRC.vllmCpuCmake] };
  return { value: ["vsx", "power9"], reason: "vLLM's POWER CPU backend builds VSX kernels for POWER9 or newer", sources: [SRC.vllmCpuCmake, SRC.vllmPower8] };
}

/**
 * Features of `required` the profile shows to be missing (unknown facts are not missing).
 * "powerN" is a POWER generation of at least N; "vsx" on POWER is POWER7 or newer.
 */
export function missingCpuFeatures(required: readonly string[], system: System, cpu: Cpu): string[] {
  const gen = system === "powerpc64le-linux" ? powerLevel(cpu) : null;
  return required.filter((f) => {
    const power = /^power(\d+)$/.exec(f);
    if (power) return gen !== null && gen < Number(power[1]);
    if (f === "vsx" && system === "powerpc64le-linux") return gen !== null ? gen < 7 : !!cpu.flags && !cpu.flags.includes("vsx");
    return !!cpu.flags && !cpu.flags.includes(f);
  });
}
