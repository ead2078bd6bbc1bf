/**
 * Put rendered files on disk: the only module in hwflake that writes files.
 *
 * Rules: never overwrite a file hwflake did not generate (no marker) unless forced, and then
 * refuse the whole batch before writing anything; an empty file is the exception, as it holds
 * nothing to lose (and is what a power loss can leave of a fresh write); leave identical files
 * alone so their mtime (and any build tool watching it) is untouched; replace files atomically
 * (a temporary file, then a rename) so a process that dies never leaves half a file behind.
 * Files are not flushed to disk one by one (only the folders and the manifest are), so after a
 * power loss a file may be empty: the manifest check reports it and the next run rewrites it.
 * A file system that brings back other bytes (ext4 data=writeback) leaves a file without the
 * marker, which is refused until --force: safe, not repaired.
 *
 * A run killed part way can still leave a folder whose files come from two runs, and temporary
 * files. So the writer writes a manifest (MANIFEST_PATH: the SHA-256 of every file) last: a
 * file that differs from it was written by a run that never finished (or edited by hand), which
 * `--check` reports and the next run repairs. Temporary files of a run that is gone are removed.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, constants as fsConstants, fchmodSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join, posix } from "node:path";
import { InternalError, UserError, WriteConflictError } from "../errors.js";
import { MARKER_TAG, hasMarker } from "./marker.js";

/** The manifest, relative to the output folder; written after every other file. */
export const MANIFEST_PATH = ".hwflake-manifest";

/** Temporary files atomicWrite creates beside a target: `.<name>.hwflake-<pid>-<hex>.tmp`. */
const TEMP_RE = /^\..+\.hwflake-(\d+)-[0-9a-f]{12}\.tmp$/;

/** One generated file: a relative POSIX path inside the output folder and its full text. */
export interface RenderedFile {
  readonly path: string;
  readonly contents: string;
}

/** Options for `writeFiles`. */
export interface WriteOptions {
  /** Folder the relative paths are resolved against; created when missing. */
  readonly outDir: string;
  /** Report what would change and write nothing. */
  readonly check?: boolean;
  /** Overwrite existing files even when they lack the @generated marker. */
  readonly force?: boolean;
}

/** What `writeFiles` did (or, in check mode, would do). Every list is sorted. */
export interface WriteReport {
  /** Files created or replaced. Always empty in check mode. */
  readonly written: string[];
  /** Files whose contents already matched. */
  readonly unchanged: string[];
  /** Check mode only: files that are missing or differ from what would be written. */
  readonly stale: string[];
  /**
   * Existing files without the marker that differ and would be overwritten (without force).
   * Outside check mode a non-empty list is thrown as WriteConflictError instead.
   */
  readonly refused: string[];
  /**
   * Files that differ from the manifest of the last complete run: written by a run that was
   * interrupted (or edited by hand). Check mode reports them; a write repairs them.
   */
  readonly interrupted: string[];
  /** Temporary files left by a killed run: removed (in check mode: would be removed). */
  readonly leftovers: string[];
}

type Plan = {
  file: RenderedFile;
  target: string;
  state: "missing" | "same" | "differs" | "refused" | "blocked";
  mode?: number;
  /** For "blocked": the relative path of the file standing where a folder must go. */
  blocker?: string;
  /** What the target holds now (null: nothing), when it was read. */
  current?: string | null;
};

/**
 * The manifest text for a set of files: a marker line, then `sha256sum` lines sorted by path,
 * so `sha256sum -c .hwflake-manifest` checks a folder by hand (it skips the comment lines).
 */
export function manifestText(files: readonly RenderedFile[], hashes: ReadonlyMap<string, string> = hashesOf(files)): string {
  const lines = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => `${hashes.get(f.path) ?? sha256(f.contents)}  ${f.path}`);
  return [
    `# ${MARKER_TAG}: the SHA-256 of every file of the last complete run, written last. Do not edit.`,
    ...lines,
    "",
  ].join("\n");
}

function hashesOf(files: readonly RenderedFile[]): Map<string, string> {
  return new Map(files.map((f) => [f.path, sha256(f.contents)]));
}

