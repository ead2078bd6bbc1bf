/** IBM Spyre AIU cards: served by the out-of-tree vllm-spyre platform plug-in. */
import type { Accelerator } from "../../profile/schema.js";
import { SRC } from "../sources.js";
import type { AcceleratorFamily } from "../types.js";

type Spyre = Extract<Accelerator, { kind: "spyre" }>;

/** Spyre knowledge: known, but not buildable from nixpkgs (no vllm-spyre, no torch_sendnn). */
export const spyre: AcceleratorFamily<Spyre> = {
  matches: (a): a is Spyre => a.kind === "spyre",
  label: "IBM Spyre",
  backend: null,
  knownArchs: ["spyre"],
  support(_acc, engine) {
    return engine === "vllm"
      ? {
          level: "unsupported",
          reason:
            "Spyre runs vLLM only through the vllm-spyre plug-in, which pins one vLLM minor and needs IBM's torch_sendnn stack; neither is in nixpkgs, so hwflake cannot build it yet",
          sources: [SRC.spyreNotPackaged],
        }
      : { level: "unsupported", reason: `${engine} has no Spyre backend`, sources: [SRC.spyreNotPackaged] };
  },
  buildTarget: () => "spyre",
  buildSet: () => null,
  pinning: () => ({ env: {}, reason: "", sources: [], warnings: [] }),
  engineArgs: () => null,
};
