/**
 * Access to the real Nix CLI for tests.
 *
 * In CI (CI=true) a missing nix-instantiate or nixpkgs lib is a failure, never a skip: a Nix
 * check that cannot run must not pass. Outside CI the Nix tests are skipped with a visible
 * reason so a developer without Nix still gets the TypeScript tests.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (two levels above this file). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

function findNixInstantiate(): string | null {
  const r = spawnSync("nix-instantiate", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? "nix-instantiate" : null;
}

/**
 * The pinned nixpkgs `lib` folder: $NIXPKGS_LIB, else the `shared/nix/nixpkgs-lib/lib` folder
 * that sits beside the clone (the layout CI and developers share).
 */
function findNixpkgsLib(): string | null {
  const env = process.env.NIXPKGS_LIB;
  if (env) return existsSync(join(env, "default.nix")) ? resolve(env) : null;
  const beside = resolve(REPO_ROOT, "..", "shared", "nix", "nixpkgs-lib", "lib");
  return existsSync(join(beside, "default.nix")) ? beside : null;
}

const nixBin = findNixInstantiate();
const libDir = findNixpkgsLib();

/** Why Nix tests cannot run here, or null when they can. */
export const nixUnavailable: string | null = !nixBin
  ? "nix-instantiate not found (install Debian's nix-bin)"
  : !libDir
    ? "nixpkgs lib not found (set NIXPKGS_LIB to shared/nix/nixpkgs-lib/lib)"
    : null;

if (nixUnavailable && process.env.CI) {
  // Fail loudly at import time: every Nix test file imports this module.
  throw new Error(`Nix tests cannot run in CI: ${nixUnavailable}`);
}

/** True when Nix tests must be skipped (only ever outside CI). */
export const skipNix = nixUnavailable !== null;

/** Absolute path of the pinned nixpkgs lib folder (throws when unavailable). */
export function nixpkgsLib(): string {
  if (!libDir) throw new Error(nixUnavailable ?? "nixpkgs lib unavailable");
  return libDir;
}

/**
 * The environment of every evaluation: no NIX_PATH, and NIXPKGS_LIB pointing at the pinned lib
 * so the nixpkgs stand-in can import itself again (`import pkgs.path { ... }`) as nixpkgs does.
 */
function nixEnv(): NodeJS.ProcessEnv {
  return { ...process.env, NIX_PATH: "", ...(libDir ? { NIXPKGS_LIB: libDir } : {}) };
}

/** `nix-instantiate --parse FILE`; returns stderr on failure, null on success. */
export function nixParseError(file: string): string | null {
  const r = spawnSync("nix-instantiate", ["--parse", file], { encoding: "utf8" });
  return r.status === 0 ? null : r.stderr || `exit ${r.status}`;
}

/**
 * Evaluate a Nix expression strictly and return its JSON value. `lib` is bound to the pinned
 * nixpkgs lib through `--arg`-free string injection of its absolute path.
 */
export function nixEvalJson(expr: string, opts: { cwd?: string } = {}): unknown {
  const out = execFileSync(
    "nix-instantiate",
    ["--eval", "--strict", "--json", "--readonly-mode", "--expr", expr],
    { encoding: "utf8", cwd: opts.cwd ?? REPO_ROOT, env: nixEnv(), maxBuffer: 64 << 20 },
  );
  return JSON.parse(out);
}

/** Like nixEvalJson, but returns the error text instead of throwing (for negative tests). */
export function nixEvalError(expr: string, opts: { cwd?: string } = {}): string | null {
  const r = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", "--readonly-mode", "--expr", expr], {
    encoding: "utf8",
    cwd: opts.cwd ?? REPO_ROOT,
    env: nixEnv(),
  });
  return r.status === 0 ? null : r.stderr;
}
