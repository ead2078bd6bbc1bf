import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../src/cli/main.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SEED = join(ROOT, "examples", "mi50-desktop.yaml");

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "hwflake-cli-"));
}

function writeProfile(dir: string, body: string): string {
  const f = join(dir, "p.yaml");
  writeFileSync(f, body);
  return f;
}

describe("hwflake --version", () => {
  it("answers from bin/ without loading the CLI", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const out = execFileSync(process.execPath, [join(ROOT, "bin", "hwflake.js"), "--version"], { encoding: "utf8" });
    expect(out).toBe(`${pkg.version}\n`);
    // The fast path must not import dist/: the bin file imports the CLI only in the other branch.
    const bin = readFileSync(join(ROOT, "bin", "hwflake.js"), "utf8");
    expect(bin.indexOf('await import("../dist/cli/main.js")')).toBeGreaterThan(bin.indexOf("--version"));
  });
});

describe("hwflake plan", () => {
  it("explains the seed desktop: llama.cpp on the MI50, and why not vLLM", async () => {
    const r = await run("plan", "--profile", SEED);
    expect(r.code).toBe(0);
    expect(r.out).toContain('hwflake plan for host "l" (x86_64-linux)');
    expect(r.out).toContain("AVX2 yes, AVX-512 no");
    expect(r.out).toMatch(/coder → llama\.cpp \(rocm\)/);
    // The text is wrapped for terminals; compare with line breaks and indentation folded.
    const flat = r.out.replace(/\s+/g, " ");
    expect(flat).toMatch(/Not vLLM: vLLM's CMake lists gfx906, but ROCm Triton has no Vega 20/);
    expect(r.out).toContain("pin:     ROCR_VISIBLE_DEVICES=GPU-0e54792172da5eeb");
    expect(r.out).toContain("hwflake.rocm-gfx906  (coder)");
    expect(r.out).toContain("llama-cpp = llama-cpp.override");
    expect(r.out).toContain('clr localGpuTargets = [ "gfx906" ]');
    // The forecast: what compiles, roughly how long, and why it is not in the cache.
    expect(flat).toMatch(/forecast \(compiling before the first start\): roughly 1\.5–3 h, up to ~35 GB of disk, no recorded figure for llama\.cpp \(HIP\)/);
    expect(flat).toMatch(/builds narrowed to gfx906 are in no public cache/);
  });
  it("--json is the stable plan document", async () => {
    const r = await run("plan", "--profile", SEED, "--json");
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.out);
    expect(plan.instances.map((i: { name: string; engine: string; on: string[] }) => [i.name, i.engine, i.on])).toEqual([["coder", "llama-cpp", ["mi50"]]]);
    for (const f of plan.findings) expect(Object.keys(f)).toEqual(expect.arrayContaining(["code", "severity", "message", "source"]));
  });
  it("a refused plan exits 1 and says why", async () => {
    const d = tmp();
    const f = writeProfile(d, `version: 1\nhost: h\nsystem: x86_64-linux\naccelerators:\n  - {id: mi50, kind: gpu, vendor: amd, arch: gfx906}\nserve:\n  - {name: a, model: m/m, engine: vllm, on: [mi50], port: 8000}\n`);
    const r = await run("plan", "--profile", f);
    expect(r.code).toBe(1);
    expect(r.out).toContain("ENGINE_UNSUPPORTED");
    expect(r.out).toContain('use engine: "llama-cpp"');
  });
  it("an invalid profile exits 2 naming the field and the fix", async () => {
    const d = tmp();
    const f = writeProfile(d, "version: 1\nhost: h\nsystem: x86_64-linux\nacclerators: []\n");
    const r = await run("plan", "--profile", f);
    expect(r.code).toBe(2);
    expect(r.err).toContain('acclerators: unknown key "acclerators"; did you mean "accelerators"?');
  });
  it("a missing file exits 2", async () => {
    const r = await run("plan", "--profile", "/nonexistent/p.yaml");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--profile \/nonexistent\/p\.yaml: cannot read it \(ENOENT\)/);
  });
  it("an unknown command or flag exits 2", async () => {
    expect((await run("plna")).code).toBe(2);
    expect((await run("plan", "--profiel", SEED)).code).toBe(2);
  });
});

describe("hwflake schema", () => {
  it("prints the committed JSON Schema", async () => {
    const r = await run("schema");
    expect(r.code).toBe(0);
    expect(r.out).toBe(readFileSync(join(ROOT, "schema", "profile.schema.json"), "utf8"));
  });
});

