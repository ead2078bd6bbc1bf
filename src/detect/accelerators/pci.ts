/** PCI devices from lspci outputs (plain, -nn, -k merged by address). */
import { parseLspci, type PciDevice } from "../parsers/lspci.js";
import { toolFiles, type Files, type Recorder } from "../recorder.js";

/** The devices lspci shows; `withIds` when some output had vendor:device ids; `from` per address. */
export interface PciScan {
  devices: PciDevice[];
  withIds: boolean;
  from: Map<string, string>;
}

/** Merge every lspci output in the capture. */
export function collectPci(files: Files, rec: Recorder): PciScan {
  const byAddr = new Map<string, PciDevice>();
  const from = new Map<string, string>();
  let withIds = false;
  for (const p of toolFiles(files, "lspci")) {
    const r = parseLspci(files.get(p)!);
    for (const pr of r.problems) rec.msg(`${p}: ${pr}`);
    for (const d of r.devices) {
      const cur = byAddr.get(d.pciAddress);
      if (d.vendorId) withIds = true;
      if (!cur) {
        byAddr.set(d.pciAddress, { ...d });
        if (d.vendorId) from.set(d.pciAddress, p);
      } else {
        if (!cur.vendorId && d.vendorId) {
          cur.vendorId = d.vendorId;
          cur.deviceId = d.deviceId;
          cur.classCode = d.classCode;
          cur.description = d.description;
          from.set(d.pciAddress, p);
        }
        cur.driver ??= d.driver;
      }
    }
  }
  const devices = [...byAddr.values()].sort((a, b) => (a.pciAddress < b.pciAddress ? -1 : 1));
  return { devices, withIds, from };
}