/** Path → hash from a manifest's text; lines that are not `<sha256>  <path>` are skipped. */
function parseManifest(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * Write `files` under `opts.outDir`.
 *
 * All targets are inspected before anything is written: if any existing file would be
 * refused, a WriteConflictError naming every such file is thrown and no file is touched.
 * In check mode nothing is written and nothing is thrown; the report says what is stale.
 */
export async function writeFiles(files: readonly RenderedFile[], opts: WriteOptions): Promise<WriteReport> {
  const seen = new Set<string>();
  for (const f of files) {
    assertSafeRelativePath(f.path);
    if (seen.has(f.path)) throw new InternalError(`writeFiles: ${f.path} appears twice`);
    if (f.path === MANIFEST_PATH) throw new InternalError(`writeFiles: ${f.path} is the writer's own manifest`);
    seen.add(f.path);
  }
  assertFolder(opts.outDir);

  const hashes = hashesOf(files);
  const manifest: RenderedFile = { path: MANIFEST_PATH, contents: manifestText(files, hashes) };
  const sorted = [manifest, ...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // Reads are synchronous: for thousands of small files that is several times faster than
  // promise-based reads, and nothing else runs meanwhile.
  const listed = folderListings();
  const plans = sorted.map((file) => inspect(file, opts, listed));
  const interrupted = interruptedFiles(opts.outDir, new Map(plans.map((p) => [p.file.path, p])), hashes);
  const leftovers = leftoverTemps(opts.outDir, plans.map((p) => dirname(p.target)));

  const pick = (...states: Plan["state"][]) => plans.filter((p) => states.includes(p.state)).map((p) => p.file.path);
  const unchanged = pick("same");
  const refused = pick("refused", "blocked");

  if (opts.check) {
    return { written: [], unchanged, stale: pick("missing", "differs", "refused", "blocked"), refused, interrupted, leftovers };
  }
  const blocked = plans.filter((p) => p.state === "blocked");
  if (blocked.length > 0) {
    // Never replaced, not even with --force: the file in the way may be anything of the user's.
    const blockers = [...new Set(blocked.map((p) => p.blocker!))];
    throw new WriteConflictError(
      `${blockers.map((b) => `${b === "." ? opts.outDir : join(opts.outDir, b)} is a file where hwflake needs a folder`).join("; ")}; ` +
        "nothing was written. Move it away or choose another --out.",
    );
  }
  if (refused.length > 0) {
    throw new WriteConflictError(
      `refusing to overwrite ${refused.length} file(s) in ${opts.outDir} that hwflake did not generate ` +
        `(no "@generated by hwflake" marker); nothing was written:\n${refused.map((p) => `  ${p}`).join("\n")}\n` +
        "Move them away, or pass --force to overwrite them.",
    );
  }

  for (const rel of leftovers) {
    try {
      unlinkSync(join(opts.outDir, ...rel.split("/")));
    } catch {
      /* already gone */
    }
  }
  const written: string[] = [];
  const write = (p: Plan, opts: AtomicWriteOptions): void => {
    try {
      atomicWrite(p.target, p.file.contents, p.mode, opts);
    } catch (err) {
      throw asUserError(err, `cannot write ${p.target}`, written);
    }
    written.push(p.file.path);
  };
  // Every file but the manifest, then each folder's entries flushed once, then the manifest:
  // until it is replaced, it describes the previous complete run. The files themselves are not
  // flushed one by one (that cost seconds per 10,000 files here): a rename is atomic whatever
  // happens to the process, and after a power loss a file may come back empty, which the
  // manifest check reports and the next run rewrites (an empty file is never refused).
  // Synchronous calls: for thousands of small files they take less time than promise-based
  // ones, and nothing else runs meanwhile.
  const changed = plans.filter((p) => p.state !== "same" && p.file !== manifest);
  const folders = [...new Set(changed.map((p) => dirname(p.target)))].sort();
  for (const dir of folders) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw asUserError(err, `cannot create ${dir}`, written);
    }
  }
  for (const p of changed) write(p, { syncFolder: false, flushFile: false, makeFolder: false });
  for (const dir of folders) syncDir(dir);
  const last = plans.find((p) => p.file === manifest)!;
  if (last.state !== "same") write(last, {});
  return { written: written.sort(), unchanged, stale: [], refused: [], interrupted, leftovers };
}

