/** The accelerator families hwflake knows. Add a file, then list it here. */
import type { Accelerator } from "../../profile/schema.js";
import type { AcceleratorFamily } from "../types.js";
import { amdGpu } from "./amd-gpu.js";
import { nvidiaGpu } from "./nvidia-gpu.js";
import { spyre } from "./spyre.js";
import { tpu } from "./tpu.js";

/** Every known family, in the order families are tried. */
export const FAMILIES: readonly AcceleratorFamily[] = [
  amdGpu as AcceleratorFamily,
  nvidiaGpu as AcceleratorFamily,
  tpu as AcceleratorFamily,
  spyre as AcceleratorFamily,
];

/** The family an accelerator belongs to (every schema-valid entry has one). */
export function familyOf(acc: Accelerator): AcceleratorFamily {
  const f = FAMILIES.find((fam) => fam.matches(acc));
  if (!f) throw new Error(`no knowledge for accelerator kind ${acc.kind}`);
  return f;
}

export { amdGpu, nvidiaGpu, spyre, tpu };
export { CLR_GPU_TARGETS, KNOWN_AMD_ARCHS } from "./amd-gpu.js";
export { CUDA_UNFREE_LICENSES, KNOWN_CUDA_CAPABILITIES, capabilityNumber, smArch } from "./nvidia-gpu.js";