describe("hwflake generate", () => {
  it("writes the flake, is idempotent, and --check detects drift", async () => {
    const out = join(tmp(), "l");
    const first = await run("generate", "--profile", SEED, "--out", out);
    expect(first.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([".hwflake-manifest", "README.md", "build-sets.nix", "flake.nix", "hosts", "modules"]);
    expect(existsSync(join(out, "hosts", "l.nix"))).toBe(true);
    // The module library travels with the output, so the flake needs no other input.
    expect(readFileSync(join(out, "modules", "lib", "build-sets.nix"), "utf8")).toContain("@generated by hwflake");
    expect(readFileSync(join(out, "flake.nix"), "utf8")).not.toContain("hwflake.url");

    const second = await run("generate", "--profile", SEED, "--out", out);
    expect(second.code).toBe(0);
    expect(second.out).not.toContain("wrote");

    expect((await run("generate", "--profile", SEED, "--out", out, "--check")).code).toBe(0);
    writeFileSync(join(out, "hosts", "l.nix"), readFileSync(join(out, "hosts", "l.nix"), "utf8") + "\n# edited\n");
    const drift = await run("generate", "--profile", SEED, "--out", out, "--check");
    expect(drift.code).toBe(1);
    expect(drift.err).toContain("hosts/l.nix");

    // An edited copy of the library is drift too, and generate puts it back.
    writeFileSync(join(out, "modules", "inference.nix"), readFileSync(join(out, "modules", "inference.nix"), "utf8") + "# edited\n");
    const libDrift = await run("generate", "--profile", SEED, "--out", out, "--check");
    expect(libDrift.code).toBe(1);
    expect(libDrift.err).toContain("modules/inference.nix");
    expect((await run("generate", "--profile", SEED, "--out", out)).code).toBe(0);
    expect(readFileSync(join(out, "modules", "inference.nix"), "utf8")).not.toContain("# edited");
  });
  it("--hwflake-url takes the library from a flake input and writes no copy", async () => {
    const out = join(tmp(), "l");
    expect((await run("generate", "--profile", SEED, "--out", out, "--hwflake-url", "path:/srv/hwflake")).code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([".hwflake-manifest", "README.md", "build-sets.nix", "flake.nix", "hosts"]);
    expect(readFileSync(join(out, "flake.nix"), "utf8")).toContain('url = "path:/srv/hwflake";');
  });
  it("refuses to clobber a hand-written file and writes nothing", async () => {
    const out = tmp();
    mkdirSync(join(out, "hosts"));
    writeFileSync(join(out, "flake.nix"), "{ my own flake }\n");
    const r = await run("generate", "--profile", SEED, "--out", out);
    expect(r.code).toBe(2);
    expect(r.err).toContain("flake.nix");
    expect(readFileSync(join(out, "flake.nix"), "utf8")).toBe("{ my own flake }\n");
    expect(existsSync(join(out, "hosts", "l.nix"))).toBe(false);
    expect((await run("generate", "--profile", SEED, "--out", out, "--force")).code).toBe(0);
  });
  it("an --out that is a file, or a file where hosts/ must go, is bad input (exit 2), not a crash", async () => {
    const d = tmp();
    writeFileSync(join(d, "plain"), "mine\n");
    for (const extra of [[], ["--check"], ["--force"]]) {
      const r = await run("generate", "--profile", SEED, "--out", join(d, "plain"), ...extra);
      expect(r.code, extra.join(" ")).toBe(2);
      expect(r.err).toContain("is a file, not a folder");
    }
    mkdirSync(join(d, "out"));
    writeFileSync(join(d, "out", "hosts"), "mine\n");
    const r = await run("generate", "--profile", SEED, "--out", join(d, "out"), "--force");
    expect(r.code).toBe(2);
    expect(r.err).toContain("is a file where hwflake needs a folder");
    expect(readFileSync(join(d, "out", "hosts"), "utf8")).toBe("mine\n");
    expect(readdirSync(join(d, "out"))).toEqual(["hosts"]);
    // detect --out naming a folder, or a path below a file.
    for (const out of [d, join(d, "plain", "p.yaml")]) {
      const det = await run("detect", "--from", join(ROOT, "test", "fixtures", "machines", "x86-intel-i7-1165g7"), "--out", out);
      expect(det.code, out).toBe(2);
    }
  });
  it("after a killed run, --check names the mix and the leftovers; generate repairs both", async () => {
    const out = join(tmp(), "l");
    expect((await run("generate", "--profile", SEED, "--out", out)).code).toBe(0);
    writeFileSync(join(out, "flake.nix"), readFileSync(join(out, "flake.nix"), "utf8") + "# half of another run\n");
    writeFileSync(join(out, ".README.md.hwflake-99999999-0123456789ab.tmp"), "half");
    const check = await run("generate", "--profile", SEED, "--out", out, "--check");
    expect(check.code).toBe(1);
    expect(check.err).toContain("an interrupted hwflake generate (or a hand edit) left a mix of two runs:\n  flake.nix");
    expect(check.err).toContain("temporary file(s) left by a killed run:\n  .README.md.hwflake-99999999-0123456789ab.tmp");
    const fix = await run("generate", "--profile", SEED, "--out", out);
    expect(fix.out).toContain("removed   .README.md.hwflake-99999999-0123456789ab.tmp");
    expect(fix.out).toContain("repaired  flake.nix");
    expect((await run("generate", "--profile", SEED, "--out", out, "--check")).code).toBe(0);
  });
  // "" used to reach the renderer and end as an internal error (exit 3).
  it.each([["--hwflake-url", "path:/x\n}; evil = {"], ["--nixpkgs-url", "--x"], ["--hwflake-url", "a\u0000"], ["--hwflake-url", ""]])("%s %j is refused with exit 2", async (flag, value) => {
    const out = join(tmp(), "o");
    const r = await run("generate", "--profile", SEED, "--out", out, `${flag}=${value}`);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`✘ ${flag}: `);
    expect(existsSync(out)).toBe(false);
  });
  it("a refused plan writes nothing and exits 1", async () => {
    const d = tmp();
    const f = writeProfile(d, `version: 1\nhost: h\nsystem: x86_64-linux\naccelerators:\n  - {id: mi50, kind: gpu, vendor: amd, arch: gfx906}\nserve:\n  - {name: a, model: m/m, on: [mi50], port: 8000}\n`);
    const out = join(d, "out");
    const r = await run("generate", "--profile", f, "--out", out);
    expect(r.code).toBe(1);
    expect(r.err).toContain("GGUF_MISSING");
    expect(existsSync(out)).toBe(false);
  });
});

describe("hwflake detect and capture", () => {
  it("detect --from a fixture prints a valid profile with the schema header", async () => {
    const r = await run("detect", "--from", join(ROOT, "test", "fixtures", "machines", "x86-amd-epyc7742-2s-lscpu"), "--host", "rome");
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toMatch(/^# yaml-language-server: \$schema=.*schema\/profile\.schema\.json$/);
    expect(r.out).toContain("host: rome");
    expect(r.out).toMatch(/flags:\n(    - [a-z0-9_]+\n)+/);
  });
  it("detect --json reports where facts came from and what stayed unknown", async () => {
    const r = await run("detect", "--from", join(ROOT, "test", "fixtures", "machines", "gpu-amd-mi50-x8-gfx906"), "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.report.unknown).toContain("cpu.flags");
    expect(j.report.facts.some((f: { path: string; from: string[] }) => f.path.startsWith("accelerators") && f.from.includes("commands/rocminfo.txt"))).toBe(true);
    expect(j.profile.accelerators.filter((a: { arch: string }) => a.arch === "gfx906")).toHaveLength(8);
  });
  it("detect --from a missing folder exits 2", async () => {
    const r = await run("detect", "--from", "/nonexistent/capture");
    expect(r.code).toBe(2);
  });
  it("detect --out writes once and refuses to clobber an edited profile", async () => {
    const d = tmp();
    const f = join(d, "host.yaml");
    const fixture = join(ROOT, "test", "fixtures", "machines", "x86-intel-i7-6700k-lscpu");
    expect((await run("detect", "--from", fixture, "--host", "sky", "--out", f)).code).toBe(0);
    expect(readFileSync(f, "utf8")).toMatch(/^# yaml-language-server: \$schema=(\.\.\/)+.*schema\/profile\.schema\.json\n/);
    writeFileSync(f, readFileSync(f, "utf8") + "serve: []\n");
    const again = await run("detect", "--from", fixture, "--host", "sky", "--out", f);
    expect(again.code).toBe(2);
    expect(readFileSync(f, "utf8")).toContain("serve: []");
  });
  it("capture then generate --from the capture works on this (CPU-only) host", async () => {
    const d = tmp();
    const cap = join(d, "capture");
    expect((await run("capture", cap)).code).toBe(0);
    expect(existsSync(join(cap, "proc", "cpuinfo"))).toBe(true);
    const out = join(d, "out");
    const r = await run("generate", "--from", cap, "--host", "box", "--out", out);
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(out, "hosts", "box.nix"), "utf8")).toContain("services.hwflake");
  });
  it("generate --detect runs detection on this host, then generates", async () => {
    const out = join(tmp(), "live");
    const r = await run("generate", "--detect", "--host", "live", "--out", out);
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(out, "flake.nix"))).toBe(true);
    expect(readFileSync(join(out, "hosts", "live.nix"), "utf8")).toMatch(/^# @generated by hwflake/);
  });
  it("--help lists the commands and the exit codes", async () => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void lines.push(a.join(" "));
    try {
      expect((await run("--help")).code).toBe(0);
    } finally {
      console.log = log;
    }
    const text = lines.join("\n");
    for (const c of ["generate", "plan", "schema", "detect", "capture"]) expect(text).toContain(`hwflake ${c}`);
    expect(text).toContain("Exit codes: 0 ok; 1 refused plan or drift (--check); 2 bad input; 3 internal error");
  });
  it("generate --from a capture without a system names the missing field", async () => {
    const r = await run("generate", "--from", join(ROOT, "test", "fixtures", "machines", "gpu-amd-mi50-x8-gfx906"), "--out", join(tmp(), "o"));
    expect(r.code).toBe(2);
    expect(r.err).toContain("system: unknown");
  });
});

