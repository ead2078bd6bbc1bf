/**
 * What vLLM on TPU is made of, release by release: each tpu-inference tag (vllm-tpu carries the
 * same version and pins tpu-inference==X) with the exact jax/jaxlib/libtpu/torchax/flax/qwix/
 * tpu-info pins of its requirements.txt, the TPU generations it serves, and the Python it needs.
 * Plus the rules behind seed 002's two deadlocks (torch_xla's libtpu pin, JAX Pallas' libtpu
 * age cutoff). Every row names the file and commit it was read from (/work/facts-tpu-spyre.md).
 */
import type { Source } from "../../../plan/types.js";

const s = (ref: string, note?: string): Source => (note ? { ref, note } : { ref });

export const TPU_SRC = {
  requirements: (tag: string, commit: string) =>
    s(`vllm-project/tpu-inference requirements.txt @ ${tag} (${commit})`, "exact pins: jax, jaxlib, libtpu, torchax, flax, qwix, tpu-info"),
  quickstartV0111: s(
    "vllm-project/tpu-inference docs/getting_started/quickstart.md @ v0.11.1",
    "\"vLLM supports TPU v6e and v5e.\"; Python 3.11 or newer",
  ),
  readme018: s(
    "vllm-project/tpu-inference README.md @ v0.18.0 … v0.27.0",
    "\"Recommended: v7x, v5e, v6e\" / \"Experimental: v3, v4, v5p\"",
  ),
  vllmTpuBuild: s(
    "vllm-project/vllm tools/vllm-tpu/build.sh @ 4652ef5d; vllm-project/tpu-inference .buildkite/scripts/build_vllm_tpu.sh @ b8692ff0",
    "vllm-tpu is vLLM built with VLLM_TARGET_DEVICE=tpu and renamed; its requirements/tpu.txt pins tpu-inference==<version> (same number by convention)",
  ),
  jaxPython: s("jax-ml/jax setup.py @ jax-v0.11.0 (a1521744)", "python_requires='>=3.12' (>=3.11 for jax 0.7.0–0.10.2)"),
  torchXlaLibtpu: s(
    "pytorch/xla setup.py @ v2.8.1 (c17e4d37) lines 111–112, 470; @ v2.7.0 (d5871fc4); @ v2.9.0 (5fab7053)",
    "_libtpu_version: 2.7.0 → 0.0.11.1, 2.8.0/2.8.1 → 0.0.17 (_libtpu_date 20250617), 2.9.0 → 0.0.21 (20250813)",
  ),
  pjrtMismatch: s(
    "vllm-project/tpu-inference PR #1109 (7865eac8, 2025-11-14); google-deepmind/weathernext#185",
    "\"Unexpected PJRT_Plugin_Attributes_Args size: expected 32, got 24. The plugin is likely built with a later version than the framework.\"",
  ),
  pallasCutoff: s(
    "jax-ml/jax jax/_src/pallas/mosaic/lowering.py @ jax-v0.7.2 (~line 705), jax-v0.10.1",
    "is_cloud_tpu_older_than(2025, 8, 1) for jax 0.7.2–0.10.0, (2026, 4, 1) for 0.10.1–0.11.0: \"Pallas TPU requires a libtpu version that's at most a month old\"",
  ),
  noTorchXla: s(
    "jax-ml/jax#20148; vllm-project/tpu-inference PR #1109; vllm-project/vllm PR #30808",
    "torch_xla and JAX each load libtpu's PJRT plugin; an accidental torch_xla import in the JAX path crashed start-up; vLLM removed its torch_xla path",
  ),
  seed002: s("seed 002 (TPU v6e, vLLM 0.11.0)", "torch_xla 2.8.1 + libtpu 0.0.23: PJRT size mismatch; jax 0.7.2 + libtpu 0.0.17 (built Jun 12 2025): too old for Pallas; solved by separate engine and driver environments"),
} as const;

/** TPU generations hwflake knows (profile `arch`). */
export type TpuGeneration = "v2" | "v3" | "v4" | "v5e" | "v5p" | "v6e" | "v7x";

/** The Python packages a TPU release pins exactly, by PyPI project name. */
export const TPU_PINNED_PACKAGES = ["vllm-tpu", "tpu-inference", "jax", "jaxlib", "libtpu", "torchax", "flax", "qwix", "tpu-info"] as const;
export type TpuPinnedPackage = (typeof TPU_PINNED_PACKAGES)[number];

/** One tpu-inference / vllm-tpu release with its exact pins. */
export interface TpuRelease {
  /** tpu-inference version = vllm-tpu version. */
  readonly version: string;
  readonly tag: string;
  readonly commit: string;
  readonly date: string;
  readonly pins: { readonly [P in TpuPinnedPackage]: string };
  readonly recommended: readonly TpuGeneration[];
  readonly experimental: readonly TpuGeneration[];
  /** Lowest CPython minor the release runs on ("3.11"); hwflake builds the set with CPython 3.12. */
  readonly python: string;
  readonly sources: readonly Source[];
}

const REC_018: readonly TpuGeneration[] = ["v7x", "v5e", "v6e"];
const EXP_018: readonly TpuGeneration[] = ["v3", "v4", "v5p"];

