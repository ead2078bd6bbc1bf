/**
 * IBM Spyre cards, by PCI id. Knowledge about them is in ../../knowledge/accelerators/spyre.ts.
 */
import { PCI_VENDOR, SPYRE_DEVICE_IDS } from "../../knowledge/identify.js";
import type { Accel } from "../recorder.js";
import type { AccelFacts } from "./candidate.js";
import type { PciScan } from "./pci.js";

/** One entry per Spyre card (ids are assigned by the caller). */
export function detectSpyres(pci: PciScan): Array<{ accel: Accel; facts: AccelFacts }> {
  return pci.devices
    .filter((d) => d.vendorId === PCI_VENDOR.ibm && SPYRE_DEVICE_IDS.includes(d.deviceId ?? ""))
    .map((d) => {
      const from = [pci.from.get(d.pciAddress)!];
      const accel: Accel = { kind: "spyre", vendor: "ibm", id: "spyre0", pciAddress: d.pciAddress, arch: "spyre" };
      return {
        accel,
        facts: [
          ["pciAddress", d.pciAddress, from],
          ["arch", "spyre", from],
        ] as AccelFacts,
      };
    });
}