/** `outDir` must be a folder or not exist yet; a file there is bad input (exit 2), not a crash. */
function assertFolder(outDir: string): void {
  try {
    if (!statSync(outDir).isDirectory()) {
      throw new WriteConflictError(`--out ${outDir} is a file, not a folder; nothing was written. Choose a folder (it is created when missing).`);
    }
  } catch (err) {
    if (err instanceof WriteConflictError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return;
    if (code === "ENOTDIR") {
      throw new WriteConflictError(`--out ${outDir}: a file stands where one of its parent folders must be; nothing was written.`);
    }
    throw asUserError(err, `--out ${outDir}: cannot use it`, []);
  }
}

/**
 * A file-system error (permissions, read-only, disk full, too many links) is a problem with the
 * place the user pointed us at, so it becomes a UserError naming the file and what was already
 * written; anything else is a bug and is rethrown.
 */
function asUserError(err: unknown, what: string, written: readonly string[]): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string") return err;
  const done = written.length
    ? ` Already written: ${written.join(", ")}; run hwflake generate again once it is fixed (--check shows the folder as interrupted until then).`
    : " Nothing was written.";
  return new UserError(`${what} (${code}).${done}`);
}

/**
 * The names in each folder, read once per folder: a file that is not there is missing without
 * a failed read (in a fresh output folder, one error per file cost about a third of a second
 * per 10,000 files). Null when the folder cannot be listed: inspect then reads, and reports why.
 */
function folderListings(): (dir: string) => ReadonlySet<string> | null {
  const cache = new Map<string, ReadonlySet<string> | null>();
  return (dir) => {
    let names = cache.get(dir);
    if (names === undefined) {
      try {
        // Lower-cased too: on a case-insensitive file system "readme.md" is README.md's file,
        // which must be read (and its marker checked), not taken as missing.
        names = new Set(readdirSync(dir).flatMap((n) => [n, n.toLowerCase()]));
      } catch (err) {
        names = (err as NodeJS.ErrnoException).code === "ENOENT" ? new Set() : null;
      }
      cache.set(dir, names);
    }
    return names;
  };
}

function inspect(file: RenderedFile, opts: WriteOptions, listed: (dir: string) => ReadonlySet<string> | null): Plan {
  const target = join(opts.outDir, ...file.path.split("/"));
  const names = listed(dirname(target));
  const name = basename(target);
  if (names && !names.has(name) && !names.has(name.toLowerCase())) return { file, target, state: "missing", current: null };
  let current: string;
  try {
    current = readFileSync(target, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { file, target, state: "missing", current: null };
    // A directory (or anything else unreadable) where a file should go is never ours to replace.
    if (code === "EISDIR") return { file, target, state: "refused" };
    if (code === "ENOTDIR") return { file, target, state: "blocked", blocker: firstNonFolder(opts.outDir, file.path), current: null };
    throw asUserError(err, `cannot read ${target}`, []);
  }
  if (current === file.contents) return { file, target, state: "same", current };
  // An empty file holds nothing to lose (and is what a power loss can leave of a fresh write).
  if (current !== "" && !hasMarker(current) && !opts.force) return { file, target, state: "refused", current };
  // Only a file that will be replaced needs its permissions (kept by atomicWrite).
  let mode: number;
  try {
    mode = statSync(target).mode & 0o7777;
  } catch (err) {
    throw asUserError(err, `cannot read ${target}`, []);
  }
  return { file, target, state: "differs", mode, current };
}

/** The first parent of `rel` (relative to outDir, "." for outDir itself) that exists and is not a folder. */
function firstNonFolder(outDir: string, rel: string): string {
  const parts = rel.split("/").slice(0, -1);
  for (let i = 0; i <= parts.length; i++) {
    const sub = parts.slice(0, i);
    try {
      if (!statSync(join(outDir, ...sub)).isDirectory()) return sub.length ? sub.join("/") : ".";
    } catch {
      return sub.join("/") || ".";
    }
  }
  return rel;
}

/**
 * Files listed in the existing manifest whose contents no longer match it (sorted). `known`
 * holds what inspection already read, so each file is read once; a file that already equals
 * what this run writes has that file's hash, so it is not hashed again.
 */
function interruptedFiles(outDir: string, known: ReadonlyMap<string, Plan>, hashes: ReadonlyMap<string, string>): string[] {
  let text: string;
  try {
    text = readFileSync(join(outDir, MANIFEST_PATH), "utf8");
  } catch {
    return [];
  }
  if (!hasMarker(text)) return [];
  // Only paths the writer itself could have written; a hand-edited manifest cannot point out.
  const entries = [...parseManifest(text)].filter(([rel]) => isSafeRelativePath(rel) && rel !== MANIFEST_PATH);
  const changed: string[] = [];
  for (const [rel, hash] of entries) {
    const plan = known.get(rel);
    let now: string | null;
    if (plan?.state === "same") now = hashes.get(rel)!;
    else {
      let current = plan?.current;
      if (current === undefined) {
        try {
          current = readFileSync(join(outDir, ...rel.split("/")), "utf8");
        } catch {
          current = null;
        }
      }
      now = current === null ? null : sha256(current);
    }
    if (now !== null && now !== hash) changed.push(rel);
  }
  return changed.sort();
}

/**
 * Temporary files (TEMP_RE) in the folders hwflake writes to whose process is gone: what a run
 * killed between creating and renaming a file leaves. A live process's files are left alone,
 * so two runs at once do not break each other. Relative to outDir, sorted.
 */
function leftoverTemps(outDir: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const dir of [...new Set([outDir, ...dirs])]) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = TEMP_RE.exec(name);
      if (!m || processAlive(Number(m[1]))) continue;
      const rel = posix.join(...dir.slice(outDir.length).split(/[\\/]/).filter(Boolean), name);
      out.push(rel);
    }
  }
  return out.sort();
}

