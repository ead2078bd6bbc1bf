/**
 * Google TPUs: vLLM runs there only as vllm-tpu + tpu-inference on JAX, with jax, jaxlib and
 * libtpu pinned exactly per release. hwflake builds that as a set of its own: CPython 3.12 with
 * exactly one release's wheels, libtpu's unfree licence allowed in that set only, no torch_xla.
 */
import type { Accelerator } from "../../profile/schema.js";
import type { Finding, Source } from "../../plan/types.js";
import { SRC, cite } from "../sources.js";
import { WHEEL_SRC, wheelHashFinding, wheelKey, wheelPin, type WheelPin } from "../python-wheels.js";
import type { AcceleratorFamily, BuildSetRecipe, ServePlan } from "../types.js";
import { releaseText, resolveTpuPins } from "./tpu/pins.js";
import { TPU_RELEASES, TPU_SRC, type TpuGeneration, type TpuRelease } from "./tpu/releases.js";

type Tpu = Extract<Accelerator, { kind: "tpu" }>;

const s = (ref: string, note?: string): Source => (note ? { ref, note } : { ref });

const DEV_SRC = {
  chipPath: s(
    "AI-Hypercomputer/cloud-accelerator-diagnostics tpu_info/tpu_info/device.py @ 2cbfaa9d",
    "chip_path: v5e, v5p, v6e, v7x → /dev/vfio/<index>; older → /dev/accel<index>",
  ),
  worker: s(
    "vllm-project/tpu-inference tpu_inference/worker/tpu_worker.py @ b8692ff0",
    "TPU_VISIBLE_CHIPS, TPU_CHIPS_PER_PROCESS_BOUNDS=1,<chips>,1, TPU_PROCESS_BOUNDS=1,1,1, TPU_PROCESS_PORT (default 8476, \"Unique libtpu port per rank so the runtimes can coexist on a host\"), TPU_PROCESS_ADDRESSES, CLOUD_TPU_TASK_ID=0",
  ),
  platform: s("vllm-project/tpu-inference tpu_inference/platforms/tpu_platform.py @ b8692ff0", "device_control_env_var = \"TPU_VISIBLE_CHIPS\""),
  vllmDetect: s(
    "vllm-project/vllm vllm/platforms/__init__.py tpu_platform_plugin()",
    "`import libtpu` succeeding makes vLLM pick its TPU platform (\"we assume that libtpu is installed only if the machine has TPUs\")",
  ),
  libtpuLicence: s(
    "libtpu wheel METADATA (quoted in a third-party Nix file, code index id 55977701875)",
    "License: Google Cloud Platform Terms of Service, i.e. unfree",
  ),
  vfioPerms: s(
    "vllm-project/tpu-inference docs/mkdocs/javascripts/interactive.js @ v0.27.0",
    "upstream runs vLLM TPU containers with docker run --privileged; no upstream source documents the owner or group of /dev/vfio/* on a TPU VM",
  ),
} as const;

/** The licence record hwflake gives the libtpu wheel; only TPU sets allow its shortName. */
export const LIBTPU_LICENSE = { shortName: "libtpu", fullName: "Google Cloud Platform Terms of Service" } as const;

const VFIO_GENERATIONS: readonly TpuGeneration[] = ["v5e", "v5p", "v6e", "v7x"];

/**
 * The chip indices of a TPU entry. An entry is a group of the host's chips (all of them, or a
 * part when the profile splits them between instances); chips are numbered across the TPU
 * entries in profile order.
 */
function chipIndices(acc: Tpu, all: readonly Tpu[]): number[] {
  const before = all.slice(0, Math.max(0, all.indexOf(acc))).reduce((n, a) => n + (a.chips ?? 1), 0);
  return Array.from({ length: acc.chips ?? 1 }, (_, i) => before + i);
}

function tpusOf(accs: readonly Accelerator[]): Tpu[] {
  return accs.filter((a): a is Tpu => a.kind === "tpu");
}

