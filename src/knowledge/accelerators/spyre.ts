/**
 * IBM Spyre cards: vLLM runs on them through the vllm-spyre platform plug-in, which requires one
 * vLLM minor and compiles every shape it will serve at start-up. hwflake builds the plug-in in a
 * set of its own with that vLLM (nixpkgs' vLLM expression at the required tag), and takes IBM's
 * torch_sendnn (not public) from the user; without it only the CPU test modes run.
 */
import type { Accelerator } from "../../profile/schema.js";
import type { Finding } from "../../plan/types.js";
import { SRC, cite } from "../sources.js";
import { WHEEL_SRC, githubPin, requireFilePin, wheelHashFinding, wheelKey, wheelPin, type WheelPin } from "../python-wheels.js";
import type { AcceleratorFamily, BuildSetRecipe, ServePlan } from "../types.js";
import { normalizeProject } from "./tpu/pins.js";
import { SPYRE_RELEASES, SPYRE_SRC, SPYRE_WARMUP_DEFAULTS, type SpyreRelease } from "./spyre/releases.js";
import { cmp, versionKey } from "./tpu/releases.js";

type Spyre = Extract<Accelerator, { kind: "spyre" }>;

/** Dependencies of vllm-spyre that hwflake pins only when the profile names a version. */
const FMS = ["ibm-fms", "fms-model-optimizer"] as const;

/** Whether `version` satisfies a pyproject range such as "vllm>=0.17.0,<0.18.1". */
export function inRange(version: string, range: string): boolean {
  const v = versionKey(version);
  return range
    .replace(/^[A-Za-z0-9_.-]+/, "")
    .split(",")
    .every((c) => {
      const m = /^(>=|<=|<|>|==|!=)(.+)$/.exec(c.trim());
      if (!m) return true;
      const d = cmp(v, versionKey(m[2]!));
      return { ">=": d >= 0, "<=": d <= 0, "<": d < 0, ">": d > 0, "==": d === 0, "!=": d !== 0 }[m[1] as ">="];
    });
}

/** The Spyre build set: vllm-spyre, its vLLM at the required version, torch_sendnn when given. */
export function spyreBuildSet(r: SpyreRelease, wheels: readonly WheelPin[], sendnn: boolean): BuildSetRecipe {
  return {
    name: `spyre-${r.version.replace(/\./g, "-")}${sendnn ? "-sendnn" : "-cpu"}`,
    config: {
      value: { cudaSupport: false, rocmSupport: false },
      reason: "no CUDA or ROCm: vllm-spyre's platform runs vLLM's CPU build and hands the model graphs to torch.compile's Spyre backend (sendnn), or to the CPU (eager/inductor)",
      sources: [SPYRE_SRC.backends, SRC.nixpkgsConfig],
    },
    rocmGpuTargets: null,
    allowUnfreeLicenses: null,
    python: {
      value: { interpreter: "python312", wheels },
      reason:
        `vllm-spyre ${r.version} with vLLM ${r.vllm}, the newest vLLM its pyproject.toml allows (${r.vllmRange}), built from that tag with nixpkgs' own vLLM expression instead of nixpkgs' current vLLM; ` +
        (sendnn ? "IBM's torch_sendnn from the file the profile names (it is not public)" : "no torch_sendnn: CPU modes only") +
        "; torch is the set's nixpkgs CPU torch",
      sources: [...r.sources, SPYRE_SRC.sendnnNotPublic, WHEEL_SRC.pypiJson],
    },
    pkg() {
      return {
        base: "pythonEnv",
        args: {},
        env: {},
        reason: `the set's Python environment: vLLM ${r.vllm} (CPU build) and the vllm-spyre ${r.version} platform plug-in together, so vLLM finds the plug-in through its entry point (vllm.platform_plugins: spyre = vllm_spyre:register)`,
        sources: [r.sources[0]!, SRC.nixpkgsVllm],
      };
    },
    compiles: () => [{ what: `vLLM ${r.vllm} (CPU, from source)`, hours: null, diskGB: null, assumes: "no source gives a build time for vLLM's CPU build at this version", sources: [SRC.nixpkgsVllm] }],
    cache: { text: `vLLM ${r.vllm} built from its tag is not nixpkgs' vLLM, so no binary cache has it`, sources: [SRC.nixpkgsVllm] },
  };
}

/** The version in a wheel file name ("torch_sendnn-1.2.0-py3-none-any.whl" → "1.2.0"), else "unknown". */
function sendnnVersion(path: string): string {
  return /torch_sendnn-([0-9][^-]*)-/.exec(path.slice(path.lastIndexOf("/") + 1))?.[1] ?? "unknown";
}

