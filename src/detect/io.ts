/**
 * The only module of detection that touches the disk or runs processes. It knows the capture
 * layout (the public contract below) and walks only those subtrees, so a capture folder — or
 * the live "/" — is read quickly and nothing unrelated is picked up.
 *
 *   proc/cpuinfo  proc/meminfo  proc/sys/kernel/hostname
 *   etc/os-release (usr/lib/os-release where /etc has none)
 *   sys/devices/system/cpu/online
 *   sys/devices/system/cpu/{offline,present} (optional extras)
 *   sys/devices/system/cpu/cpu<N>/topology/{physical_package_id,thread_siblings_list}
 *   sys/devices/system/node/node<N>/{cpulist,meminfo} (cpumap as a fallback)
 *   sys/class/kfd/kfd/topology/nodes/<N>/properties (+ mem_banks/<M>/properties)
 *   proc/driver/nvidia/gpus/<bus>/information
 *   commands/<tool>.txt, commands/<tool>-<variant>.txt
 *
 * A capture folder is untrusted input (it may come attached to a bug report), so from it only
 * regular files inside the folder are read: a symlink that leads out of it, a FIFO (which would
 * block the read forever), a device (/dev/urandom never ends) or an oversized file is skipped
 * and reported instead. The live host's procfs and sysfs are read as they are.
 */
import { execFile } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { mkdir, open, readdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { DetectError } from "../errors.js";
import { MAX_CPU_NUMBER } from "../profile/schema.js";

/** Limits on reading a capture folder; the README documents them. */
export const CAPTURE_LIMITS = {
  /** Bytes per file (the largest real tool output seen is ~130 KB). */
  maxFileBytes: 8 * 1024 * 1024,
  /** Bytes over all files. */
  maxTotalBytes: 64 * 1024 * 1024,
  /** Files read (a 8192-CPU host has ~16,400 per-CPU topology files). */
  maxFiles: 40_000,
} as const;

/** Single files of the layout, capture-relative. */
export const LAYOUT_FILES = [
  "proc/cpuinfo",
  "proc/meminfo",
  "proc/sys/kernel/hostname",
  // The distribution (os-release(5)): decides between NixOS modules and system-manager.
  "etc/os-release",
  "usr/lib/os-release",
  "sys/devices/system/cpu/online",
  // Not in the minimal contract, but read when present: they show offline CPUs.
  "sys/devices/system/cpu/offline",
  "sys/devices/system/cpu/present",
] as const;

/** Name of the capture manifest. */
export const MANIFEST = "capture.json";

/** A file that exists but could not be read. */
export interface Skipped {
  path: string;
  reason: string;
}

/**
 * True for a folder index as the kernel writes it (cpu<N>, node<N>, kfd node <N>): canonical
 * decimal up to MAX_CPU_NUMBER. Detection turns the index into a number and back into a path, so
 * "007" or a 20-digit number would name a file that was never read.
 */
function isIndex(s: string): boolean {
  return /^(0|[1-9]\d{0,4})$/.test(s) && Number(s) <= MAX_CPU_NUMBER;
}

/** Why a capture file was not read; a missing file is not worth reporting. */
class Skip extends Error {}

/**
 * How files under one root are read. For a capture (`confined`), every path is resolved and
 * must stay inside the folder, and only regular files within the size caps are read.
 */
class Reader {
  private totalBytes = 0;

  private constructor(
    private readonly root: string,
    /** The capture folder with symlinks resolved; null for the live host (no confinement). */
    private readonly realRoot: string | null,
  ) {}

  /** A reader for `root`; `confined` for an untrusted capture folder. */
  static async create(root: string, confined: boolean): Promise<Reader> {
    return new Reader(root, confined ? await realpath(root) : null);
  }

  /** The resolved path of `rel`, or a Skip when it leads outside the capture folder. */
  private async resolve(rel: string): Promise<string> {
    const abs = join(this.root, rel);
    if (this.realRoot === null) return abs;
    const real = await realpath(abs);
    if (real !== this.realRoot && !real.startsWith(this.realRoot + sep)) throw new Skip("a symlink that leads out of the capture folder");
    return real;
  }

  /** Sorted entries of a folder; [] when it is missing, unreadable or outside the capture. */
  async list(rel: string, skipped: Skipped[]): Promise<string[]> {
    try {
      return (await readdir(await this.resolve(rel))).sort();
    } catch (e) {
      if (e instanceof Skip) skipped.push({ path: rel, reason: e.message });
      return [];
    }
  }

  /** The text of `rel`. Throws Skip (report it) or a file-system error (ENOENT: just absent). */
  async read(rel: string): Promise<string> {
    const abs = await this.resolve(rel);
    if (this.realRoot === null) return readFile(abs, "utf8");
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting; the fstat
    // below then refuses it. O_NOFOLLOW: the resolved path has no symlink left to follow.
    const fh = await open(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Skip(`not a regular file (${st.isFIFO() ? "a FIFO" : st.isCharacterDevice() || st.isBlockDevice() ? "a device" : st.isSocket() ? "a socket" : "a folder"})`);
      const cap = Math.min(CAPTURE_LIMITS.maxFileBytes, CAPTURE_LIMITS.maxTotalBytes - this.totalBytes);
      if (st.size > cap) throw new Skip(tooBig(st.size, cap));
      // Read at most one byte past the cap: the size may have grown since fstat.
      const buf = Buffer.alloc(Math.min(st.size, cap) + 1);
      let len = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, len, buf.length - len, null);
        if (bytesRead === 0 || (len += bytesRead) === buf.length) break;
      }
      if (len > cap || len > st.size) throw new Skip("it grew while being read");
      this.totalBytes += len;
      return buf.subarray(0, len).toString("utf8");
    } finally {
      await fh.close();
    }
  }
}

