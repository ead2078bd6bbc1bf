/**
 * `serve[].pins` on a TPU: pick the newest known-good tpu-inference release that satisfies the
 * user's exact versions, or refuse before anything builds, naming the packages, the versions,
 * why they conflict (seed 002's deadlocks) and the versions that work together.
 */
import type { Finding, Source } from "../../../plan/types.js";
import { cite } from "../../sources.js";
import {
  LIBTPU_BUILT,
  TORCH_XLA_LIBTPU,
  TPU_PINNED_PACKAGES,
  TPU_RELEASES,
  TPU_SRC,
  pallasCutoff,
  type TpuGeneration,
  type TpuPinnedPackage,
  type TpuRelease,
} from "./releases.js";

/** PEP 503 normalised project name ("torch_xla" → "torch-xla"). */
export function normalizeProject(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

/** The result of resolving pins: the release to build, or null with error findings. */
export interface TpuResolution {
  readonly release: TpuRelease | null;
  readonly findings: readonly Finding[];
}

/** How a release reads in a message: "tpu-inference 0.11.1 (jax 0.7.2, jaxlib 0.7.2, libtpu 0.0.23, torchax 0.0.7)". */
export function releaseText(r: TpuRelease): string {
  const p = r.pins;
  return `vllm-tpu/tpu-inference ${r.version} (jax ${p.jax}, jaxlib ${p.jaxlib}, libtpu ${p.libtpu}, torchax ${p.torchax})`;
}

function serves(r: TpuRelease, arch: TpuGeneration): boolean {
  return r.recommended.includes(arch) || r.experimental.includes(arch);
}

/** Every release that satisfies `pins` (normalised, only known packages), newest first. */
function matching(pins: Readonly<Record<string, string>>): TpuRelease[] {
  return TPU_RELEASES.filter((r) => Object.entries(pins).every(([k, v]) => r.pins[k as TpuPinnedPackage] === v));
}

/** "jax 0.7.2 + libtpu 0.0.17" for a message. */
function pair(pins: Readonly<Record<string, string>>, ...keys: string[]): string {
  return keys.map((k) => `${k} ${pins[k]}`).join(" + ");
}

/**
 * Resolve `pins` (user spelling) for a TPU of generation `arch`. `subject` is the profile path of
 * the pins ("serve[0].pins").
 */
export function resolveTpuPins(rawPins: Readonly<Record<string, string>>, arch: TpuGeneration, subject: string): TpuResolution {
  const findings: Finding[] = [];
  const err = (code: string, message: string, fix: string, ...sources: Source[]) =>
    findings.push({ code, severity: "error", subject, message, fix, source: cite(...sources) });

  const pins: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawPins)) {
    const n = normalizeProject(k);
    // On TPU the vLLM distribution is vllm-tpu, numbered like tpu-inference.
    pins[n === "vllm" ? "vllm-tpu" : n] = v;
  }
  const forArch = TPU_RELEASES.filter((r) => serves(r, arch));
  const works = (rs: readonly TpuRelease[]) =>
    rs.length ? `versions that work together: ${rs.slice(0, 2).map(releaseText).join("; or ")}` : `no release hwflake knows serves TPU ${arch}`;

  // 1. torch_xla: never in the engine's process.
  const xla = pins["torch-xla"];
  if (xla !== undefined) {
    const needs = TORCH_XLA_LIBTPU[xla];
    const parts = [
      `torch_xla ${xla} is pinned, but vLLM on TPU runs through tpu-inference on JAX, and torch_xla and JAX must never share one process: each loads libtpu's PJRT plug-in, and a torch_xla import inside the JAX path is what crashed tpu-inference in PR #1109`,
    ];
    if (needs && pins.libtpu !== undefined && pins.libtpu !== needs.libtpu)
      parts.push(
        `torch_xla ${xla} is built for libtpu ${needs.libtpu}; with libtpu ${pins.libtpu} it aborts with "Unexpected PJRT_Plugin_Attributes_Args size: expected 32, got 24. The plugin is likely built with a later version than the framework."`,
      );
    if (needs && needs.built && pins.jax !== undefined) {
      const cutoff = pallasCutoff(pins.jax);
      if (cutoff && needs.built < cutoff)
        parts.push(
          `and the libtpu torch_xla needs (${needs.libtpu}, built ${needs.built}) is older than jax ${pins.jax}'s Pallas cutoff (${cutoff}): "Pallas TPU requires a libtpu version that's at most a month old" — no single environment satisfies both (seed 002's deadlock)`,
        );
    }
    const rest = { ...pins };
    delete rest["torch-xla"];
    err(
      "TPU_PIN_TORCH_XLA",
      `${parts.join("; ")}.`,
      `remove torch_xla from ${subject}: the engine's set holds only JAX, jaxlib, libtpu, tpu-inference and vllm-tpu. Code that needs torch_xla (a training driver) runs in its own environment and reaches vLLM over its API or as Ray actors using the engine set's Python (seed 002's split); ${works(suggest(rest, arch, forArch))}`,
      TPU_SRC.noTorchXla, TPU_SRC.torchXlaLibtpu, TPU_SRC.pjrtMismatch, TPU_SRC.pallasCutoff, TPU_SRC.seed002,
    );
  }

  // 2. jax with a libtpu older than its Pallas cutoff.
  if (pins.jax !== undefined && pins.libtpu !== undefined) {
    const built = LIBTPU_BUILT[pins.libtpu];
    const cutoff = pallasCutoff(pins.jax);
    if (built && cutoff && built < cutoff) {
      const withJax = matching({ jax: pins.jax }).filter((r) => serves(r, arch));
      err(
        "TPU_PIN_LIBTPU_TOO_OLD",
        `${pair(pins, "jax", "libtpu")}: libtpu ${pins.libtpu} was built ${built}, before jax ${pins.jax}'s Pallas cutoff (${cutoff}), so every Pallas kernel fails with "Pallas TPU requires a libtpu version that's at most a month old" (seed 002 hit it in vLLM's Pallas KV-cache update).` +
          (Object.entries(TORCH_XLA_LIBTPU).some(([, x]) => x.libtpu === pins.libtpu)
            ? ` This is seed 002's second deadlock: libtpu ${pins.libtpu} is the one torch_xla ${Object.entries(TORCH_XLA_LIBTPU).filter(([, x]) => x.libtpu === pins.libtpu).map(([v]) => v).join("/")} needs, so no libtpu satisfies both in one environment.`
            : ""),
        `pin the libtpu the release pins with this jax: ${works(withJax.length ? withJax : forArch)}`,
        TPU_SRC.pallasCutoff, TPU_SRC.torchXlaLibtpu, TPU_SRC.seed002,
      );
    }
  }

  // 3. Names hwflake cannot pin.
  const unknown = Object.keys(pins).filter((k) => k !== "torch-xla" && !(TPU_PINNED_PACKAGES as readonly string[]).includes(k));
  if (unknown.length)
    err(
      "TPU_PIN_UNKNOWN",
      `${unknown.map((k) => `${k} ${pins[k]}`).join(", ")}: hwflake pins only what tpu-inference's requirements.txt pins exactly on TPU (${TPU_PINNED_PACKAGES.join(", ")}).`,
      `remove ${unknown.join(", ")} from ${subject}`,
      ...(TPU_RELEASES[0] ? TPU_RELEASES[0].sources.slice(0, 1) : []),
    );

  if (findings.length) return { release: null, findings };

  // 4. The newest release with exactly these versions, on this generation.
  const ok = matching(pins);
  const here = ok.filter((r) => serves(r, arch));
  if (here.length === 0) {
    if (ok.length) {
      err(
        "TPU_PINS_GENERATION",
        `${Object.entries(pins).map(([k, v]) => `${k} ${v}`).join(", ")} match ${ok.map((r) => `tpu-inference ${r.version}`).join(", ")}, which upstream does not list for TPU ${arch} (it serves ${[...new Set(ok.flatMap((r) => [...r.recommended, ...r.experimental]))].join(", ")}).`,
        `drop the pins to get the newest release for ${arch}: ${works(forArch)}`,
        ...ok[0]!.sources,
      );
      return { release: null, findings };
    }
    const why = Object.entries(pins).map(([k, v]) => {
      const rs = TPU_RELEASES.filter((r) => r.pins[k as TpuPinnedPackage] === v);
      return rs.length
        ? `${k} ${v} is pinned by tpu-inference ${rs.map((r) => r.version).join(", ")} (with ${rs
            .slice(0, 1)
            .map((r) => Object.entries(pins).filter(([kk]) => kk !== k).map(([kk]) => `${kk} ${r.pins[kk as TpuPinnedPackage]}`).join(", "))
            .join("")})`
        : `no tpu-inference release hwflake knows pins ${k} ${v}`;
    });
    err(
      "TPU_PINS_NO_RELEASE",
      `no known-good release has ${Object.entries(pins).map(([k, v]) => `${k} ${v}`).join(" with ")}: ${why.join("; ")}. vllm-tpu X pins tpu-inference X, and each tpu-inference release pins jax, jaxlib and libtpu exactly; mixing them is how PJRT size mismatches and Pallas libtpu errors happen.`,
      `use one release's versions together: ${works(forArch)}`,
      ...(TPU_RELEASES.find((r) => Object.keys(pins).some((k) => r.pins[k as TpuPinnedPackage] === pins[k]))?.sources ?? forArch[0]?.sources ?? []),
    );
    return { release: null, findings };
  }
  const chosen = here[0]!;
  if (!chosen.recommended.includes(arch))
    findings.push({
      code: "TPU_GENERATION_EXPERIMENTAL",
      severity: "warning",
      subject,
      message: `tpu-inference ${chosen.version} lists TPU ${arch} as experimental (recommended: ${chosen.recommended.join(", ")}).`,
      source: cite(...chosen.sources),
    });
  return { release: chosen, findings };
}

/** Releases to suggest: those matching the other pins, else those with the pinned jax, else the newest for the generation. */
function suggest(pins: Readonly<Record<string, string>>, arch: TpuGeneration, forArch: readonly TpuRelease[]): readonly TpuRelease[] {
  const all = matching(sanitize(pins)).filter((r) => serves(r, arch));
  if (all.length) return all;
  const withJax = pins.jax ? matching({ jax: pins.jax }).filter((r) => serves(r, arch)) : [];
  return withJax.length ? withJax : forArch;
}

/** Pins without torch_xla, for finding a release to suggest. */
function sanitize(pins: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(pins).filter(([k]) => (TPU_PINNED_PACKAGES as readonly string[]).includes(k)));
}
