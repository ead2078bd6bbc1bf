/** lspci output: plain, `-nn` (with [class] and [vendor:device] ids), `-k` (driver lines). */
import { cleanText, normalizePci } from "./text.js";

/** One PCI function. */
export interface PciDevice {
  pciAddress: string;
  /** Class name as printed ("Display controller"). */
  className: string;
  /** Class code from -nn ("0380"), lower case. */
  classCode?: string;
  /** Vendor and device ids from -nn, lower-case hex without 0x. */
  vendorId?: string;
  deviceId?: string;
  /** Everything after the class, without the ids and revision. */
  description: string;
  /** "Kernel driver in use" from -k. */
  driver?: string;
}

/** Parse lspci output; lines that are not device lines are skipped. */
export function parseLspci(text: string): { devices: PciDevice[]; problems: string[] } {
  const devices: PciDevice[] = [];
  let cur: PciDevice | null = null;
  for (const line of cleanText(text).split("\n")) {
    const m = /^((?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+(.+?):\s(.*)$/.exec(line);
    if (m) {
      const addr = normalizePci(m[1]);
      if (!addr) continue;
      let cls = m[2]!;
      let desc = m[3]!;
      const dev: PciDevice = { pciAddress: addr, className: cls, description: desc };
      const cc = /^(.*?)\s*\[([0-9a-fA-F]{4})\]$/.exec(cls);
      if (cc) {
        cls = cc[1]!;
        dev.className = cls;
        dev.classCode = cc[2]!.toLowerCase();
      }
      desc = desc.replace(/\s*\(rev [0-9a-fA-F]+\)\s*$/, "").replace(/\s*\(prog-if [^)]*\)\s*$/, "");
      const ids = /\s*\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]\s*$/.exec(desc);
      if (ids) {
        dev.vendorId = ids[1]!.toLowerCase();
        dev.deviceId = ids[2]!.toLowerCase();
        desc = desc.slice(0, ids.index);
      }
      dev.description = desc.trim();
      devices.push(dev);
      cur = dev;
      continue;
    }
    const drv = /^\s+Kernel driver in use:\s*(\S+)/.exec(line);
    if (drv && cur) cur.driver = drv[1];
  }
  return { devices, problems: devices.length === 0 ? ["no PCI devices"] : [] };
}