/** The set's wheels for one release, with url/hash from the profile or a public record. */
function releaseWheels(r: TpuRelease, given: Readonly<Record<string, { url: string; sha256: string }>>): WheelPin[] {
  const p = r.pins;
  const w = (project: keyof TpuRelease["pins"], opts: Omit<Parameters<typeof wheelPin>[2] & object, "given"> = {}) =>
    wheelPin(project, p[project], { ...opts, given: given[wheelKey(project, p[project])] });
  return [
    w("jaxlib"),
    w("jax", { deps: ["jaxlib"] }),
    w("libtpu", { unfree: LIBTPU_LICENSE }),
    w("torchax"),
    w("flax", { deps: ["jax"] }),
    w("qwix", { deps: ["jax", "flax"] }),
    w("tpu-info"),
    w("tpu-inference", { deps: ["jax", "jaxlib", "libtpu", "torchax", "flax", "qwix", "tpu-info"] }),
    // vllm-tpu is vLLM renamed; its other dependencies are the ones nixpkgs' vLLM takes.
    w("vllm-tpu", { deps: ["tpu-inference"], inheritDependencies: "vllm" }),
  ];
}

/** The TPU build set of one release. */
export function tpuBuildSet(r: TpuRelease, wheels: readonly WheelPin[]): BuildSetRecipe {
  const known = wheels.filter((x) => x.hash);
  return {
    name: `tpu-${r.version.replace(/\./g, "-")}`,
    config: {
      value: { cudaSupport: false, rocmSupport: false },
      reason: "no CUDA or ROCm in this set: the engine runs on the TPU through JAX and libtpu, and its torch (for torchax) is nixpkgs' CPU build",
      sources: [SRC.nixpkgsConfig, TPU_SRC.requirements(r.tag, r.commit)],
    },
    rocmGpuTargets: null,
    allowUnfreeLicenses: {
      value: [LIBTPU_LICENSE.shortName],
      reason: `libtpu is an unfree wheel (${LIBTPU_LICENSE.fullName}): this set, and nothing else, may use it; the host's nixpkgs.config is not changed`,
      sources: [DEV_SRC.libtpuLicence],
    },
    python: {
      value: { interpreter: "python312", wheels },
      reason:
        `exactly ${releaseText(r)}, as tpu-inference ${r.tag} pins them, in this set's own CPython 3.12 package set (the wheels are cp312; ` +
        `the host's Python and nixpkgs' own jax stay as they are). No torch_xla: JAX and torch_xla must not share a process. ` +
        (known.length ? `Hashes from public records: ${known.map((x) => `${x.package} ${x.version} (${x.hashSource})`).join(", ")}. ` : "") +
        `Wheels without a recorded hash make evaluation stop with the command that prints it`,
      sources: [...r.sources, TPU_SRC.noTorchXla, ...(known.some((x) => x.hashSource === WHEEL_SRC.marinLock.ref) ? [WHEEL_SRC.marinLock] : []), WHEEL_SRC.pypiJson],
    },
    pkg() {
      return {
        base: "python312Packages.vllm-tpu",
        args: {},
        env: {},
        reason: `vllm-tpu ${r.version} (vLLM built for TPU and renamed), with tpu-inference ${r.version} as its platform; vLLM picks the TPU because libtpu imports`,
        sources: [TPU_SRC.vllmTpuBuild, DEV_SRC.vllmDetect],
      };
    },
    compiles: () => [],
    cache: {
      text: "the pinned wheels are downloaded, not compiled; libtpu is unfree, so no public binary cache holds it",
      sources: [SRC.nixpkgsNoUnfreeCache],
    },
  };
}

