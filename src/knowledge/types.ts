/** Shapes of hardware knowledge: every verdict carries its reason and sources. */
import type { Accelerator, Profile, Serve } from "../profile/schema.js";
import type { Backend, Decision, Engine, Finding, ForecastItem, NixValue, PackageBuild, PythonSet, Source } from "../plan/types.js";

/** How well an engine runs on a device, as upstream states it. */
export type SupportLevel = "supported" | "experimental" | "unsupported";

/** A support verdict with why and where from. */
export interface Verdict {
  readonly level: SupportLevel;
  readonly reason: string;
  readonly sources: readonly Source[];
}

/** A verdict from its level, its reason and the sources it rests on. */
export function verdict(level: SupportLevel, reason: string, ...sources: Source[]): Verdict {
  return { level, reason, sources };
}

/** Override arguments and build environment of one engine package inside a build set. */
export interface PackageRecipe {
  /** Attribute of the set's package set the engine comes from, when not the engine's usual one. */
  readonly base?: PackageBuild["base"];
  readonly args: { readonly [arg: string]: NixValue };
  readonly env: { readonly [name: string]: string };
  readonly reason: string;
  readonly sources: readonly Source[];
}

/**
 * How the build set of one hardware class is made: its own nixpkgs `config`, the narrowing of
 * scopes inside it, which unfree licences it may use, how each engine is built in it, and what
 * that compiles. The planner only groups instances by set name and copies these decisions.
 */
export interface BuildSetRecipe {
  /** Attribute name under pkgs.hwflake; equal names mean the same class and one shared set. */
  readonly name: string;
  readonly config: Decision<{ readonly [key: string]: NixValue }>;
  readonly rocmGpuTargets: Decision<readonly string[]> | null;
  readonly allowUnfreeLicenses: Decision<readonly string[]> | null;
  /** The package recipe for `engine` in this set. */
  pkg(engine: Engine): PackageRecipe;
  /** Heavy derivations that compile from source when the set builds `engines`. */
  compiles(engines: readonly Engine[]): readonly ForecastItem[];
  /** Why the set is, or is not, in the public binary cache, and where that is said. */
  readonly cache: { readonly text: string; readonly sources: readonly Source[] };
  /** Python wheels the set pins at exact versions inside its own Python package set, or absent. */
  readonly python?: Decision<PythonSet> | null;
}

/** What a family decides for one serve entry when its build set depends on the entry (pins, plug-in options). */
export interface ServePlan {
  /** The set to build, or null when the entry is refused (the findings say why). */
  readonly recipe: BuildSetRecipe | null;
  readonly findings: readonly Finding[];
  /** Runtime environment beyond device pinning (engine settings), with why. */
  readonly environment: Decision<Record<string, string>> | null;
  /** Device nodes the unit may open (DeviceAllow), with why. */
  readonly devices: Decision<readonly string[]> | null;
  /** TimeoutStartSec for the unit when the engine needs longer than systemd's default to start, with why. */
  readonly startTimeout: Decision<string> | null;
}

/**
 * Everything hwflake knows about one accelerator family. Adding an accelerator to hwflake is
 * adding one file that exports one of these and listing it in ./accelerators/index.ts.
 */
export interface AcceleratorFamily<A extends Accelerator = Accelerator> {
  /** Matches a profile entry. */
  matches(acc: Accelerator): acc is A;
  /** Human name for messages ("AMD GPU"). */
  readonly label: string;
  /** Build backend for packages on this device, or null when hwflake cannot build for it. */
  readonly backend: Exclude<Backend, "cpu"> | null;
  /** Arch names accepted in profiles (used for did-you-mean). */
  readonly knownArchs: readonly string[];
  /** Whether `engine` runs on this device. */
  support(acc: A, engine: Engine): Verdict;
  /** The GPU target to build for (gfx target or CUDA capability). */
  buildTarget(acc: A): string;
  /**
   * Runtime environment that makes exactly `accs` visible to `engine`. `all` is every entry of
   * this family in profile order (indices count from it when no UUID/index is known).
   */
  pinning(accs: readonly A[], all: readonly A[], engine: Engine): { env: Record<string, string>; reason: string; sources: readonly Source[]; warnings: readonly string[] };
  /** The build set for these build targets (sorted, distinct), or null when hwflake cannot build for it. */
  buildSet(targets: readonly string[]): BuildSetRecipe | null;
  /**
   * For families whose build set depends on the serve entry (TPU: pinned releases; Spyre:
   * plug-in options): the set, findings, environment and device access for this entry. When
   * present the planner uses it instead of buildSet().
   */
  planServe?(ctx: { readonly profile: Profile; readonly serve: Serve; readonly index: number; readonly accs: readonly A[]; readonly engine: Engine }): ServePlan;
  /** Extra engine arguments this device needs (e.g. --dtype half below CUDA 8.0). */
  engineArgs(accs: readonly A[], engine: Engine): { args: string[]; reason: string; sources: readonly Source[] } | null;
}
