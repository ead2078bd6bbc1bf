/**
 * Accelerators: one detector per family, beside its knowledge file in
 * ../../knowledge/accelerators/ (amd-gpu, nvidia-gpu, tpu, spyre). This file only merges their
 * results into the profile's list, in a stable order, with ids and unknowns.
 */
import { PCI_VENDOR } from "../../knowledge/identify.js";
import type { ProfileInput } from "../../profile/schema.js";
import type { Accel, Files, Recorder } from "../recorder.js";
import { detectAmd } from "./amd-gpu.js";
import { gpuFromCand, orderKeys, type AccelFacts } from "./candidate.js";
import { detectNvidia } from "./nvidia-gpu.js";
import { collectPci } from "./pci.js";
import { detectSpyres } from "./spyre.js";
import { detectTpus } from "./tpu.js";

/** Fill profile.accelerators; add the paths the capture cannot show to `unknown`. */
export function detectAccelerators(files: Files, rec: Recorder, profile: ProfileInput, unknown: string[]): void {
  const amd = detectAmd(files, rec);
  const nv = detectNvidia(files, rec);
  const pci = collectPci(files, rec);

  // GPUs: PCI order, then those without an address in enumeration order.
  const cands = [...amd.cands, ...nv.cands].sort((a, b) => {
    if (a.pci && b.pci) return a.pci < b.pci ? -1 : a.pci > b.pci ? 1 : 0;
    if (a.pci) return -1;
    if (b.pci) return 1;
    return a.vendor === b.vendor ? a.order - b.order : a.vendor < b.vendor ? -1 : 1;
  });
  const gpus: Array<{ accel: Accel; facts: AccelFacts }> = [];
  // ROCm device index: position among AMD GPUs in enumeration (KFD node) order.
  const amdOrder = amd.cands.filter((c) => c.fields.has("arch") || c.fields.size > 0);
  for (const c of cands) {
    const r = gpuFromCand(c, rec);
    if (!r.accel) continue;
    if (c.vendor === "amd" && !("uuid" in r.accel)) {
      const idx = amdOrder.indexOf(c);
      (r.accel as Record<string, unknown>)["index"] = idx;
      r.facts.push(["index", idx, [...new Set([...c.fields.values()].flatMap((f) => f.from))].sort()]);
    }
    gpus.push({ accel: r.accel, facts: r.facts });
  }

  // A GPU lspci shows that no driver tool described is reported, never guessed.
  const known = new Set(cands.map((c) => c.pci).filter(Boolean));
  for (const d of pci.devices) {
    if ((d.vendorId === PCI_VENDOR.nvidia || d.vendorId === PCI_VENDOR.amd) && d.classCode?.startsWith("03") && !known.has(d.pciAddress)) {
      const who = d.vendorId === PCI_VENDOR.nvidia ? "nvidia" : "amd";
      rec.msg(`PCI ${d.pciAddress} is an ${who} GPU (${d.description}) that no driver tool describes; left out (capture ${who === "nvidia" ? "nvidia-smi -q" : "rocminfo"} to include it)`);
    }
  }

  const accels: Accel[] = [];
  const finish = (accel: Accel, facts: AccelFacts) => {
    const i = accels.length;
    accels.push(accel);
    rec.fact(`accelerators[${i}].id`, accel.id, []);
    for (const [k, v, from] of facts) rec.fact(`accelerators[${i}].${k}`, v, from);
    const optional = accel.kind === "gpu" ? ["model", "memoryMiB", "pciAddress", "uuid"] : ["model", "memoryMiB"];
    for (const k of optional) {
      if (k in accel || (k === "uuid" && "index" in accel)) continue;
      unknown.push(`accelerators[${i}].${k}`);
    }
  };
  gpus.forEach((p, g) => finish(orderKeys({ ...p.accel, id: `gpu${g}` } as Accel), p.facts));
  detectTpus(pci, rec).forEach((p, t) => finish({ ...p.accel, id: `tpu${t}` } as Accel, p.facts));
  detectSpyres(pci).forEach((p, s) => finish({ ...p.accel, id: `spyre${s}` } as Accel, p.facts));
  profile.accelerators = accels;
  if (!pci.withIds) {
    unknown.push("accelerators");
    rec.msg("accelerators: no lspci -nn in the capture, so cards without a driver tool (TPU, Spyre, GPUs) cannot be seen; the list may be incomplete");
  }
}
