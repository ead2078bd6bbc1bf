/**
 * Issue #9, the profile door: every string field of the profile, fed every hostile string,
 * through the CLI (`hwflake plan --json`, in-process). Each case must end one of two ways:
 * refused with exit 2 and the field's path in the message, or accepted with the value reaching
 * the plan (or, for fields the plan does not carry, the parsed profile) unchanged. Nothing may
 * be altered on the way, and nothing may crash (exit 3).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.js";
import { parseProfileText } from "../../src/profile/index.js";

/** Every string field is set; serve[0] runs vLLM so its model reaches the plan. */
const BASE = {
  $schema: "s.json",
  version: 1,
  host: "h",
  system: "x86_64-linux",
  cpu: { vendor: "amd", model: "CPU M", arch: "znver2", flags: ["avx", "avx2", "fma", "f16c", "sse4_2"], numa: [{ id: 0, cpus: "0-3" }] },
  accelerators: [
    { id: "g", kind: "gpu", vendor: "amd", arch: "gfx1100", model: "GPU M", uuid: "GPU-0e54792172da5eeb", pciAddress: "0000:03:00.0" },
  ],
  serve: [
    { name: "a", model: "org/model", engine: "vllm", on: ["g"], listen: "127.0.0.1", port: 8000, apiKeyFile: "/run/secrets/k" },
    { name: "b", model: "org/model2", gguf: { file: "/srv/m.gguf" }, engine: "llama-cpp", on: [], port: 8001 },
    { name: "c", model: "org/model3", gguf: { repo: "org/repo-GGUF:Q4" }, engine: "llama-cpp", on: [], port: 8002 },
  ],
};

/** Profile paths of every string field, and whether `plan --json` carries the value. */
const FIELDS: ReadonlyArray<readonly [path: string, inPlan: boolean]> = [
  ["$schema", false],
  ["host", true],
  ["system", true],
  ["cpu.vendor", false],
  ["cpu.model", false],
  ["cpu.arch", true],
  ["cpu.flags[0]", false], // the plan keeps only the flags it acts on
  ["cpu.numa[0].cpus", false],
  ["accelerators[0].id", true],
  ["accelerators[0].kind", false],
  ["accelerators[0].vendor", false],
  ["accelerators[0].arch", true],
  ["accelerators[0].model", false],
  ["accelerators[0].uuid", true],
  ["accelerators[0].pciAddress", false],
  ["serve[0].name", true],
  ["serve[0].model", true],
  ["serve[0].engine", true],
  ["serve[0].on[0]", true],
  ["serve[0].listen", true],
  ["serve[0].apiKeyFile", true],
  ["serve[1].gguf.file", true],
  ["serve[2].gguf.repo", true],
];

/** Strings that have broken a unit file, a command line, a Nix literal or a terminal somewhere. */
const HOSTILE = [
  "a\nb",
  "/run/secrets/k\nExecStartPre=/bin/sh -c id",
  "x\r\n[Service]\r\nUser=root",
  "a\0b",
  "a\tb",
  "\u001b[31mred\u001b[0m",
  "a\u007fb",
  "a\u0085b",
  "a\u2028b",
  "\ud800",
  "a\udc00b",
  "\ud83d\ude00", // a valid pair: an emoji
  "--help",
  "--trust-remote-code",
  " lead",
  "trail ",
  "/run/secrets/k ",
  "/run/secrets/../../etc/shadow",
  "/a//b",
  "/a/",
  "/",
  "",
  "..",
  "fe80::1%eth0",
  "%h",
  "/run/secrets/50%key",
  "${builtins.readFile /etc/passwd}",
  '"; x = 1; "',
  "''${x}''",
  "\\",
  "$(id)",
  "über",
  "x".repeat(5000),
  `/${"d/".repeat(3000)}f`,
];

function setAt(obj: unknown, path: string, value: unknown): void {
  const keys = path.match(/[^.[\]]+/g)!.map((k) => (/^\d+$/.test(k) ? Number(k) : k));
  let o = obj as Record<string | number, unknown>;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[keys.at(-1)!] = value;
}

function getAt(obj: unknown, path: string): unknown {
  let o = obj as Record<string | number, unknown> | undefined;
  for (const k of path.match(/[^.[\]]+/g)!) o = o?.[k] as Record<string | number, unknown> | undefined;
  return o;
}

