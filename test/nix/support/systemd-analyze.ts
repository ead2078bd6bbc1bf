/**
 * systemd-analyze on rendered unit files: `security --offline=true` scores (systemd.exec
 * exposure, 0 = fully sandboxed … 10) and `verify` findings.
 *
 * In CI (CI=true) a missing systemd-analyze is a failure, never a skip.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const KEEP_DIR = process.env.HWFLAKE_KEEP_UNITS;
const probe = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
export const systemdAnalyzeVersion: string | null = probe.status === 0 ? probe.stdout.split("\n")[0]!.trim() : null;

if (!systemdAnalyzeVersion && process.env.CI) throw new Error("systemd-analyze is needed in CI (apt-get install systemd)");

export const skipSystemdAnalyze = systemdAnalyzeVersion === null;

/** Write unit files (file name such as `x.service` → text) into a fresh folder and return its path. */
export function writeUnits(units: Record<string, string>): string {
  const dir = KEEP_DIR ?? mkdtempSync(join(tmpdir(), "hwflake-units-"));
  for (const [name, text] of Object.entries(units)) writeFileSync(join(dir, name), text);
  return dir;
}

/** `systemd-analyze security --offline=true <file>`: the overall exposure level. */
export function securityScore(file: string): number {
  const r = spawnSync("systemd-analyze", ["security", "--offline=true", "--no-pager", file], { encoding: "utf8" });
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(r.stdout);
  if (!m) throw new Error(`no score for ${file}: ${r.stdout}\n${r.stderr}`);
  return Number(m[1]);
}

/** `systemd-analyze verify <files>` (loaded together, so they may refer to each other): every line it prints. */
export function verify(files: string[]): string[] {
  const r = spawnSync("systemd-analyze", ["verify", "--no-pager", ...files], { encoding: "utf8" });
  return `${r.stdout}\n${r.stderr}`
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
}