function planServe(ctx: Parameters<NonNullable<AcceleratorFamily<Spyre>["planServe"]>>[0]): ServePlan {
  const { profile, serve, index } = ctx;
  const findings: Finding[] = [];
  const refuse = (f: Omit<Finding, "severity">): ServePlan => ({
    recipe: null,
    findings: [...findings, { ...f, severity: "error" }],
    environment: null,
    devices: null,
    startTimeout: null,
  });
  const opts = serve.spyre ?? { backend: "sendnn" as const };
  const pins: Record<string, string> = {};
  for (const [k, v] of Object.entries(serve.pins ?? {})) pins[normalizeProject(k)] = v;

  const unknown = Object.keys(pins).filter((k) => !["vllm-spyre", "vllm", ...FMS].includes(k));
  if (unknown.length)
    return refuse({
      code: "SPYRE_PIN_UNKNOWN",
      subject: `serve[${index}].pins`,
      message: `${unknown.join(", ")}: hwflake pins only vllm-spyre, vllm, ${FMS.join(" and ")} on Spyre.`,
      fix: `remove ${unknown.join(", ")} from serve[${index}].pins`,
      source: cite(SPYRE_RELEASES[0]!.sources[0]!),
    });
  const candidates = SPYRE_RELEASES.filter((r) => pins["vllm-spyre"] === undefined || r.version === pins["vllm-spyre"]);
  if (candidates.length === 0)
    return refuse({
      code: "SPYRE_PINS_NO_RELEASE",
      subject: `serve[${index}].pins`,
      message: `vllm-spyre ${pins["vllm-spyre"]} is not a release hwflake knows (${SPYRE_RELEASES.map((r) => r.version).join(", ")}).`,
      fix: `pin one of ${SPYRE_RELEASES.map((r) => `vllm-spyre ${r.version} (${r.vllmRange})`).join(", ")}`,
      source: cite(...SPYRE_RELEASES.map((r) => r.sources[0]!)),
    });
  const r = pins.vllm === undefined ? candidates[0]! : candidates.find((c) => inRange(pins.vllm!, c.vllmRange));
  if (!r)
    return refuse({
      code: "SPYRE_VLLM_OUT_OF_RANGE",
      subject: `serve[${index}].pins`,
      message: `vllm ${pins.vllm} is outside what ${candidates.map((c) => `vllm-spyre ${c.version} requires (${c.vllmRange})`).join(" and ")}: the plug-in is tied to one vLLM minor, so nixpkgs' current vLLM does not do.`,
      fix: `drop the vllm pin (hwflake builds vLLM ${candidates[0]!.vllm} for vllm-spyre ${candidates[0]!.version}) or pin a vllm inside the range`,
      source: cite(...candidates.map((c) => c.sources[0]!)),
    });
  const vllmVersion = pins.vllm ?? r.vllm;
  const sendnn = opts.backend === "sendnn";
  if (sendnn && !opts.torchSendnn)
    return refuse({
      code: "SPYRE_SENDNN_MISSING",
      subject: `serve[${index}].spyre`,
      message:
        `${serve.name}: the sendnn backend (compiling for the Spyre cards) needs IBM's torch_sendnn, which is not public — it ships only in IBM's ibm-aiu base images — so hwflake cannot fetch it. ` +
        `vllm-spyre refuses to start without it ("sendnn backend requires torch_sendnn").`,
      fix: `set serve[${index}].spyre.torchSendnn to the torch_sendnn wheel from IBM's image (and spyre.torchSendnnSha256 to its hash), or use spyre.backend: "eager" or "inductor" to run the plug-in on the CPU for tests (the RFC's CPU mode)`,
      source: cite(SPYRE_SRC.sendnnNotPublic, SPYRE_SRC.backends),
    });

  const given = profile.wheels ?? {};
  const wheels: WheelPin[] = [
    githubPin("vllm", vllmVersion, { owner: "vllm-project", repo: "vllm", tag: `v${vllmVersion}` }, given[wheelKey("vllm", vllmVersion)]),
    ...(sendnn ? [requireFilePin("torch-sendnn", sendnnVersion(opts.torchSendnn!), opts.torchSendnn!, opts.torchSendnnSha256, ["torch"])] : []),
    // ibm-fms and fms-model-optimizer only at versions the profile pins: hwflake knows their ranges, not a release.
    ...FMS.filter((k) => pins[k] !== undefined).map((k) => wheelPin(k, pins[k]!, { given: given[wheelKey(k, pins[k]!)] })),
    wheelPin("vllm-spyre", r.version, {
      given: given[wheelKey("vllm-spyre", r.version)],
      deps: ["vllm", ...FMS.filter((k) => pins[k] !== undefined), ...(sendnn ? ["torch-sendnn"] : [])],
    }),
  ];
  const hashes = wheelHashFinding(wheels);
  if (hashes) findings.push(hashes);
  for (const w of wheels.filter((x) => !x.hash && x.fetch !== "url"))
    findings.push({
      code: w.fetch === "requireFile" ? "SPYRE_SENDNN_HASH_NEEDED" : "WHEEL_HASH_NEEDED",
      severity: "warning",
      subject: w.fetch === "requireFile" ? `serve[${index}].spyre.torchSendnnSha256` : `wheels."${wheelKey(w.package, w.version)}"`,
      message: `${w.package} ${w.version}: no ${w.fetch === "github" ? "hash of the source tree" : "sha256"} is recorded, so the set's Nix stops at evaluation (before anything builds) and asks for it.`,
      fix:
        w.fetch === "requireFile"
          ? `run ${w.prefetch}, and set serve[${index}].spyre.torchSendnnSha256`
          : `run ${w.prefetch}; then add wheels: { "${wheelKey(w.package, w.version)}": { url: "${w.url ?? "<url>"}", sha256: "<sha256>" } } to the profile`,
      source: cite(WHEEL_SRC.pypiJson),
    });
  const unpinned = FMS.filter((k) => pins[k] === undefined);
  if (unpinned.length || sendnn)
    findings.push({
      code: "SPYRE_DEPENDENCIES",
      severity: "warning",
      subject: `serve[${index}].pins`,
      message:
        (unpinned.length
          ? `vllm-spyre ${r.version} also requires ${unpinned.map((k) => `${k} (${r.fms[k as (typeof FMS)[number]]})`).join(" and ")}; hwflake knows the range, not a release to pin, and nixpkgs has neither, so the set lacks ${unpinned.length > 1 ? "them" : "it"} until the profile pins ${unpinned.length > 1 ? "them" : "it"}`
          : "") +
        (sendnn ? `${unpinned.length ? "; and " : ""}torch_sendnn is built against one torch (torch_sendnn 1.0/1.1 → torch 2.7.1, 1.2.0 → torch 2.10.0) while the set uses nixpkgs' torch` : "") +
        ".",
      fix: unpinned.length
        ? `add ${unpinned.map((k) => `${k}: "<version>"`).join(", ")} to serve[${index}].pins (versions inside the ranges above), then their wheels' url and sha256 as the plan asks`
        : "check that the set's torch is the one your torch_sendnn was built for",
      source: cite(r.sources[0]!, SPYRE_SRC.sendnnNotPublic),
    });

  const warm = {
    promptLens: opts.warmup?.promptLens ?? SPYRE_WARMUP_DEFAULTS.promptLens,
    newTokens: opts.warmup?.newTokens ?? SPYRE_WARMUP_DEFAULTS.newTokens,
    batchSizes: opts.warmup?.batchSizes ?? SPYRE_WARMUP_DEFAULTS.batchSizes,
  };
  // vllm-spyre zips the three lists into shapes and rejects anything else at start-up.
  const bad = [
    ...(warm.promptLens.some((x) => x % 64 !== 0) ? [`prompt lengths ${warm.promptLens.join(",")} are not all multiples of 64`] : []),
    ...(warm.promptLens.length !== warm.batchSizes.length || warm.promptLens.length !== warm.newTokens.length
      ? [`the lists have different lengths (${warm.promptLens.length} prompt lengths, ${warm.newTokens.length} new-token counts, ${warm.batchSizes.length} batch sizes); each position is one shape`]
      : []),
  ];
  if (bad.length)
    return refuse({
      code: "SPYRE_WARMUP_SHAPES",
      subject: `serve[${index}].spyre.warmup`,
      message: `${serve.name}: vllm-spyre would stop at start-up: ${bad.join("; ")}.`,
      fix: "give promptLens (multiples of 64), newTokens and batchSizes with one entry per shape, e.g. promptLens: [64, 2048], newTokens: [20, 1024], batchSizes: [1, 4]",
      source: cite(SPYRE_SRC.warmupRules),
    });
  const cache = `/var/cache/hwflake-${serve.name}/torch_sendnn`;
  const env: Record<string, string> = {
    VLLM_SPYRE_DYNAMO_BACKEND: opts.backend,
    VLLM_SPYRE_USE_CB: "0",
    VLLM_SPYRE_WARMUP_BATCH_SIZES: warm.batchSizes.join(","),
    VLLM_SPYRE_WARMUP_NEW_TOKENS: warm.newTokens.join(","),
    VLLM_SPYRE_WARMUP_PROMPT_LENS: warm.promptLens.join(","),
    ...(sendnn ? { TORCH_SENDNN_CACHE_DIR: cache, TORCH_SENDNN_CACHE_ENABLE: "1" } : {}),
  };
  findings.push({
    code: "SPYRE_WARMUP",
    severity: "info",
    subject: `serve[${index}].spyre.warmup`,
    message:
      `${serve.name}: vllm-spyre compiles every shape it serves before it listens (the RFC: no compilation on the request path; batches are padded to compiled shapes). ` +
      `Shapes: prompt lengths ${warm.promptLens.join(",")}, new tokens ${warm.newTokens.join(",")}, batch sizes ${warm.batchSizes.join(",")}` +
      (opts.warmup ? " (from the profile)" : " (vllm-spyre v1.x defaults)") +
      `; the unit may take 20 min to start, as vllm-spyre's Kubernetes manifest allows` +
      (sendnn ? `; compiled graphs are cached in ${cache}, so later starts are faster.` : "."),
    source: cite(SPYRE_SRC.rfc, SPYRE_SRC.envs110, SPYRE_SRC.warmupRules, SPYRE_SRC.k8sStartup, ...(sendnn ? [SPYRE_SRC.sendnnCache] : [])),
  });
  if (!sendnn)
    findings.push({
      code: "SPYRE_CPU_MODE",
      severity: "warning",
      subject: `serve[${index}].spyre.backend`,
      message: `${serve.name} runs vllm-spyre with backend "${opts.backend}" on the CPU (for tests, as the RFC and vllm-spyre's CI do); the Spyre cards are not used.`,
      fix: 'give spyre.torchSendnn and use backend "sendnn" to run on the cards',
      source: cite(SPYRE_SRC.backends, SPYRE_SRC.rfc),
    });
  return {
    recipe: spyreBuildSet(r, wheels, sendnn),
    findings,
    environment: {
      value: env,
      reason:
        `vllm-spyre's own settings: backend ${opts.backend}; static batching (VLLM_SPYRE_USE_CB=0) with these warm-up shapes compiled at start` +
        (sendnn ? "; torch_sendnn's compile cache in the unit's cache directory" : ""),
      sources: [SPYRE_SRC.envs110, SPYRE_SRC.backends, ...(sendnn ? [SPYRE_SRC.sendnnCache] : [])],
    },
    devices: sendnn
      ? {
          value: ["/dev/vfio/vfio", "char-vfio"],
          reason: "Spyre cards are VFIO devices: the VFIO container and the IOMMU-group nodes under /dev/vfio (their numbers are IOMMU groups, not card indices, so the whole vfio class is allowed)",
          sources: [SPYRE_SRC.devices, SPYRE_SRC.vfioChrdev],
        }
      : null,
    startTimeout: {
      value: "20min",
      reason: "compiling every warm-up shape happens before the server listens; vllm-spyre's Kubernetes manifest allows 1200 s for it",
      sources: [SPYRE_SRC.k8sStartup, SPYRE_SRC.rfc],
    },
  };
}