/** True when a process with this id exists (ours included: its writes may be in flight). */
function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** How atomicWrite makes a file durable; a batch of thousands does some of it once. */
export interface AtomicWriteOptions {
  /** Flush the folder entry after the rename (a batch flushes each folder once, at the end). */
  readonly syncFolder?: boolean;
  /** Flush the file's data before the rename. */
  readonly flushFile?: boolean;
  /** Create the parent folders (a batch creates each once, beforehand). */
  readonly makeFolder?: boolean;
}

/**
 * Replace `target` with `contents`: write a temporary file beside it, flush it to disk, then
 * rename over the target (atomic within one file system), then flush the directory entry.
 * Parent folders are created. `mode` defaults to 0644 (less the umask).
 */
export function atomicWrite(target: string, contents: string, mode: number | undefined, opts: AtomicWriteOptions = {}): void {
  const { syncFolder = true, flushFile = true, makeFolder = true } = opts;
  const dir = dirname(target);
  if (makeFolder) mkdirSync(dir, { recursive: true });
  const temp = join(dir, `.${posix.basename(target)}.hwflake-${process.pid}-${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode ?? 0o644);
  try {
    try {
      writeAll(fd, contents);
      // Keep the replaced file's permissions; open()'s mode is filtered by the umask.
      if (mode !== undefined) fchmodSync(fd, mode);
      if (flushFile) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      /* never created, or already gone */
    }
    throw err;
  }
  if (syncFolder) syncDir(dir);
}

/** Write all of `text` (writeSync may write less than asked). */
function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text, "utf8");
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
}

function syncDir(dir: string): void {
  // Makes the rename durable on Linux; some platforms cannot fsync a directory, which only
  // weakens durability after a power loss, so failures here are ignored.
  try {
    const d = openSync(dir, fsConstants.O_RDONLY);
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    /* best effort */
  }
}

/** Paths come from the renderer; anything that could escape outDir is a bug, not user input. */
function assertSafeRelativePath(p: string): void {
  if (!isSafeRelativePath(p)) throw new InternalError(`writeFiles: ${JSON.stringify(p)} is not a plain relative POSIX path`);
}

function isSafeRelativePath(p: string): boolean {
  const parts = p.split("/");
  return !(
    p === "" ||
    p.startsWith("/") ||
    p.includes("\\") ||
    p.includes("\0") ||
    parts.some((part) => part === "" || part === "." || part === "..")
  );
}