function containsString(v: unknown, s: string): boolean {
  if (typeof v === "string") return v === s;
  if (Array.isArray(v)) return v.some((x) => containsString(x, s));
  if (v && typeof v === "object") return Object.values(v).some((x) => containsString(x, s));
  return false;
}

const dir = mkdtempSync(join(tmpdir(), "hwflake-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("hostile strings in every string field, through the CLI", () => {
  it("the base profile is accepted and every field it checks reaches the plan", async () => {
    const f = join(dir, "base.json");
    writeFileSync(f, JSON.stringify(BASE));
    let out = "";
    expect(await runCli(["plan", "--profile", f, "--json"], { out: (t) => (out += t), err: () => undefined })).toBe(0);
    const plan: unknown = JSON.parse(out);
    for (const [path, inPlan] of FIELDS) if (inPlan) expect(containsString(plan, getAt(BASE, path) as string), path).toBe(true);
  });

  it.each(FIELDS.map(([path, inPlan]) => [path, inPlan] as const))(
    "%s: each hostile string is refused naming the field, or reaches the plan unchanged",
    async (path, inPlan) => {
      const outcomes: string[] = [];
      for (const [i, value] of HOSTILE.entries()) {
        const profile = structuredClone(BASE);
        setAt(profile, path, value);
        // JSON keeps lone surrogates as \u escapes, which the YAML reader turns back into them.
        const f = join(dir, `${path.replace(/\W/g, "_")}-${i}.json`);
        writeFileSync(f, JSON.stringify(profile));
        let out = "";
        let err = "";
        const code = await runCli(["plan", "--profile", f, "--json"], { out: (t) => (out += t), err: (t) => (err += t) });
        const what = `${path} = ${JSON.stringify(value).slice(0, 60)}`;
        expect(code, `${what}: ${err}`).not.toBe(3);
        if (code === 2) {
          expect(err, what).toContain(`✘ ${path}: `);
          // The message never prints the raw control character back at the terminal.
          expect(err, what).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
          outcomes.push("refused");
          continue;
        }
        // Accepted (0) or refused by the planner (1) with the value intact.
        const plan: unknown = JSON.parse(out);
        if (inPlan) expect(containsString(plan, value), `${what} reaches the plan unchanged`).toBe(true);
        else expect(getAt(parseProfileText(JSON.stringify(profile), f), path), what).toBe(value);
        outcomes.push("accepted");
      }
      // Every field refuses at least the newline.
      expect(outcomes[0]).toBe("refused");
    },
    30_000,
  );

  it.each([
    ["serve[0].listen", "fe80::1%eth0"],
    ["serve[0].apiKeyFile", "/run/secrets/50%key"],
    ["serve[1].gguf.file", "/srv/models/100%.gguf"],
    ["serve[0].model", "/srv/models/Qwen2.5 7B"],
  ])("%s keeps a legitimate %j exactly (systemd escaping is the module library's job)", async (path, value) => {
    const profile = structuredClone(BASE);
    setAt(profile, path, value);
    const f = join(dir, "legit.json");
    writeFileSync(f, JSON.stringify(profile));
    let out = "";
    expect(await runCli(["plan", "--profile", f, "--json"], { out: (t) => (out += t), err: () => undefined })).toBe(0);
    expect(containsString(JSON.parse(out), value)).toBe(true);
  });

  it.each([
    ["serve[0].apiKeyFile", "/run/secrets/k\n[Service]\nExecStartPre=/bin/sh", "control characters"],
    ["serve[0].apiKeyFile", "/run/secrets/../../etc/shadow", 'no "." or ".." segments'],
    ["serve[0].apiKeyFile", "/run/secrets/k ", "whitespace"],
    ["serve[0].model", "--trust-remote-code", 'may not start with "-"'],
    ["serve[0].listen", "::1\0", "control characters"],
    ["serve[0].listen", "[::1]", "IPv6 without brackets"],
    ["serve[1].gguf.file", "relative.gguf", "absolute path"],
    ["cpu.model", "\ud800", "lone UTF-16 surrogate"],
  ])("%s = %j is refused with a message that names the fix", async (path, value, fix) => {
    const profile = structuredClone(BASE);
    setAt(profile, path, value);
    const f = join(dir, "bad.json");
    writeFileSync(f, JSON.stringify(profile));
    let err = "";
    expect(await runCli(["plan", "--profile", f], { out: () => undefined, err: (t) => (err += t) })).toBe(2);
    expect(err).toContain(`✘ ${path}: `);
    expect(err).toContain(fix);
  });
});