function planServe(ctx: Parameters<NonNullable<AcceleratorFamily<Tpu>["planServe"]>>[0]): ServePlan {
  const { profile, serve, index, accs } = ctx;
  const subject = `serve[${index}].pins`;
  const arch = accs[0]!.arch;
  const res = resolveTpuPins(serve.pins ?? {}, arch, subject);
  const nothing = { recipe: null, findings: res.findings, environment: null, devices: null, startTimeout: null };
  if (!res.release) return nothing;
  const r = res.release;
  const wheels = releaseWheels(r, profile.wheels ?? {});
  const findings: Finding[] = [...res.findings];
  const pinned = Object.keys(serve.pins ?? {});
  findings.push({
    code: "TPU_RELEASE",
    severity: "info",
    subject,
    message:
      `${serve.name}: ${releaseText(r)}, flax ${r.pins.flax}, qwix ${r.pins.qwix}, tpu-info ${r.pins["tpu-info"]} — ` +
      (pinned.length
        ? `the newest release upstream tested with ${pinned.map((k) => `${k} ${serve.pins![k]}`).join(", ")}`
        : `the newest release hwflake knows for TPU ${arch}`) +
      `; every version is the exact pin of tpu-inference ${r.tag}'s requirements.txt (jax and libtpu move together: an older libtpu fails JAX Pallas' age check, a newer one breaks PJRT struct sizes). The set holds no torch_xla.`,
    source: cite(...r.sources),
  });
  const hashes = wheelHashFinding(wheels);
  if (hashes) findings.push(hashes);

  const chips = accs.flatMap((a) => chipIndices(a, tpusOf(profile.accelerators)));
  const vfio = VFIO_GENERATIONS.includes(arch);
  const devices = vfio ? ["/dev/vfio/vfio", ...chips.map((i) => `/dev/vfio/${i}`)] : chips.map((i) => `/dev/accel${i}`);
  findings.push({
    code: "TPU_DEVICE_PERMISSIONS",
    severity: "warning",
    subject: `serve[${index}].on`,
    message: `${serve.name} opens ${devices.join(", ")} as a dynamic (non-root) user; no upstream source says which owner or group these nodes have on a TPU VM, so hwflake cannot grant a group.`,
    fix: "check `ls -l /dev/vfio` (or /dev/accel*) on the host; if the nodes are root-only, add a udev rule giving them a group and add that group to systemd.services.hwflake-${serve.name}.serviceConfig.SupplementaryGroups in your NixOS configuration",
    source: cite(DEV_SRC.vfioPerms, DEV_SRC.chipPath),
  });
  return {
    recipe: tpuBuildSet(r, wheels),
    findings,
    environment: null,
    devices: {
      value: devices,
      reason: vfio
        ? `TPU ${arch} chips are VFIO devices: the VFIO container /dev/vfio/vfio and one group node per chip (/dev/vfio/<chip>)`
        : `TPU ${arch} chips are /dev/accel<chip>`,
      sources: [DEV_SRC.chipPath],
    },
    startTimeout: null,
  };
}

/** TPU knowledge. */
export const tpu: AcceleratorFamily<Tpu> = {
  matches: (a): a is Tpu => a.kind === "tpu",
  label: "Google TPU",
  backend: "tpu",
  knownArchs: ["v2", "v3", "v4", "v5e", "v5p", "v6e", "v7x"],
  support(acc, engine) {
    if (engine !== "vllm") return { level: "unsupported", reason: `${engine} has no TPU backend`, sources: [SRC.tpuNotPackaged] };
    const rs = TPU_RELEASES.filter((r) => r.recommended.includes(acc.arch));
    if (rs.length)
      return {
        level: "supported",
        reason: `vLLM runs on TPU ${acc.arch} as vllm-tpu + tpu-inference, which lists ${acc.arch} as recommended (newest: ${rs[0]!.version}); hwflake builds it in a set of its own with exactly one release's jax, jaxlib and libtpu`,
        sources: [rs[0]!.sources[1]!, TPU_SRC.vllmTpuBuild],
      };
    const ex = TPU_RELEASES.filter((r) => r.experimental.includes(acc.arch));
    if (ex.length)
      return {
        level: "experimental",
        reason: `tpu-inference lists TPU ${acc.arch} as experimental`,
        sources: [ex[0]!.sources[1]!],
      };
    return { level: "unsupported", reason: `no tpu-inference release lists TPU ${acc.arch}`, sources: [TPU_SRC.readme018, TPU_SRC.quickstartV0111] };
  },
  buildTarget: (acc) => acc.arch,
  // The set depends on the serve entry's pins, so planServe makes it.
  buildSet: () => null,
  planServe,
  pinning(accs, all) {
    const chips = accs.flatMap((a) => chipIndices(a, all));
    const port = 8476 + (chips[0] ?? 0);
    return {
      env: {
        CLOUD_TPU_TASK_ID: "0",
        TPU_CHIPS_PER_PROCESS_BOUNDS: `1,${chips.length},1`,
        TPU_PROCESS_ADDRESSES: `localhost:${port}`,
        TPU_PROCESS_BOUNDS: "1,1,1",
        TPU_PROCESS_PORT: String(port),
        TPU_VISIBLE_CHIPS: chips.join(","),
      },
      reason:
        `libtpu's own variables, set as tpu-inference's worker sets them for one process: chips ${chips.join(",")}, one process on this host, ` +
        `libtpu port ${port} (8476 + the first chip, so instances on other chips of the host do not collide)`,
      sources: [DEV_SRC.worker, DEV_SRC.platform],
      warnings: [],
    };
  },
  engineArgs(accs, engine) {
    const n = accs.reduce((k, a) => k + (a.chips ?? 1), 0);
    if (engine === "vllm" && n > 1)
      return { args: ["--tensor-parallel-size", String(n)], reason: `split the model over the ${n} TPU chips it is pinned to`, sources: [SRC.vllmServeArgs] };
    return null;
  },
};
