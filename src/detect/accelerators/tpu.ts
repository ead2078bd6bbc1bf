/**
 * Google TPUs, by PCI id (no driver tool is needed). Knowledge about them is in
 * ../../knowledge/accelerators/tpu.ts.
 */
import { PCI_VENDOR, TPU_DEVICE_IDS, TPU_V2_V3_DEVICE_ID } from "../../knowledge/identify.js";
import type { Accel, Recorder } from "../recorder.js";
import type { AccelFacts } from "./candidate.js";
import type { PciScan } from "./pci.js";

/** One entry per TPU generation, with its chip count (ids are assigned by the caller). */
export function detectTpus(pci: PciScan, rec: Recorder): Array<{ accel: Accel; facts: AccelFacts }> {
  const tpus = new Map<string, { addrs: string[]; from: string[] }>();
  for (const d of pci.devices) {
    if (d.vendorId !== PCI_VENDOR.google) continue;
    const gen = TPU_DEVICE_IDS[d.deviceId ?? ""];
    if (gen) {
      const t = tpus.get(gen) ?? { addrs: [], from: [] };
      t.addrs.push(d.pciAddress);
      t.from.push(pci.from.get(d.pciAddress)!);
      tpus.set(gen, t);
    } else if (d.deviceId === TPU_V2_V3_DEVICE_ID) {
      rec.msg(`TPU at ${d.pciAddress}: device 1ae0:0027 is TPU v2 or v3 (told apart only by the PCI subsystem id); add it by hand`);
    }
  }
  return [...tpus].sort(([a], [b]) => (a < b ? -1 : 1)).map(([gen, info]) => {
    const accel: Accel = { kind: "tpu", vendor: "google", id: "tpu0", arch: gen as "v4", chips: info.addrs.length };
    // A single chip has one address; a host's several chips are one entry without one.
    if (info.addrs.length === 1) accel.pciAddress = info.addrs[0];
    const from = [...new Set(info.from)];
    const facts: AccelFacts = [
      ["arch", gen, from],
      ["chips", info.addrs.length, from],
    ];
    if (accel.pciAddress) facts.push(["pciAddress", accel.pciAddress, info.from]);
    return { accel, facts };
  });
}