describe("hwflake --fleet", () => {
  const LAB = join(ROOT, "examples", "fleet-lab");
  it("plan --fleet --json lists every host's plan and the fleet's build sets", async () => {
    const r = await run("plan", "--fleet", LAB, "--json");
    expect(r.code).toBe(0);
    const fleet = JSON.parse(r.out);
    expect(fleet.hosts.map((h: { host: string }) => h.host)).toEqual(["l", "node1", "node2", "xeon-2s"]);
    expect(fleet.buildSets.map((s: { name: string; hosts: string[] }) => [s.name, s.hosts])).toEqual(expect.arrayContaining([["rocm-gfx906", ["l"]]]));
  });
  it("generate --fleet writes one flake: a module per host, the library and the build sets once", async () => {
    const out = join(tmp(), "lab");
    const r = await run("generate", "--fleet", LAB, "--out", out);
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([".hwflake-manifest", "README.md", "build-sets.nix", "flake.nix", "hosts", "modules"]);
    expect(readdirSync(join(out, "hosts")).sort()).toEqual(["l.nix", "node1.nix", "node2.nix", "xeon-2s.nix"]);
    expect(readFileSync(join(out, "flake.nix"), "utf8")).toContain('node2 = hostModule "node2";');
    expect((await run("generate", "--fleet", LAB, "--out", out, "--check")).code).toBe(0);
  });
  it("a bad profile in the folder: exit 2 naming the file and field, nothing written", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "a.yaml"), readFileSync(SEED, "utf8"));
    writeFileSync(join(dir, "b.yaml"), "version: 1\nhost: b\nsystem: x86_64-linux\nacclerators: []\n");
    const out = join(dir, "out");
    const r = await run("generate", "--fleet", dir, "--out", out);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${join(dir, "b.yaml")}: acclerators: unknown key "acclerators"`);
    expect(existsSync(out)).toBe(false);
  });
  it("two profiles with one host name: exit 2 naming both files", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "a.yaml"), readFileSync(SEED, "utf8"));
    writeFileSync(join(dir, "b.yaml"), readFileSync(SEED, "utf8"));
    const r = await run("plan", "--fleet", dir);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${join(dir, "b.yaml")}: host: "l" is also the host of ${join(dir, "a.yaml")}`);
  });
  it("a fleet file with an address per host for 10,000 hosts is read (larger than any profile may be)", async () => {
    const dir = tmp();
    for (const f of readdirSync(LAB)) writeFileSync(join(dir, f), readFileSync(join(LAB, f), "utf8"));
    const spec = readFileSync(join(LAB, "fleet.yaml"), "utf8");
    const extra = Array.from({ length: 10_000 }, (_, i) => `  spare-host-${String(i).padStart(5, "0")}: 10.1.${i >> 8}.${i & 255}`).join("\n");
    writeFileSync(join(dir, "fleet.yaml"), spec.replace(/^addresses:\n/m, `addresses:\n${extra}\n`));
    expect(readFileSync(join(dir, "fleet.yaml")).length).toBeGreaterThan(256 * 1024);
    const r = await run("plan", "--fleet", dir, "--json");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).services.map((s: { name: string }) => s.name)).toEqual(["big"]);
  });
  it("a fleet file over its limit (4 MiB) is exit 2, named as a fleet file", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "a.yaml"), readFileSync(SEED, "utf8"));
    writeFileSync(join(dir, "fleet.yaml"), `version: 1\n# ${"x".repeat(4 * 1024 * 1024)}\n`);
    const r = await run("plan", "--fleet", dir);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/fleet\.yaml: larger than 4194304 bytes; a fleet file lists services and host addresses/);
  });
  it("a folder without profiles is exit 2", async () => {
    const r = await run("plan", "--fleet", tmp());
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no host profiles/);
  });
});
