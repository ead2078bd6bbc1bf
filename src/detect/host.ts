/** The host name, the operating system and installed memory. */
import { DetectError } from "../errors.js";
import type { ProfileInput } from "../profile/schema.js";
import { kibToMiB, parseMeminfo } from "./parsers/meminfo.js";
import { parseOsRelease } from "./parsers/os-release.js";
import { cleanText } from "./parsers/text.js";
import type { Files, Recorder } from "./recorder.js";
import type { DetectOptions } from "./types.js";

const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** memory.totalMiB from proc/meminfo's MemTotal. */
export function detectMemory(files: Files, rec: Recorder, profile: ProfileInput): void {
  const text = files.get("proc/meminfo");
  if (text === undefined) return;
  const t = parseMeminfo(text).totalKiB;
  const mib = t !== undefined ? kibToMiB(t) : 0;
  if (mib > 0) {
    profile.memory = { totalMiB: mib };
    rec.fact("memory.totalMiB", mib, ["proc/meminfo"]);
  } else rec.msg("proc/meminfo: no MemTotal line");
}

/** The host name: the option, else the captured kernel host name's first label, else "localhost". */
export function detectHost(files: Files, rec: Recorder, opts: DetectOptions): string {
  if (opts.host !== undefined) {
    if (!HOSTNAME_RE.test(opts.host)) throw new DetectError(`host "${opts.host}" is not a host name (letters, digits and '-', at most 63 characters)`);
    rec.fact("host", opts.host, []);
    return opts.host;
  }
  const path = "proc/sys/kernel/hostname";
  const text = files.get(path);
  if (text !== undefined) {
    const raw = cleanText(text).trim();
    // The kernel host name may be a full domain name; NixOS wants the first label.
    const label = raw.split(".")[0] ?? "";
    if (HOSTNAME_RE.test(label)) {
      if (label !== raw) rec.msg(`${path}: "${raw}" shortened to its first label "${label}"`);
      rec.fact("host", label, [path]);
      return label;
    }
    rec.msg(`${path}: "${raw.slice(0, 40)}" is not a usable host name`);
  }
  rec.msg('host: not captured; defaulted to "localhost" (pass a host name to override)');
  return "localhost";
}

// os-release(5): ID and VERSION_ID are lower case, digits, ".", "_" and "-" ("20.04", "12",
// "25.05"); VERSION_ID is accepted a little wider (upper case, "~"). Values outside that shape
// are reported and left unknown rather than passed on.
const OS_ID_RE = /^[a-z0-9._-]+$/;
const OS_VERSION_RE = /^[A-Za-z0-9._~-]+$/;

/**
 * os.id and os.versionId from etc/os-release, else usr/lib/os-release (os-release(5): "the
 * former takes precedence … applications should only fall back to the latter if the former
 * does not exist"). A file without ID leaves the OS unknown.
 */
export function detectOs(files: Files, rec: Recorder, profile: ProfileInput): void {
  const path = ["etc/os-release", "usr/lib/os-release"].find((p) => files.has(p));
  if (path === undefined) return;
  const vars = parseOsRelease(files.get(path)!);
  const id = vars.get("ID");
  if (id === undefined || !OS_ID_RE.test(id)) {
    rec.msg(id === undefined ? `${path}: no ID line; the operating system stays unknown` : `${path}: ID "${id.slice(0, 40)}" is not an os-release ID; the operating system stays unknown`);
    return;
  }
  const version = vars.get("VERSION_ID");
  profile.os = { id };
  rec.fact("os.id", id, [path]);
  if (version !== undefined && OS_VERSION_RE.test(version)) {
    profile.os.versionId = version;
    rec.fact("os.versionId", version, [path]);
  } else if (version !== undefined) rec.msg(`${path}: VERSION_ID "${version.slice(0, 40)}" is not an os-release version; left out`);
}
