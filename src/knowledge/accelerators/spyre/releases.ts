/**
 * vllm-spyre releases hwflake builds: the vLLM range each one's pyproject.toml requires, the vLLM
 * hwflake builds for it (inside that range, a version upstream tags), and its start-up
 * compilation settings. Read from vllm-project/vllm-spyre with git (/work/facts-tpu-spyre.md §7–11).
 */
import type { Source } from "../../../plan/types.js";

const s = (ref: string, note?: string): Source => (note ? { ref, note } : { ref });

export const SPYRE_SRC = {
  pyproject: (tag: string, commit: string, note: string) => s(`vllm-project/vllm-spyre pyproject.toml @ ${tag} (${commit})`, note),
  envs110: s(
    "vllm-project/vllm-spyre vllm_spyre/envs.py @ v1.10.0",
    "VLLM_SPYRE_WARMUP_PROMPT_LENS default 64, VLLM_SPYRE_WARMUP_NEW_TOKENS default 20, VLLM_SPYRE_WARMUP_BATCH_SIZES default 1 (static batching, VLLM_SPYRE_USE_CB=0); VLLM_SPYRE_DYNAMO_BACKEND default sendnn",
  ),
  backends: s(
    "vllm-project/vllm-spyre vllm_spyre/envs.py @ fc6b54b9; vllm_spyre/platform.py",
    "\"sendnn\": compile for Spyre hardware; \"inductor\": compile for CPU (debug and testing); \"eager\": skip compile (debug and testing); torch_sendnn is imported only for sendnn/sendnn_compile_only: \"sendnn backend requires torch_sendnn\"",
  ),
  sendnnNotPublic: s(
    "vllm-project/vllm-spyre docs/deploying/docker.md, docs/getting_started/installation.md @ fc6b54b9",
    "torch_sendnn is in IBM's ibm-aiu base images on Quay, not a dependency in any pyproject; \"the full torch_sendnn stack is only available pre-installed in a base environment\"; torch_sendnn 1.0.0/1.1.0 → torch 2.7.1, 1.2.0 → torch 2.10.0",
  ),
  rfc: s(
    "vllm-project/vllm#9652 (seed 003: RFC \"Add support for IBM Spyre accelerator\")",
    "all compilation at init time through a warm-up routine; batches are formed to fit the shapes compiled during warm-up; CPU testing in eager mode or with the inductor backend",
  ),
  k8sStartup: s(
    "vllm-project/vllm-spyre docs/deploying/k8s.md @ fc6b54b9",
    "progressDeadlineSeconds: 1200; startupProbe periodSeconds 10 × failureThreshold 120 (\"Long startup delays are necessary for graph compilation\")",
  ),
  warmupRules: s(
    "vllm-project/vllm-spyre vllm_spyre/platform.py @ v1.10.0 (7fd2f736) get_warmup_shapes",
    "\"All values in VLLM_SPYRE_WARMUP_PROMPT_LENS must be multiples of 64.\"; prompt lens, batch sizes and new tokens \"must have equal length\" (zipped into shapes)",
  ),
  devices: s(
    "vllm-project/vllm-spyre docs/deploying/docker.md, docs/contributing/README.md @ fc6b54b9",
    "cards are VFIO devices (docker run -v /dev/vfio:/dev/vfio; log \"Opened: SEN:VFIO\"); SPYRE_DEVICES selects cards like CUDA_VISIBLE_DEVICES; AIU_WORLD_RANK_<n>=<PCI address> maps ranks to cards",
  ),
  vfioChrdev: s(
    "Linux drivers/vfio/group.c (alloc_chrdev_region(..., \"vfio\")); misc device /dev/vfio/vfio",
    "VFIO group nodes /dev/vfio/<IOMMU group> are char devices of major \"vfio\" — from the kernel source, not re-read in this session",
  ),
  sendnnCache: s("vllm-project/vllm-spyre docs/user_guide/configuration.md @ fc6b54b9", "TORCH_SENDNN_CACHE_ENABLE=1, TORCH_SENDNN_CACHE_DIR: cached compiled graphs \"can vastly speed up warmup time\""),
  vllmTags: s(
    "vllm-project/vllm-spyre pyproject.toml @ v2.0.0-rc.8 (vllm>=0.18.0,<0.18.1), @ v2.0.0-rc.2 (vllm>=0.16.0,<=0.16.0)",
    "vLLM 0.18.0 and 0.16.0 exist as releases (plug-in tags pin them exactly)",
  ),
} as const;

/** One vllm-spyre release with the vLLM it is built against here. */
export interface SpyreRelease {
  readonly version: string;
  readonly tag: string;
  readonly commit: string;
  readonly date: string;
  /** The vLLM requirement in its pyproject.toml, verbatim. */
  readonly vllmRange: string;
  /** The vLLM hwflake builds for it: inside the range, a version upstream tags. */
  readonly vllm: string;
  /** Its ibm-fms and fms-model-optimizer requirements, verbatim. */
  readonly fms: { readonly "ibm-fms": string; readonly "fms-model-optimizer": string };
  readonly sources: readonly Source[];
}

/** Stable releases hwflake builds, newest first (release candidates are left out). */
export const SPYRE_RELEASES: readonly SpyreRelease[] = [
  {
    version: "1.10.0",
    tag: "v1.10.0",
    commit: "7fd2f73698bd",
    date: "2026-03-26",
    vllmRange: "vllm>=0.17.0,<0.18.1",
    vllm: "0.18.0",
    fms: { "ibm-fms": ">=1.7.0,<2.0", "fms-model-optimizer": "[fp8]>=0.8.0" },
    sources: [SPYRE_SRC.pyproject("v1.10.0", "7fd2f73698bd", "\"vllm>=0.17.0,<0.18.1\"; torch not a dependency (must pre-exist); requires-python >=3.11"), SPYRE_SRC.vllmTags],
  },
  {
    version: "1.9.1",
    tag: "v1.9.1",
    commit: "9de53f658307",
    date: "2026-03-10",
    vllmRange: "vllm>=0.11.0,<0.16.1",
    vllm: "0.16.0",
    fms: { "ibm-fms": ">=1.7.0,<2.0", "fms-model-optimizer": "[fp8]>=0.8.0" },
    sources: [SPYRE_SRC.pyproject("v1.9.1", "9de53f658307", "\"vllm>=0.11.0,<0.16.1\""), SPYRE_SRC.vllmTags],
  },
];

/** Warm-up defaults of vllm-spyre v1.x (envs.py), used when the profile gives none. */
export const SPYRE_WARMUP_DEFAULTS = { promptLens: [64], newTokens: [20], batchSizes: [1] } as const;
