/**
 * Reading profile and fleet files at the CLI's edge: synchronously (a fleet reads thousands of
 * small files, and one synchronous read costs a tenth of a promise-based one), and never more
 * than one byte past a limit, so /dev/zero or a multi-GB file is refused at once instead of
 * being read into memory.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { UserError } from "../errors.js";
import { PROFILE_LIMITS } from "../profile/index.js";

/** Bytes a profile may have: 4 per character covers any UTF-8. */
const PROFILE_MAX_BYTES = PROFILE_LIMITS.maxChars * 4;

/**
 * Bytes a fleet file may have: 4 MiB, room for the addresses of some 100,000 hosts (a line
 * each) and its services.
 */
export const FLEET_FILE_MAX_BYTES = 4 * 1024 * 1024;

// One buffer for every profile read: reads are synchronous, so no two use it at once.
let buffer: Buffer | undefined;

/**
 * The text of a profile, or a UserError that starts with `what` (e.g. "--profile x.yaml") and
 * says why: unreadable, or larger than a profile can be.
 */
export function readProfileFile(file: string, what: string): string {
  buffer ??= Buffer.allocUnsafe(PROFILE_MAX_BYTES + 1);
  return readBounded(file, what, buffer, "a profile is a few KB: is this the right file?", "pass a YAML or JSON profile, e.g. examples/mi50-desktop.yaml");
}

/** The text of a fleet file (fleet.yaml), as readProfileFile with the fleet file's limit. */
export function readFleetFile(file: string): string {
  return readBounded(file, file, Buffer.allocUnsafe(FLEET_FILE_MAX_BYTES + 1), "a fleet file lists services and host addresses: is this the right file?", "fleet.yaml must be a readable YAML or JSON file");
}

/** At most buf.length bytes of `file`; one more than the limit means too large. */
function readBounded(file: string, what: string, buf: Buffer, tooLarge: string, fix: string): string {
  const max = buf.length - 1;
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new UserError(`${what}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)}); ${fix}`);
  }
  try {
    let len = 0;
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0 || (len += n) === buf.length) break;
    }
    if (len > max) throw new UserError(`${what}: larger than ${max} bytes; ${tooLarge}`);
    return buf.toString("utf8", 0, len);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${what}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)}); ${fix}`);
  } finally {
    closeSync(fd);
  }
}
