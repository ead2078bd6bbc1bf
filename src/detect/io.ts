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
 */
import { execFile } from "node:child_process";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { DetectError } from "../errors.js";

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

async function readText(abs: string): Promise<string> {
  return readFile(abs, "utf8");
}

async function listDir(abs: string): Promise<string[]> {
  try {
    return (await readdir(abs)).sort();
  } catch {
    return [];
  }
}

/**
 * Read the known layout under `root` into rel path → text. Missing files are simply absent;
 * unreadable ones are listed in `skipped`. `withCommands` adds commands/*.txt (captures only).
 */
async function readLayout(root: string, withCommands: boolean): Promise<{ files: Map<string, string>; skipped: Skipped[] }> {
  const files = new Map<string, string>();
  const skipped: Skipped[] = [];
  const want: string[] = [...LAYOUT_FILES];
  for (const n of await listDir(join(root, "sys/devices/system/node"))) {
    // cpumap (a hex mask) is read too: older captures have it instead of cpulist.
    if (/^node\d+$/.test(n)) want.push(...["cpulist", "cpumap", "meminfo"].map((f) => `sys/devices/system/node/${n}/${f}`));
  }
  // Per-CPU topology: sockets, cores and threads where cpuinfo has no "physical id" (Arm, POWER).
  for (const c of await listDir(join(root, "sys/devices/system/cpu"))) {
    if (!/^cpu\d+$/.test(c)) continue;
    for (const f of ["physical_package_id", "thread_siblings_list"]) want.push(`sys/devices/system/cpu/${c}/topology/${f}`);
  }
  const kfd = "sys/class/kfd/kfd/topology/nodes";
  for (const n of await listDir(join(root, kfd))) {
    if (!/^\d+$/.test(n)) continue;
    want.push(`${kfd}/${n}/properties`);
    for (const b of await listDir(join(root, kfd, n, "mem_banks"))) {
      if (/^\d+$/.test(b)) want.push(`${kfd}/${n}/mem_banks/${b}/properties`);
    }
  }
  // numa_status is read too: its presence shows a GPU even where information is missing.
  for (const b of await listDir(join(root, "proc/driver/nvidia/gpus"))) {
    want.push(`proc/driver/nvidia/gpus/${b}/information`, `proc/driver/nvidia/gpus/${b}/numa_status`);
  }
  if (withCommands) {
    for (const c of await listDir(join(root, "commands"))) if (/^[A-Za-z0-9_.-]+\.txt$/.test(c)) want.push(`commands/${c}`);
  }
  await Promise.all(
    want.map(async (rel) => {
      try {
        files.set(rel, await readText(join(root, rel)));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "ENOENT" && code !== "ENOTDIR") skipped.push({ path: rel, reason: code ?? String(e) });
      }
    }),
  );
  // Deterministic order regardless of read completion order.
  return { files: new Map([...files].sort(([a], [b]) => (a < b ? -1 : 1))), skipped: skipped.sort((a, b) => (a.path < b.path ? -1 : 1)) };
}

/** Read a capture folder into memory. Throws DetectError when the folder is missing or unreadable. */
export async function readCaptureDir(root: string): Promise<Map<string, string>> {
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
  return (await readLayout(root, true)).files;
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
