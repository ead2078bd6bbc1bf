/**
 * Capture: copy this host's relevant procfs/sysfs files and tool outputs into a folder, so
 * detection can run later or elsewhere (`detectFromDir`). Needs no root; unreadable files are
 * skipped and recorded. Serial numbers are left out unless asked for. UUIDs are kept: GPU pinning
 * (ROCR_VISIBLE_DEVICES, CUDA_VISIBLE_DEVICES) needs them, and they identify a device, not a person.
 */
import { MANIFEST, prepareCaptureDir, readLiveHost, writeCaptureFiles } from "./io.js";
import type { CaptureReport } from "./types.js";

/** Options for {@link captureHost}. */
export interface CaptureOptions {
  /** Keep serial-number lines (default: drop them). */
  serials?: boolean;
}

/** Lines that carry serial numbers: nvidia-smi -q "Serial Number", rocm-smi "Serial Number", ARM/POWER cpuinfo "Serial". */
const SERIAL_LINE = /^(\s*(?:GPU\[\d+\]\s*:\s*)?(?:Serial Number|Serial|serial|Board Serial Number)\s*:).*$/gm;

/** Remove serial-number lines from a captured file (pure). */
export function redactSerials(text: string): string {
  return text.replace(SERIAL_LINE, "").replace(/\n{3,}/g, "\n\n");
}

/** Capture this host into `dir` (created if needed; a non-empty non-capture folder is refused). */
export async function captureHost(dir: string, opts: CaptureOptions = {}): Promise<CaptureReport> {
  await prepareCaptureDir(dir);
  const live = await readLiveHost();
  const files = new Map<string, string>();
  for (const [rel, text] of live.files) files.set(rel, opts.serials ? text : redactSerials(text));
  const report: CaptureReport = {
    dir,
    files: [...files.keys()].sort(),
    toolsRan: live.toolsRan,
    toolsMissing: live.toolsMissing,
    toolsFailed: live.toolsFailed,
    skipped: live.skipped,
  };
  const manifest = {
    format: "hwflake-capture",
    version: 1,
    createdAt: new Date().toISOString(),
    serials: opts.serials === true,
    files: report.files,
    tools: { ran: report.toolsRan, missing: report.toolsMissing, failed: report.toolsFailed },
    skipped: report.skipped,
  };
  files.set(MANIFEST, JSON.stringify(manifest, null, 2) + "\n");
  await writeCaptureFiles(dir, files);
  return report;
}
