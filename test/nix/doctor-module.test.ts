/**
 * services.hwflake.doctor evaluated with the real module system (pinned nixpkgs lib), the typed
 * NixOS stubs and the fake pkgs: the activation snippet runs `hwflake doctor` with a timeout and
 * only warns.
 */
import { describe, expect, it } from "vitest";
import { skipNix } from "../helpers/nix.js";
import { evalHost, evalHostError } from "./support/eval.js";

interface Snippet {
  deps: string[];
  text: string;
  supportsDryActivation: boolean;
}

const enabled = (extra = "") => `{ pkgs, ... }: {
  services.hwflake.doctor = { enable = true; package = pkgs.writeShellScript "hwflake" ""; profile = builtins.toFile "host.yaml" "version: 1"; ${extra} };
}`;

describe.skipIf(skipNix)("services.hwflake.doctor", () => {
  it("off by default: no activation snippet", () => {
    expect(evalHost<string[]>("{ }", "builtins.attrNames c.system.activationScripts")).toEqual([]);
  });

  it("enabled: a snippet that runs doctor under a timeout and never fails activation", () => {
    const s = evalHost<Snippet>(enabled(), "c.system.activationScripts.hwflake-doctor");
    expect(s.deps).toEqual(["specialfs"]);
    expect(s.text).toMatch(/^if ! hwflake_doctor_out=\$\(\/nix\/store\/\S+-coreutils-[^/]+\/bin\/timeout 60 \\$/m);
    expect(s.text).toMatch(/\/bin\/hwflake doctor --profile '?\/nix\/store\/[^' ]+-host\.yaml'? --color never 2>&1\); then$/m);
    expect(s.text).toMatch(/echo "warning: hwflake doctor: this host does not match/);
    // No exit, no return: the snippet cannot stop the activation.
    expect(s.text).not.toMatch(/\b(exit|return)\b/);
    expect(evalHost<string[]>(enabled(), "failedAssertions")).toEqual([]);
  });

  it("timeout is an option", () => {
    expect(evalHost<Snippet>(enabled("timeout = 5;"), "c.system.activationScripts.hwflake-doctor").text).toMatch(/timeout 5 /);
  });

  it("enabled without a package: an assertion names the option", () => {
    const failed = evalHost<string[]>(`{ services.hwflake.doctor = { enable = true; profile = builtins.toFile "p.yaml" "version: 1"; }; }`, "failedAssertions");
    expect(failed).toEqual([expect.stringMatching(/^services\.hwflake\.doctor\.package: set it/)]);
  });

  it("a profile that is not a path is a type error", () => {
    expect(evalHostError(enabled().replace(/profile = [^;]+;/, "profile = 42;"), "c.system.activationScripts")).toMatch(/profile/);
  });
});
