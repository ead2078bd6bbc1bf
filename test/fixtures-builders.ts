/** Fixture builders for profiles: small valid profiles with just the fields a test cares about. */
import { validateProfile, type Profile, type ProfileInput } from "../src/profile/index.js";

/** Flags of an AVX2-only x86 CPU (x86-64-v3, no AVX-512). */
export const AVX2_FLAGS = ["pni", "abm", "sse4_1", "sse4_2", "ssse3", "popcnt", "cx16", "lahf_lm", "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave"];
/** Flags of an AVX-512 x86 CPU. */
export const AVX512_FLAGS = [...AVX2_FLAGS, "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"];

/** A valid profile: an x86 host with AVX2, plus whatever `over` adds or replaces. */
export function makeProfile(over: Partial<ProfileInput> = {}): Profile {
  return validateProfile({
    version: 1,
    host: "test",
    system: "x86_64-linux",
    cpu: { vendor: "amd", flags: AVX2_FLAGS },
    ...over,
  });
}

/** An AMD GPU entry. */
export const amd = (id: string, arch: string, extra: Record<string, unknown> = {}) => ({ id, kind: "gpu", vendor: "amd", arch, ...extra }) as const;
/** An NVIDIA GPU entry. */
export const nvidia = (id: string, arch: string, extra: Record<string, unknown> = {}) => ({ id, kind: "gpu", vendor: "nvidia", arch, ...extra }) as const;
