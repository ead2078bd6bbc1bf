/**
 * Writing a detected profile to a file (`hwflake detect --out`).
 *
 * A profile is meant to be edited by hand afterwards, so unlike generated flake files it is
 * never replaced silently: an existing file with different contents is refused unless forced.
 */
import { readFile } from "node:fs/promises";
import { UserError, WriteConflictError } from "../errors.js";
import { atomicWrite } from "./write.js";

/** Options for `writeProfileFile`. */
export interface ProfileWriteOptions {
  /** Replace an existing file even when its contents differ. */
  readonly force?: boolean;
}

/**
 * Write `text` to `path` atomically. Returns false when the file already held exactly `text`
 * (nothing written, mtime untouched), true when it was written. Throws WriteConflictError when
 * a different file exists and `force` is not set.
 */
export async function writeProfileFile(path: string, text: string, opts: ProfileWriteOptions = {}): Promise<boolean> {
  let current: string | null = null;
  try {
    current = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A folder, or a file standing where a parent folder must be: bad input, never replaced.
    if (code === "EISDIR" || code === "ENOTDIR") throw new WriteConflictError(`--out ${path}: ${code === "EISDIR" ? "is a folder" : "a parent of it is a file"}; nothing was written. Choose a file path.`);
    if (code !== "ENOENT") throw new UserError(`--out ${path}: cannot read it (${code ?? String(err)}); nothing was written.`);
  }
  if (current === text) return false;
  if (current !== null && !opts.force) {
    throw new WriteConflictError(`refusing to overwrite ${path}: it exists and may hold your edits; nothing was written. Remove it or choose another --out.`);
  }
  try {
    atomicWrite(path, text, undefined);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code !== "string") throw err;
    throw new UserError(`--out ${path}: cannot write it (${code}); nothing was written.`);
  }
  return true;
}
