/** What the plan knows about the host's platform beyond the hardware: the OS and the binary cache. */
import { describe, expect, it } from "vitest";
import { planHost } from "../../src/plan/index.js";
import { makeProfile } from "../fixtures-builders.js";

const llama = (extra: Record<string, unknown> = {}) => ({ name: "chat", model: "m", engine: "llama-cpp", gguf: { file: "/m.gguf" }, port: 8000, ...extra });
const codes = (p: ReturnType<typeof planHost>) => p.findings.map((f) => f.code);

describe("plan: the OS", () => {
  it("carries the profile's os into the plan, and leaves it out when unknown", () => {
    expect(planHost(makeProfile({ os: { id: "ubuntu", versionId: "22.04" }, serve: [llama()] } as never)).os).toEqual({ id: "ubuntu", versionId: "22.04" });
    expect(planHost(makeProfile({ os: { id: "arch" }, serve: [llama()] } as never)).os).toEqual({ id: "arch" });
    expect("os" in planHost(makeProfile({ serve: [llama()] } as never))).toBe(false);
  });

  it.each([
    ["ubuntu", "20.04", true],
    ["ubuntu", "22.04", false],
    ["ubuntu", "24.04", false],
    ["debian", "12", true],
    ["debian", "13", false],
    ["fedora", "41", true],
  ])("%s %s: SYSTEM_MANAGER_UNTESTED is %s", (id, versionId, want) => {
    const p = planHost(makeProfile({ os: { id, versionId }, serve: [llama()] } as never));
    expect(codes(p).includes("SYSTEM_MANAGER_UNTESTED")).toBe(want);
    expect(p.refused).toBe(false);
  });

  it("NixOS and an unknown OS get no OS finding", () => {
    for (const over of [{ os: { id: "nixos", versionId: "25.05" } }, {}])
      expect(codes(planHost(makeProfile({ ...over, serve: [llama({ apiKeyFile: "/run/k" })] } as never)))).not.toEqual(
        expect.arrayContaining(["SYSTEM_MANAGER_UNTESTED"]),
      );
  });

  it("Ubuntu 20.04 (systemd 245) with an API key: SYSTEMD_NO_CREDENTIALS names the instances and the way out", () => {
    const p = planHost(makeProfile({ os: { id: "ubuntu", versionId: "20.04" }, serve: [llama({ apiKeyFile: "/run/k" }), llama({ name: "open", port: 8001 })] } as never));
    const f = p.findings.find((x) => x.code === "SYSTEMD_NO_CREDENTIALS")!;
    expect(f.severity).toBe("warning");
    expect(f.message).toContain("systemd 245");
    expect(f.message).toContain("the units of chat cannot read their key");
    expect(f.fix).toContain("nix run .#<instance> -- --api-key-file FILE");
    expect(f.source).toContain("CHANGES WITH 250");
    // Without a key there is nothing to warn about.
    expect(codes(planHost(makeProfile({ os: { id: "ubuntu", versionId: "20.04" }, serve: [llama()] } as never)))).not.toContain("SYSTEMD_NO_CREDENTIALS");
  });
});

describe("plan: POWER has no binary cache", () => {
  it("NO_BINARY_CACHE on powerpc64le-linux only", () => {
    const power = planHost(makeProfile({ system: "powerpc64le-linux", cpu: { vendor: "ibm", arch: "power8" }, serve: [llama()] } as never));
    const f = power.findings.find((x) => x.code === "NO_BINARY_CACHE")!;
    expect(f.severity).toBe("info");
    expect(f.message).toMatch(/compiles everything this flake needs on this host, from the compiler toolchain/);
    expect(f.source).toContain("ci/supportedSystems.json");
    expect(codes(planHost(makeProfile({ serve: [llama()] } as never)))).not.toContain("NO_BINARY_CACHE");
  });
});

describe("plan: system-manager on POWER", () => {
  it("SYSTEM_MANAGER_NO_POWER for a powerpc64le-linux host whose profile names another OS than NixOS", () => {
    const power = (os: object) => planHost(makeProfile({ system: "powerpc64le-linux", cpu: { vendor: "ibm", arch: "power9" }, ...os, serve: [llama()] } as never));
    expect(codes(power({ os: { id: "ubuntu", versionId: "20.04" } }))).toContain("SYSTEM_MANAGER_NO_POWER");
    expect(codes(power({ os: { id: "nixos" } }))).not.toContain("SYSTEM_MANAGER_NO_POWER");
    // Unknown OS: no OS findings at all (the flake still serves both paths).
    expect(codes(power({}))).not.toContain("SYSTEM_MANAGER_NO_POWER");
  });
});