/** Spyre knowledge. */
export const spyre: AcceleratorFamily<Spyre> = {
  matches: (a): a is Spyre => a.kind === "spyre",
  label: "IBM Spyre",
  backend: "spyre",
  knownArchs: ["spyre"],
  support(_acc, engine) {
    return engine === "vllm"
      ? {
          level: "supported",
          reason: `vLLM runs on Spyre through the vllm-spyre plug-in (newest stable ${SPYRE_RELEASES[0]!.version}, which requires ${SPYRE_RELEASES[0]!.vllmRange}); hwflake builds it in a set of its own with that vLLM`,
          sources: [SPYRE_RELEASES[0]!.sources[0]!, SPYRE_SRC.rfc],
        }
      : { level: "unsupported", reason: `${engine} has no Spyre backend`, sources: [SRC.spyreNotPackaged] };
  },
  buildTarget: () => "spyre",
  buildSet: () => null,
  planServe,
  pinning(accs, all) {
    const warnings: string[] = [];
    if (accs.every((a) => a.pciAddress)) {
      const env = Object.fromEntries(accs.map((a, i) => [`AIU_WORLD_RANK_${i}`, a.pciAddress!]));
      return {
        env,
        reason: "each rank mapped to its card's PCI address (AIU_WORLD_RANK_<n>), which survives reordering",
        sources: [SPYRE_SRC.devices],
        warnings,
      };
    }
    const ids = accs.map((a) => {
      const i = all.indexOf(a);
      warnings.push(`accelerators "${a.id}" has no pciAddress: pinned by Spyre index ${i} (SPYRE_DEVICES), which can change when cards are added; add the PCI address`);
      return String(i);
    });
    return { env: { SPYRE_DEVICES: ids.join(",") }, reason: "SPYRE_DEVICES selects cards by index, like CUDA_VISIBLE_DEVICES", sources: [SPYRE_SRC.devices], warnings };
  },
  engineArgs(accs, engine) {
    if (engine === "vllm" && accs.length > 1)
      return { args: ["--tensor-parallel-size", String(accs.length)], reason: `split the model over the ${accs.length} cards`, sources: [SRC.vllmServeArgs] };
    return null;
  },
};
