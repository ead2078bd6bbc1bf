/**
 * Reading profile files at the CLI's edge: synchronously (a fleet reads thousands of small
 * files, and one synchronous read costs a tenth of a promise-based one), and never more than
 * one byte past the profile limit, so /dev/zero or a multi-GB file is refused at once instead
 * of being read into memory.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { UserError } from "../errors.js";
import { PROFILE_LIMITS } from "../profile/index.js";

/** Bytes a profile may have: 4 per character covers any UTF-8. */
const MAX_BYTES = PROFILE_LIMITS.maxChars * 4;

// One buffer for every read: reads are synchronous, so no two use it at once.
let buffer: Buffer | undefined;

/**
 * The text of `file`, or a UserError that starts with `what` (e.g. "--profile x.yaml") and
 * says why: unreadable, or larger than a profile can be.
 */
export function readProfileFile(file: string, what: string): string {
  const buf = (buffer ??= Buffer.allocUnsafe(MAX_BYTES + 1));
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new UserError(`${what}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)}); pass a YAML or JSON profile, e.g. examples/mi50-desktop.yaml`);
  }
  try {
    let len = 0;
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0 || (len += n) === buf.length) break;
    }
    if (len > MAX_BYTES) throw new UserError(`${what}: larger than ${MAX_BYTES} bytes; a profile is a few KB: is this the right file?`);
    return buf.toString("utf8", 0, len);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${what}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)}); pass a YAML or JSON profile, e.g. examples/mi50-desktop.yaml`);
  } finally {
    closeSync(fd);
  }
}