function tooBig(size: number, cap: number): string {
  return cap < CAPTURE_LIMITS.maxFileBytes
    ? `the capture's files exceed ${CAPTURE_LIMITS.maxTotalBytes} bytes in all`
    : `${size} bytes, more than the ${CAPTURE_LIMITS.maxFileBytes}-byte limit per file`;
}

/** Run `fn` over `items` with at most `limit` at a time (thousands of opens at once hit EMFILE). */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Read the known layout under `root` into rel path → text. Missing files are simply absent;
 * unreadable or refused ones are listed in `skipped`. `capture` marks an untrusted capture
 * folder: commands/*.txt are read too, and the confinement rules above apply.
 */
async function readLayout(root: string, capture: boolean): Promise<{ files: Map<string, string>; skipped: Skipped[] }> {
  const files = new Map<string, string>();
  const skipped: Skipped[] = [];
  const reader = await Reader.create(root, capture);
  const listDir = (rel: string) => reader.list(rel, skipped);
  const want: string[] = [...LAYOUT_FILES];
  for (const n of await listDir("sys/devices/system/node")) {
    // cpumap (a hex mask) is read too: older captures have it instead of cpulist.
    if (/^node\d+$/.test(n) && isIndex(n.slice(4))) want.push(...["cpulist", "cpumap", "meminfo"].map((f) => `sys/devices/system/node/${n}/${f}`));
  }
  // Per-CPU topology: sockets, cores and threads where cpuinfo has no "physical id" (Arm, POWER).
  for (const c of await listDir("sys/devices/system/cpu")) {
    if (!/^cpu\d+$/.test(c) || !isIndex(c.slice(3))) continue;
    for (const f of ["physical_package_id", "thread_siblings_list"]) want.push(`sys/devices/system/cpu/${c}/topology/${f}`);
  }
  const kfd = "sys/class/kfd/kfd/topology/nodes";
  for (const n of await listDir(kfd)) {
    if (!isIndex(n)) continue;
    want.push(`${kfd}/${n}/properties`);
    for (const b of await listDir(`${kfd}/${n}/mem_banks`)) {
      if (isIndex(b)) want.push(`${kfd}/${n}/mem_banks/${b}/properties`);
    }
  }
  // numa_status is read too: its presence shows a GPU even where information is missing.
  for (const b of await listDir("proc/driver/nvidia/gpus")) {
    want.push(`proc/driver/nvidia/gpus/${b}/information`, `proc/driver/nvidia/gpus/${b}/numa_status`);
  }
  if (capture) {
    for (const c of await listDir("commands")) if (/^[A-Za-z0-9_.-]+\.txt$/.test(c)) want.push(`commands/${c}`);
  }
  if (capture && want.length > CAPTURE_LIMITS.maxFiles) {
    skipped.push({ path: ".", reason: `${want.length - CAPTURE_LIMITS.maxFiles} file(s) beyond the ${CAPTURE_LIMITS.maxFiles}-file limit were not read` });
    want.length = CAPTURE_LIMITS.maxFiles;
  }
  await forEachLimited(want, 64, async (rel) => {
    try {
      files.set(rel, await reader.read(rel));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (e instanceof Skip) skipped.push({ path: rel, reason: e.message });
      else if (code !== "ENOENT" && code !== "ENOTDIR") skipped.push({ path: rel, reason: code ?? String(e) });
    }
  });
  // Deterministic order regardless of read completion order.
  return { files: new Map([...files].sort(([a], [b]) => (a < b ? -1 : 1))), skipped: skipped.sort((a, b) => (a.path < b.path ? -1 : 1)) };
}

