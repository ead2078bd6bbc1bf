/**
 * The operating system from etc/os-release (os-release(5)): the parser on the files real
 * distributions ship, and detection from capture files.
 */
import { describe, expect, it } from "vitest";
import { detectFromFiles } from "../../src/detect/index.js";
import { parseOsRelease } from "../../src/detect/parsers/os-release.js";
import { ProfileSchema } from "../../src/profile/schema.js";

// Abridged from the files these releases ship (Ubuntu 20.04 on ppc64el, as on seed 000's
// POWER8; Ubuntu 22.04, the Cloud TPU VM base image of seed 002; Debian 12; NixOS).
const UBUNTU_2004 = `NAME="Ubuntu"
VERSION="20.04.6 LTS (Focal Fossa)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 20.04.6 LTS"
VERSION_ID="20.04"
HOME_URL="https://www.ubuntu.com/"
VERSION_CODENAME=focal
UBUNTU_CODENAME=focal
`;
const UBUNTU_2204 = `PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
`;
const DEBIAN_12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`;
const NIXOS = `ANSI_COLOR="0;38;2;126;186;228"
BUG_REPORT_URL="https://github.com/NixOS/nixpkgs/issues"
BUILD_ID="25.05.20250101.abcdef0"
ID=nixos
NAME=NixOS
PRETTY_NAME="NixOS 25.05 (Warbler)"
VERSION="25.05 (Warbler)"
VERSION_CODENAME=warbler
VERSION_ID="25.05"
`;

const files = (o: Record<string, string>) => new Map(Object.entries(o));

describe("parseOsRelease", () => {
  it("reads unquoted, double- and single-quoted values and shell escapes", () => {
    const v = parseOsRelease(`# comment\nID=ubuntu\nNAME="Ubu \\"ntu\\" \\$x \\\\"\nX='a b'\nBROKEN="open\n\nlower=x\n`);
    expect(Object.fromEntries(v)).toEqual({ ID: "ubuntu", NAME: 'Ubu "ntu" $x \\', X: "a b" });
  });
});

describe("detect: os from etc/os-release", () => {
  it.each([
    ["Ubuntu 20.04", UBUNTU_2004, { id: "ubuntu", versionId: "20.04" }],
    ["Ubuntu 22.04", UBUNTU_2204, { id: "ubuntu", versionId: "22.04" }],
    ["Debian 12", DEBIAN_12, { id: "debian", versionId: "12" }],
    ["NixOS 25.05", NIXOS, { id: "nixos", versionId: "25.05" }],
  ])("%s", (_name, text, want) => {
    const r = detectFromFiles(files({ "etc/os-release": text }), { host: "h" });
    expect(r.profile.os).toEqual(want);
    expect(ProfileSchema.parse(r.profile).os).toEqual(want);
    expect(r.report.facts.filter((f) => f.path.startsWith("os."))).toEqual([
      { path: "os.id", value: want.id, from: ["etc/os-release"] },
      { path: "os.versionId", value: want.versionId, from: ["etc/os-release"] },
    ]);
  });

  it("falls back to usr/lib/os-release, and etc/os-release wins when both exist", () => {
    expect(detectFromFiles(files({ "usr/lib/os-release": DEBIAN_12 })).profile.os).toEqual({ id: "debian", versionId: "12" });
    expect(detectFromFiles(files({ "usr/lib/os-release": DEBIAN_12, "etc/os-release": NIXOS })).profile.os).toEqual({ id: "nixos", versionId: "25.05" });
  });

  it("a rolling release without VERSION_ID has only an id", () => {
    expect(detectFromFiles(files({ "etc/os-release": "ID=arch\nNAME=\"Arch Linux\"\n" })).profile.os).toEqual({ id: "arch" });
  });

  it("no file, no ID or a malformed ID: the OS stays unknown (absent), with a message for the last two", () => {
    expect(detectFromFiles(files({})).profile.os).toBeUndefined();
    const noId = detectFromFiles(files({ "etc/os-release": 'NAME="x"\n' }));
    expect(noId.profile.os).toBeUndefined();
    expect(noId.report.messages).toContain("etc/os-release: no ID line; the operating system stays unknown");
    const bad = detectFromFiles(files({ "etc/os-release": "ID=Ubuntu Linux\n" }));
    expect(bad.profile.os).toBeUndefined();
    expect(bad.report.messages.some((m) => /is not an os-release ID/.test(m))).toBe(true);
  });

  it("the schema refuses an os without id and unknown keys", () => {
    const base = { version: 1, host: "h" };
    expect(ProfileSchema.safeParse({ ...base, os: { versionId: "20.04" } }).success).toBe(false);
    expect(ProfileSchema.safeParse({ ...base, os: { id: "ubuntu", version: "20.04" } }).success).toBe(false);
    expect(ProfileSchema.safeParse({ ...base, os: { id: "ubuntu", versionId: "20.04" } }).success).toBe(true);
  });
});

describe("detect: os-release through the capture reader (io.ts)", () => {
  it("a capture folder's etc/os-release is read", async () => {
    const { mkdtemp, mkdir, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { detectFromDir } = await import("../../src/detect/index.js");
    const dir = await mkdtemp(join(tmpdir(), "hwflake-os-"));
    try {
      await mkdir(join(dir, "etc"), { recursive: true });
      await writeFile(join(dir, "etc/os-release"), UBUNTU_2004);
      expect((await detectFromDir(dir, { host: "h" })).profile.os).toEqual({ id: "ubuntu", versionId: "20.04" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
