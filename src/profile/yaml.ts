/**
 * The `yaml` package, loaded on first use. Plain profiles never need it (src/profile/fast-yaml.ts
 * reads them), and loading it costs about 30 ms of a one-host run.
 */
import { createRequire } from "node:module";
import type * as Yaml from "yaml";

let loaded: typeof Yaml | undefined;

/** The yaml package (its CommonJS build, which `require` loads synchronously). */
export function yaml(): typeof Yaml {
  return (loaded ??= createRequire(import.meta.url)("yaml") as typeof Yaml);
}