/** Read a capture folder into memory. Throws DetectError when the folder is missing or unreadable. */
export async function readCaptureDir(root: string): Promise<Map<string, string>> {
  return (await readCapture(root)).files;
}

/**
 * Read a capture folder into memory, with the files that were skipped and why (symlinks out of
 * the folder, FIFOs, devices, oversized or unreadable files). Throws DetectError when the folder
 * is missing or unreadable.
 */
export async function readCapture(root: string): Promise<{ files: Map<string, string>; skipped: Skipped[] }> {
  let st;
  try {
    st = await stat(root);
  } catch (e) {
    throw new DetectError(`capture folder ${root}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : String(e)}`);
  }
  if (!st.isDirectory()) throw new DetectError(`capture folder ${root}: not a folder`);
  try {
    await readdir(root);
  } catch (e) {
    throw new DetectError(`capture folder ${root}: cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return readLayout(root, true);
}

/** One tool run for live detection and capture. */
export interface ToolRun {
  tool: string;
  args: string[];
  /** Output file name under commands/. */
  file: string;
  timeoutMs: number;
}

/** The tools hwflake runs, in order. All are read-only queries that need no root. */
export const TOOL_RUNS: readonly ToolRun[] = [
  { tool: "lscpu", args: [], file: "lscpu.txt", timeoutMs: 10_000 },
  { tool: "lscpu", args: ["-J"], file: "lscpu-J.txt", timeoutMs: 10_000 },
  { tool: "lspci", args: ["-nn"], file: "lspci-nn.txt", timeoutMs: 10_000 },
  { tool: "lspci", args: ["-k"], file: "lspci-k.txt", timeoutMs: 10_000 },
  { tool: "rocminfo", args: [], file: "rocminfo.txt", timeoutMs: 30_000 },
  { tool: "rocm-smi", args: ["-a"], file: "rocm-smi-a.txt", timeoutMs: 30_000 },
  { tool: "nvidia-smi", args: [], file: "nvidia-smi.txt", timeoutMs: 30_000 },
  { tool: "nvidia-smi", args: ["-q"], file: "nvidia-smi-q.txt", timeoutMs: 30_000 },
];

/** Outcome of running one tool. */
export type ToolOutcome =
  | { status: "ok"; stdout: string }
  | { status: "missing" }
  | { status: "failed"; reason: string };

/** Run a tool with a timeout and a C locale; a missing tool is an outcome, not an error. */
export function runTool(tool: string, args: readonly string[], timeoutMs: number): Promise<ToolOutcome> {
  return new Promise((done) => {
    execFile(
      tool,
      [...args],
      { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024, encoding: "utf8", env: { ...process.env, LC_ALL: "C", LANG: "C" } },
      (err, stdout, stderr) => {
        if (!err) return done({ status: "ok", stdout });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
        if (e.code === "ENOENT") return done({ status: "missing" });
        if (e.killed) return done({ status: "failed", reason: `timed out after ${timeoutMs} ms` });
        const first = (stderr || stdout || String(err)).trim().split("\n")[0] ?? "";
        done({ status: "failed", reason: `exit ${typeof e.code === "number" ? e.code : "?"}: ${first.slice(0, 200)}` });
      },
    );
  });
}

/** What was read from the live host. */
export interface LiveRead {
  files: Map<string, string>;
  skipped: Skipped[];
  toolsRan: string[];
  toolsMissing: string[];
  toolsFailed: Array<{ tool: string; reason: string }>;
}

/** Read this host's procfs/sysfs files of the layout and run the tools that are installed. */
export async function readLiveHost(root = "/"): Promise<LiveRead> {
  const { files, skipped } = await readLayout(root, false);
  const toolsRan: string[] = [];
  const missing = new Set<string>();
  const toolsFailed: Array<{ tool: string; reason: string }> = [];
  const outcomes = await Promise.all(TOOL_RUNS.map((r) => runTool(r.tool, r.args, r.timeoutMs)));
  TOOL_RUNS.forEach((r, i) => {
    const o = outcomes[i]!;
    const label = [r.tool, ...r.args].join(" ");
    if (o.status === "ok") {
      files.set(`commands/${r.file}`, o.stdout);
      toolsRan.push(label);
    } else if (o.status === "missing") missing.add(r.tool);
    else toolsFailed.push({ tool: label, reason: o.reason });
  });
  return { files, skipped, toolsRan, toolsMissing: [...missing].sort(), toolsFailed };
}

/**
 * Make `dir` ready for a capture: create it, or accept it when empty or when it holds a previous
 * capture (whose listed files are removed first). Refuses any other non-empty folder.
 */
export async function prepareCaptureDir(dir: string): Promise<void> {
  const abs = resolve(dir);
  let entries: string[] = [];
  try {
    entries = await readdir(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new DetectError(`capture folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    await mkdir(abs, { recursive: true });
    return;
  }
  if (entries.length === 0) return;
  if (!entries.includes(MANIFEST)) {
    throw new DetectError(`capture folder ${dir} is not empty and holds no ${MANIFEST}; refusing to write into it (use an empty folder)`);
  }
  let old: { files?: unknown };
  try {
    old = JSON.parse(await readFile(join(abs, MANIFEST), "utf8")) as { files?: unknown };
  } catch {
    throw new DetectError(`capture folder ${dir}: ${MANIFEST} is not a capture manifest; refusing to write into it`);
  }
  const listed = Array.isArray(old.files) ? old.files.filter((f): f is string => typeof f === "string") : [];
  for (const rel of listed) {
    // Only ever remove files inside the capture folder.
    const target = resolve(abs, rel);
    if (!target.startsWith(abs + "/")) continue;
    await rm(target, { force: true });
  }
}

/** Write capture files (rel path → text) under `dir`. */
export async function writeCaptureFiles(dir: string, files: ReadonlyMap<string, string>): Promise<void> {
  const abs = resolve(dir);
  for (const [rel, text] of files) {
    const target = resolve(abs, rel);
    if (!target.startsWith(abs + "/")) throw new DetectError(`refusing to write outside the capture folder: ${rel}`);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
  }
}
