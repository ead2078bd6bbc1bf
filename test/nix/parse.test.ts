/**
 * Every hand-written Nix file parses: the module library, the test support stubs and the
 * project flake. (Rendered templates are checked by the render tests.)
 */
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, nixParseError, skipNix } from "../helpers/nix.js";

function nixFilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return nixFilesUnder(path);
    return entry.endsWith(".nix") ? [path] : [];
  });
}

const files = [
  ...nixFilesUnder(join(REPO_ROOT, "modules")),
  ...nixFilesUnder(join(REPO_ROOT, "test", "nix", "support")),
  join(REPO_ROOT, "flake.nix"),
].map((f) => relative(REPO_ROOT, f));

describe.skipIf(skipNix)("nix-instantiate --parse", () => {
  it("finds the files it is meant to check", () => {
    expect(files).toEqual(
      expect.arrayContaining([
        "flake.nix",
        join("modules", "default.nix"),
        join("modules", "inference.nix"),
        join("modules", "lib", "default.nix"),
        join("test", "nix", "support", "nixos-stubs.nix"),
        join("test", "nix", "support", "fake-pkgs.nix"),
      ]),
    );
  });

  it.each(files)("%s parses", (file) => {
    expect(nixParseError(join(REPO_ROOT, file))).toBeNull();
  });
});