function release(
  version: string,
  commit: string,
  date: string,
  p: { jax: string; libtpu: string; torchax: string; flax: string; qwix: string; tpuInfo: string },
  gens: { recommended: readonly TpuGeneration[]; experimental: readonly TpuGeneration[]; source: Source },
  python: string,
): TpuRelease {
  return {
    version,
    tag: `v${version}`,
    commit,
    date,
    pins: {
      "vllm-tpu": version,
      "tpu-inference": version,
      jax: p.jax,
      jaxlib: p.jax,
      libtpu: p.libtpu,
      torchax: p.torchax,
      flax: p.flax,
      qwix: p.qwix,
      "tpu-info": p.tpuInfo,
    },
    recommended: gens.recommended,
    experimental: gens.experimental,
    python,
    sources: [TPU_SRC.requirements(`v${version}`, commit), gens.source, TPU_SRC.vllmTpuBuild, ...(python === "3.12" ? [TPU_SRC.jaxPython] : [])],
  };
}

const gens018 = { recommended: REC_018, experimental: EXP_018, source: TPU_SRC.readme018 };

/**
 * Releases with exact pins, newest first. v0.12.0 and v0.13.2 are left out on purpose: they pin
 * libtpu only through the `jax[tpu]` extra (`libtpu==0.0.24.*`, a range), and v0.13.2's built
 * wheel defaults to the v7x file (jax 0.8.1, libtpu 0.0.31) unless IS_FOR_V7X=false.
 */
export const TPU_RELEASES: readonly TpuRelease[] = [
  release("0.27.0", "e1c03382a5b2", "2026-08-20", { jax: "0.11.0", libtpu: "0.0.44", torchax: "0.0.13", flax: "0.12.8", qwix: "0.1.2", tpuInfo: "0.7.1" }, gens018, "3.12"),
  release("0.26.0", "c90cece0be50", "2026-07-30", { jax: "0.10.2", libtpu: "0.0.43", torchax: "0.0.13", flax: "0.12.4", qwix: "0.1.2", tpuInfo: "0.7.1" }, gens018, "3.11"),
  release("0.25.0", "c16d2969ad16", "2026-07-22", { jax: "0.10.2", libtpu: "0.0.42.1", torchax: "0.0.13", flax: "0.12.4", qwix: "0.1.2", tpuInfo: "0.7.1" }, gens018, "3.11"),
  release("0.24.0", "5caa2dcdab13", "2026-07-02", { jax: "0.10.2", libtpu: "0.0.42.1", torchax: "0.0.13", flax: "0.12.4", qwix: "0.1.2", tpuInfo: "0.7.1" }, gens018, "3.11"),
  release("0.23.0", "23d17a812017", "2026-06-23", { jax: "0.10.1", libtpu: "0.0.41", torchax: "0.0.11", flax: "0.12.4", qwix: "0.1.2", tpuInfo: "0.7.1" }, gens018, "3.11"),
  release("0.22.1", "0045517c4ba7", "2026-06-15", { jax: "0.10.0", libtpu: "0.0.40", torchax: "0.0.11", flax: "0.12.4", qwix: "0.1.2", tpuInfo: "0.7.1" }, gens018, "3.11"),
  release("0.21.0", "a0307b588732", "2026-06-01", { jax: "0.9.2", libtpu: "0.0.39", torchax: "0.0.11", flax: "0.12.4", qwix: "0.1.2", tpuInfo: "0.7.1" }, gens018, "3.11"),
  release("0.20.0", "999b5b0a5c43", "2026-05-20", { jax: "0.9.2", libtpu: "0.0.39", torchax: "0.0.11", flax: "0.12.4", qwix: "0.1.2", tpuInfo: "0.7.1" }, gens018, "3.11"),
  release("0.19.0", "344c7ba89ea0", "2026-05-01", { jax: "0.9.2", libtpu: "0.0.39", torchax: "0.0.11", flax: "0.12.4", qwix: "0.1.2", tpuInfo: "0.7.1" }, gens018, "3.11"),
  release("0.18.0", "f0fdb6bbe5cd", "2026-04-17", { jax: "0.9.2", libtpu: "0.0.38", torchax: "0.0.11", flax: "0.12.4", qwix: "0.1.2", tpuInfo: "0.7.1" }, gens018, "3.11"),
  release(
    "0.11.1",
    "f26205594d29",
    "2025-10-15",
    { jax: "0.7.2", libtpu: "0.0.23", torchax: "0.0.7", flax: "0.11.1", qwix: "0.1.1", tpuInfo: "0.4.0" },
    { recommended: ["v6e", "v5e"], experimental: [], source: TPU_SRC.quickstartV0111 },
    "3.11",
  ),
];

/** The libtpu each torch_xla release pins (its `tpu` extra), with that libtpu's build date. */
export const TORCH_XLA_LIBTPU: Readonly<Record<string, { libtpu: string; built: string | null }>> = {
  "2.7.0": { libtpu: "0.0.11.1", built: null },
  "2.8.0": { libtpu: "0.0.17", built: "2025-06-17" },
  "2.8.1": { libtpu: "0.0.17", built: "2025-06-17" },
  "2.9.0": { libtpu: "0.0.21", built: "2025-08-13" },
};

/** libtpu build dates known from upstream (torch_xla's `_libtpu_date`). */
export const LIBTPU_BUILT: Readonly<Record<string, string>> = { "0.0.17": "2025-06-17", "0.0.21": "2025-08-13" };

/** The oldest libtpu build JAX Pallas accepts, by jax version (lowering.py is_cloud_tpu_older_than). */
export function pallasCutoff(jax: string): string | null {
  const v = versionKey(jax);
  if (cmp(v, versionKey("0.7.0")) < 0) return null;
  if (cmp(v, versionKey("0.7.2")) < 0) return "2025-01-10";
  if (cmp(v, versionKey("0.10.1")) < 0) return "2025-08-01";
  return "2026-04-01";
}

/** Numeric version components ("0.0.42.1" → [0,0,42,1]); non-numeric parts count as 0. */
export function versionKey(v: string): number[] {
  return v.split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
}

export function cmp(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
