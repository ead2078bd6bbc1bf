/** Google TPUs: vLLM runs there only through tpu-inference with exact jax/libtpu pins. */
import type { Accelerator } from "../../profile/schema.js";
import { SRC } from "../sources.js";
import type { AcceleratorFamily } from "../types.js";

type Tpu = Extract<Accelerator, { kind: "tpu" }>;

/** TPU knowledge: known, but not buildable from nixpkgs (libtpu is not packaged). */
export const tpu: AcceleratorFamily<Tpu> = {
  matches: (a): a is Tpu => a.kind === "tpu",
  label: "Google TPU",
  backend: null,
  knownArchs: ["v2", "v3", "v4", "v5e", "v5p", "v6e", "v7x"],
  support(_acc, engine) {
    return engine === "vllm"
      ? {
          level: "unsupported",
          reason:
            "vLLM on TPU is vllm-tpu + tpu-inference with exactly pinned jax, jaxlib and libtpu; nixpkgs packages neither libtpu nor tpu-inference, so hwflake cannot build it yet",
          sources: [SRC.tpuNotPackaged],
        }
      : { level: "unsupported", reason: `${engine} has no TPU backend`, sources: [SRC.tpuNotPackaged] };
  },
  buildTarget: (acc) => acc.arch,
  buildSet: () => null,
  pinning: () => ({ env: {}, reason: "", sources: [], warnings: [] }),
  engineArgs: () => null,
};
