/**
 * Reading a fleet folder: one profile per host (*.yaml, *.yml, *.json) and optionally
 * fleet.yaml. Every file's problems are reported together, each naming its file.
 */
import { readdir } from "node:fs/promises";
import { readFleetFile, readProfileFile } from "./read.js";
import { basename, join, resolve } from "node:path";
import { FleetError, ProfileError, UserError } from "../errors.js";
import { parseFleetText, parseProfileText, type FleetSpec } from "../profile/index.js";
import type { FleetHost } from "../plan/index.js";

/** The names fleet.yaml may have; every other YAML/JSON file in the folder is a host profile. */
const FLEET_FILES = new Set(["fleet.yaml", "fleet.yml", "fleet.json"]);
const PROFILE_RE = /\.(ya?ml|json)$/;

/** A loaded fleet folder. */
export interface LoadedFleet {
  /** The folder's name, for markers and messages. */
  readonly name: string;
  readonly hosts: readonly FleetHost[];
  readonly spec: { readonly file: string; readonly spec: FleetSpec } | null;
}

/** Read and validate every file of a fleet folder; throws one error listing every problem. */
export async function loadFleet(dir: string): Promise<LoadedFleet> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name).sort();
  } catch (e) {
    throw new UserError(`--fleet ${dir}: cannot read the folder (${(e as NodeJS.ErrnoException).code ?? String(e)}); pass a folder with one profile per host`);
  }
  const profiles = entries.filter((n) => PROFILE_RE.test(n) && !FLEET_FILES.has(n));
  if (profiles.length === 0) throw new UserError(`--fleet ${dir}: no host profiles (*.yaml, *.yml, *.json) in the folder`);
  const specFiles = entries.filter((n) => FLEET_FILES.has(n));
  if (specFiles.length > 1) throw new UserError(`--fleet ${dir}: ${specFiles.join(" and ")} both exist; keep one fleet file`);

  const issues: { file: string; path: string; message: string }[] = [];
  const hosts: FleetHost[] = [];
  for (const n of profiles) {
    const file = join(dir, n);
    try {
      hosts.push({ file, profile: parseProfileText(readProfileFile(file, file), file) });
    } catch (e) {
      if (e instanceof ProfileError) issues.push(...e.issues.map((x) => ({ file, ...x })));
      else throw e;
    }
  }
  let spec: LoadedFleet["spec"] = null;
  if (specFiles.length === 1) {
    const file = join(dir, specFiles[0]!);
    try {
      spec = { file, spec: parseFleetText(readFleetFile(file), file) };
    } catch (e) {
      if (e instanceof FleetError) issues.push(...e.issues);
      else throw e;
    }
  }
  if (issues.length) throw new FleetError(issues);
  return { name: basename(resolve(dir)).replace(/[^A-Za-z0-9._-]/g, "_") || "fleet", hosts, spec };
}
