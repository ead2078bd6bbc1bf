/**
 * The command line: the only place that prints errors and chooses exit codes.
 * `runCli(argv, io)` returns the exit code so tests can drive it without a process.
 */
import { readFileSync } from "node:fs";
import { dirname, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import yargs from "yargs";
import { EXIT, RefusedError, UserError, DetectError } from "../errors.js";
import { MAX_PATH_LENGTH, argString, parseProfileText, profileJsonSchemaText, validateProfile, type Profile } from "../profile/index.js";
import { planFleet, planHost } from "../plan/index.js";
import { DEFAULT_NIXPKGS_URL, renderFiles, renderFleet } from "../render/render.js";
import { loadFleet } from "./fleet.js";
import { readProfileFile } from "./read.js";
import { MANIFEST_PATH, writeFiles } from "../write/write.js";
import type { DetectOptions, DetectResult } from "../detect/index.js";
import { formatFleet, formatPlan } from "./format.js";
import { COLOR_MODES, colorEnabled, paint, type ColorMode } from "./color.js";
import { formatDoctor } from "./doctor.js";
import { writeProfileFile } from "../write/profile.js";
import { yaml } from "../profile/yaml.js";

/** Where the CLI writes; injectable for tests. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (colour in auto mode); default false. */
  isTTY?: boolean;
  /** Environment for NO_COLOR; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

const processIO: CliIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  isTTY: process.stdout.isTTY === true,
};

/** The --color value in argv (read before yargs parses, so even parse errors are painted right). */
function colorMode(argv: readonly string[]): ColorMode {
  let mode: ColorMode = "auto";
  argv.forEach((a, i) => {
    const v = a.startsWith("--color=") ? a.slice("--color=".length) : a === "--color" ? (argv[i + 1] ?? "always") : a === "--no-color" ? "never" : undefined;
    if (v !== undefined) mode = (COLOR_MODES as readonly string[]).includes(v) ? (v as ColorMode) : v === "" ? "always" : "auto";
  });
  return mode;
}

/** The JSON Schema file shipped in the package (schema/ beside src/ and dist/). */
const SCHEMA_FILE = fileURLToPath(new URL("../../schema/profile.schema.json", import.meta.url));


async function loadProfile(file: string): Promise<Profile> {
  return parseProfileText(readProfileFile(file, `--profile ${file}`), file);
}

/** Detection, loaded only by the commands that detect: generating from a profile never needs it. */
const detection = () => import("../detect/index.js");

/**
 * Detect from a capture folder. The files that were skipped (symlinks out of the folder, FIFOs,
 * devices, oversized files) come first among the report's messages and are also returned.
 */
async function detectCapture(dir: string, opts: DetectOptions): Promise<{ result: DetectResult; skipped: string[] }> {
  const { readCapture } = await import("../detect/io.js");
  const { files, skipped } = await readCapture(dir);
  const result = (await detection()).detectFromFiles(files, opts);
  const lines = skipped.map((s) => `${s.path}: skipped, ${s.reason}`);
  result.report.messages.unshift(...lines);
  return { result, skipped: lines };
}

/** Get a profile from --profile, --from (capture folder) or the live host. */
async function profileFrom(
  args: { profile?: string; from?: string; detect?: boolean; host?: string },
  io: CliIO,
): Promise<{ profile: Profile; model?: string }> {
  if (args.profile) {
    const profile = await loadProfile(args.profile);
    return { profile, model: profile.cpu.model };
  }
  if (args.from || args.detect) {
    let r: DetectResult;
    if (args.from) {
      const { result, skipped } = await detectCapture(args.from, { host: args.host });
      for (const m of skipped) io.err(`⚠ ${m}\n`);
      r = result;
    } else r = await (await detection()).detectLive({ host: args.host });
    const profile = validateProfile(r.profile, args.from ?? "<live host>");
    return { profile, model: profile.cpu.model };
  }
  throw new UserError("no profile: pass --profile FILE (e.g. examples/mi50-desktop.yaml), --from CAPTURE_DIR, or --detect for this host");
}

/**
 * A command-line value that lands in a Nix literal (the flake URLs) follows the profile's string
 * rule: no control characters or lone surrogates, no leading "-".
 */
function flagText<T extends string | undefined>(flag: string, value: T): T {
  if (value === undefined) return value;
  const r = argString(flag, MAX_PATH_LENGTH).safeParse(value);
  if (!r.success) throw new UserError(`${flag}: ${r.error.issues[0]!.message}`);
  return value;
}

const profileOptions = {
  profile: { type: "string", alias: "p", describe: "Profile file (YAML or JSON)" },
  from: { type: "string", describe: "Detect the profile from a capture folder (see hwflake capture)" },
  detect: { type: "boolean", describe: "Detect the profile from this host" },
  host: { type: "string", describe: "Host name to use with --from/--detect" },
} as const;

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  let code: number = EXIT.ok;
  const p = paint(colorEnabled(colorMode(argv), io.env ?? process.env, io.isTTY === true));
  const parser = yargs([...argv])
    .scriptName("hwflake")
    .usage("$0 <command> [options]\n\nTyped hardware profile in, Nix flake out: LLM inference servers built for the hardware you have.")
    .strict()
    .demandCommand(1, "name a command: generate, plan, doctor, schema, detect, capture or completion")
    .recommendCommands()
    .exitProcess(false)
    .showHelpOnFail(false)
    .version(false)
    .option("version", { type: "boolean", describe: "Print the version" })
    .option("color", {
      type: "string",
      default: "auto",
      describe: "Colour the marks: auto (a terminal without NO_COLOR), always, never; --no-color is never",
      // --no-color arrives as false and a bare --color as ""; colorMode() read the value already.
      coerce: (v: unknown) => {
        const m = v === false ? "never" : v === true || v === "" ? "always" : v;
        if (!(COLOR_MODES as readonly unknown[]).includes(m)) throw new UserError(`--color ${String(v)}: use auto, always or never`);
        return m as ColorMode;
      },
    })
    .completion("completion", "Print a bash/zsh completion script (add `source <(hwflake completion)` to your shell's rc file)")
    .help()
    .epilogue("Exit codes: 0 ok; 1 refused plan or drift (--check); 2 bad input; 3 internal error (a bug).")
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      // yargs' own errors (YError: a failed coerce or check) are bad input, like its messages.
      throw err && err.name !== "YError" ? err : new UserError(msg ?? err?.message ?? "invalid arguments");
    })
    .command(
      "generate",
      "Write the host's flake (flake.nix, build-sets.nix, hosts/, modules/, README.md) into --out",
      (y) =>
        y
          .options(profileOptions)
          .option("fleet", { type: "string", describe: "A folder with one profile per host (and optionally fleet.yaml): one flake for all" })
          .option("out", { type: "string", alias: "o", demandOption: true, describe: "Output folder" })
          .option("check", { type: "boolean", default: false, describe: "Write nothing; exit 1 and list the files that differ" })
          .option("force", { type: "boolean", default: false, describe: "Overwrite files hwflake did not generate" })
          .option("hwflake-url", {
            type: "string",
            describe: "Take the module library from this hwflake flake (an input) instead of the copy written under modules/",
          })
          .option("nixpkgs-url", { type: "string", default: DEFAULT_NIXPKGS_URL, describe: "Flake URL of nixpkgs" })
          .option("json", { type: "boolean", default: false, describe: "Print what was written (or, with --check, what differs) as JSON" }),
      async (a) => {
        const opts = { hwflakeUrl: flagText("--hwflake-url", a["hwflake-url"]), nixpkgsUrl: flagText("--nixpkgs-url", a["nixpkgs-url"]) };
        let files;
        let summary: string;
        let name: string;
        if (a.fleet) {
          const loaded = await loadFleet(a.fleet);
          const fleet = planFleet(loaded.name, loaded.hosts, loaded.spec);
          if (fleet.refused) {
            io.err(formatFleet(fleet));
            throw new RefusedError(`plan for the ${fleet.name} fleet refused; nothing was written`);
          }
          files = renderFleet(fleet, opts);
          name = fleet.name;
          const n = fleet.hosts.reduce((k, h) => k + h.instances.length, 0);
          summary = `${n} instance(s) on ${fleet.hosts.length} host(s), ${fleet.buildSets.length} build set(s) in ${a.out}\n`;
        } else {
          const { profile, model } = await profileFrom(a, io);
          const plan = planHost(profile);
          if (plan.refused) {
            io.err(formatPlan(plan, model));
            throw new RefusedError(`plan for "${plan.host}" refused; nothing was written`);
          }
          files = renderFiles(plan, opts);
          name = plan.host;
          const warnings = plan.findings.filter((f) => f.severity !== "info").length;
          summary = `${plan.instances.length} instance(s) for host "${plan.host}" in ${a.out}${warnings ? ` (${warnings} warning(s): see README.md or hwflake plan)` : ""}\n`;
        }
        const outDir = resolve(a.out);
        const report = await writeFiles(files, { outDir, check: a.check, force: a.force });
        const drift = report.stale.length || report.interrupted.length || report.leftovers.length;
        if (a.json) {
          io.out(`${JSON.stringify({ [a.fleet ? "fleet" : "host"]: name, out: a.out, ...report }, null, 2)}\n`);
          if (a.check && drift) code = EXIT.refused;
          return;
        }
        if (a.check) {
          if (report.interrupted.length) {
            io.err(`${p.red("✘")} ${report.interrupted.length} file(s) differ from the last complete run recorded in ${MANIFEST_PATH}: an interrupted hwflake generate (or a hand edit) left a mix of two runs:\n${report.interrupted.map((f) => `  ${f}`).join("\n")}\n`);
          }
          if (report.leftovers.length) {
            io.err(`${p.red("✘")} ${report.leftovers.length} temporary file(s) left by a killed run:\n${report.leftovers.map((f) => `  ${f}`).join("\n")}\n`);
          }
          if (report.stale.length) {
            io.err(`${p.red("✘")} ${report.stale.length} generated file(s) differ from the profile; run hwflake generate:\n${report.stale.map((f) => `  ${f}`).join("\n")}\n`);
          }
          if (drift) code = EXIT.refused;
          else io.out(`${p.green("✓")} ${files.length} file(s) up to date in ${a.out}\n`);
          return;
        }
        for (const f of report.leftovers) io.out(`  removed   ${f} (left by a killed run)\n`);
        for (const f of report.interrupted) io.out(`  repaired  ${f} (left by an interrupted run)\n`);
        // A fleet writes thousands of files: list them only when there are few.
        if (files.length <= 50) {
          for (const f of report.written) io.out(`  wrote     ${f}\n`);
          for (const f of report.unchanged) io.out(`  unchanged ${f}\n`);
        } else io.out(`  wrote ${report.written.length}, unchanged ${report.unchanged.length}\n`);
        io.out(`${p.green("✓")} ${summary}`);
      },
    )
    .command(
      "plan",
      "Show what hwflake would build and run for a profile, and why",
      (y) =>
        y
          .options(profileOptions)
          .option("fleet", { type: "string", describe: "Plan a folder of host profiles as one fleet" })
          .option("json", { type: "boolean", default: false, describe: "Print the plan as JSON" }),
      async (a) => {
        if (a.fleet) {
          const loaded = await loadFleet(a.fleet);
          const fleet = planFleet(loaded.name, loaded.hosts, loaded.spec);
          io.out(a.json ? `${JSON.stringify(fleet, null, 2)}\n` : formatFleet(fleet));
          if (fleet.refused) code = EXIT.refused;
          return;
        }
        const { profile, model } = await profileFrom(a, io);
        const plan = planHost(profile);
        io.out(a.json ? `${JSON.stringify(plan, null, 2)}\n` : formatPlan(plan, model));
        if (plan.refused) code = EXIT.refused;
      },
    )
    .command(
      "doctor",
      "Compare this host (or a capture) with its profile, fact by fact; exit 1 on drift",
      (y) =>
        y
          .option("profile", { type: "string", alias: "p", demandOption: true, describe: "Profile file (YAML or JSON) the host should match" })
          .option("from", { type: "string", describe: "Capture folder instead of the live host" })
          .option("json", { type: "boolean", default: false, describe: "Print the drift report as JSON" }),
      async (a) => {
        const expected = await loadProfile(a.profile);
        // The profile's host name is used so an unset or odd kernel host name is not an error.
        const { detectFromDir, detectLive } = await detection();
        const r = a.from ? await detectFromDir(a.from, { host: expected.host }) : await detectLive({ host: expected.host });
        const actual = validateProfile(r.profile, a.from ?? "<live host>");
        const { compareProfiles } = await import("../doctor/index.js");
        const report = compareProfiles(expected, actual, r.report.unknown);
        io.out(a.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report, a.profile, p));
        if (!report.ok) code = EXIT.refused;
      },
    )
    .command("schema", "Print the profile's JSON Schema", {}, () => {
      io.out(profileJsonSchemaText());
    })
    .command(
      "detect",
      "Detect this host's (or a capture folder's) hardware and print a profile",
      (y) =>
        y
          .option("from", { type: "string", describe: "Capture folder instead of the live host" })
          .option("host", { type: "string", describe: "Host name for the profile" })
          .option("out", { type: "string", alias: "o", describe: "Write the profile to this file instead of stdout" })
          .option("json", { type: "boolean", default: false, describe: "Print the detection report (facts and their files, unknowns) as JSON" })
          .option("force", { type: "boolean", default: false, describe: "Overwrite an existing --out file" }),
      async (a) => {
        const r = a.from ? (await detectCapture(a.from, { host: a.host })).result : await (await detection()).detectLive({ host: a.host });
        validateProfile(r.profile, a.from ?? "<live host>");
        for (const m of r.report.messages) io.err(`${p.yellow("⚠")} ${m}\n`);
        if (a.json) {
          io.out(`${JSON.stringify(r, null, 2)}\n`);
          return;
        }
        // Point editors at the schema shipped with this hwflake, relative to where the file lands.
        const schema = relative(a.out ? dirname(resolve(a.out)) : process.cwd(), SCHEMA_FILE).split(sep).join("/");
        const text = `# yaml-language-server: $schema=${schema}\n${profileYaml(r.profile)}`;
        if (a.out) {
          const written = await writeProfileFile(a.out, text, { force: a.force });
          io.out(written ? `${p.green("✓")} profile written to ${a.out}\n` : `${p.green("✓")} ${a.out} already up to date\n`);
        } else io.out(text);
      },
    )
    .command(
      "capture <dir>",
      "Copy this host's hardware facts (procfs, sysfs, tool outputs) into a folder",
      (y) =>
        y
          .positional("dir", { type: "string", demandOption: true, describe: "Folder to create" })
          .option("serials", { type: "boolean", default: false, describe: "Keep serial numbers (left out by default)" })
          .option("json", { type: "boolean", default: false, describe: "Print only the capture report, as JSON" }),
      async (a) => {
        const report = await (await detection()).captureHost(a.dir, { serials: a.serials });
        if (a.json) io.out(`${JSON.stringify(report, null, 2)}\n`);
        else io.out(`${p.green("✓")} captured into ${a.dir}\n${JSON.stringify(report, null, 2)}\n`);
      },
    );

  try {
    if (argv.includes("--version") && argv.length === 1) {
      io.out(`${await version()}\n`);
      return EXIT.ok;
    }
    await parser.parseAsync();
    return code;
  } catch (e) {
    if (e instanceof RefusedError) {
      io.err(`${p.red("✘")} ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof UserError || e instanceof DetectError) {
      io.err(`${p.red("✘")} ${e.message}\n`);
      return e.exitCode;
    }
    io.err(`${p.red("✘")} internal error (a bug in hwflake; please report it with the input that caused it):\n${e instanceof Error ? e.stack : String(e)}\n`);
    return EXIT.internal;
  }
}

/** A detected profile as YAML (block style: one flag per line diffs cleanly between captures). */
function profileYaml(profile: unknown): string {
  return yaml().stringify(profile, { lineWidth: 100 });
}

/** The package version, read from package.json next to the code. */
export async function version(): Promise<string> {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}
