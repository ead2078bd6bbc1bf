/**
 * The module library outside NixOS and in the foreground:
 *
 * - evaluated under typed stand-ins of numtide/system-manager's options (its own names, read
 *   at the revision recorded in support/system-manager-stubs.nix) and under the NixOS
 *   stand-ins: the same units, the driver preflight, the host-driver link unit;
 * - each instance's launcher (`apps.<system>.<name>` of the generated flake) run for real with
 *   bash against a stand-in server that records its argv, environment, working folder and
 *   the key it can read: the argv is the unit's ExecStart argv, the environment the unit's,
 *   the key comes from a file and never appears on the command line.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT, nixEvalJson, nixpkgsLib, skipNix } from "../helpers/nix.js";
import { nixPath, nixStr, SUPPORT_DIR } from "./support/eval.js";
import { argv } from "./support/systemd.js";

const tmp = mkdtempSync(join(tmpdir(), "hwflake-launcher-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Evaluate the module library with `stubs` (a file in support/) and a host module; `body` sees `c` (config) and `failedAssertions`. */
function evalWith(stubs: string, host: string, body: string, pkgsOverride = "{ }"): unknown {
  return nixEvalJson(`
    let
      lib = import ${nixPath(nixpkgsLib())};
      pkgs = import ${nixPath(join(SUPPORT_DIR, "fake-pkgs.nix"))} { inherit lib; } // ${pkgsOverride};
      eval = lib.evalModules {
        modules = [
          ${nixPath(join(SUPPORT_DIR, stubs))}
          (import ${nixPath(join(REPO_ROOT, "modules"))})
          { _module.args.pkgs = pkgs; }
          (${host})
        ];
      };
      c = eval.config;
      failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
    in ${body}`);
}

const NIXOS = "nixos-stubs.nix";
const SYSTEM_MANAGER = "system-manager-stubs.nix";

const gpuHost = `{
  nixpkgs.hostPlatform = "x86_64-linux";
  services.hwflake.instances = {
    coder = { engine = "llama-cpp"; gguf.repo = "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF:Q4_K_M"; port = 8000; gpu = "nvidia";
              apiKeyFile = "/run/secrets/coder-key"; environment.CUDA_VISIBLE_DEVICES = "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"; };
    chat = { engine = "vllm"; model = "Qwen/Qwen3-8B"; port = 8001; };
  };
}`;

describe.skipIf(skipNix)("the module library under system-manager and NixOS", () => {
  const units = (stubs: string, host: string) =>
    evalWith(stubs, host, `{ inherit failedAssertions; units = lib.mapAttrs (_: s: { inherit (s) environment wantedBy after wants; serviceConfig = builtins.removeAttrs s.serviceConfig [ ]; }) c.systemd.services; }`) as {
      failedAssertions: string[];
      units: Record<string, { environment: Record<string, string>; wantedBy: string[]; after: string[]; wants: string[]; serviceConfig: Record<string, unknown> }>;
    };

  it("evaluates under system-manager's options into the same units as under NixOS", () => {
    const sm = units(SYSTEM_MANAGER, gpuHost);
    const nixos = units(NIXOS, gpuHost.replace('nixpkgs.hostPlatform = "x86_64-linux";', ""));
    expect(sm.failedAssertions).toEqual([]);
    expect(Object.keys(sm.units).sort()).toEqual(["hwflake-chat", "hwflake-chat-fetch", "hwflake-chat-proxy", "hwflake-coder", "hwflake-coder-fetch", "hwflake-coder-proxy"]);
    expect(sm.units).toEqual(nixos.units);
  });

  it("a GPU instance checks its driver before starting (ExecStartPre); a CPU instance does not", () => {
    const r = evalWith(
      SYSTEM_MANAGER,
      gpuHost,
      `let expected = pkgs.writeShellScript "hwflake-coder-preflight" ((import ${nixPath(join(REPO_ROOT, "modules", "lib", "driver.nix"))} { inherit lib; }).preflight "hwflake-coder" "nvidia");
       in { pre = c.systemd.services.hwflake-coder.serviceConfig.ExecStartPre; expected = "\${expected}"; text = expected.text;
            chat = c.systemd.services.hwflake-chat.serviceConfig ? ExecStartPre; }`,
    ) as { pre: string[]; expected: string; text: string; chat: boolean };
    expect(r.chat).toBe(false);
    expect(r.pre).toEqual([r.expected]);
    expect(r.text).toContain("/run/opengl-driver/lib/libcuda.so.1 is missing");
    expect(r.text).toContain("/dev/nvidiactl is missing");
  });

  it("hostDriver links the distribution's NVIDIA libraries at boot, before the GPU units", () => {
    const r = evalWith(
      SYSTEM_MANAGER,
      `{ imports = [ (${gpuHost}) ]; services.hwflake.hostDriver.enable = true; }`,
      `{ inherit failedAssertions; link = c.systemd.services.hwflake-host-driver; coder = { inherit (c.systemd.services.hwflake-coder) after wants; };
         chatAfter = c.systemd.services.hwflake-chat.after; dirs = c.services.hwflake.hostDriver.libraryDirs; }`,
    ) as { failedAssertions: string[]; link: { wantedBy: string[]; serviceConfig: Record<string, unknown> }; coder: { after: string[]; wants: string[] }; chatAfter: string[]; dirs: string[] };
    expect(r.failedAssertions).toEqual([]);
    expect(r.link.wantedBy).toEqual(["multi-user.target"]);
    expect(r.link.serviceConfig).toMatchObject({ Type: "oneshot", RemainAfterExit: true });
    expect(r.coder.after).toContain("hwflake-host-driver.service");
    expect(r.coder.wants).toContain("hwflake-host-driver.service");
    expect(r.chatAfter).not.toContain("hwflake-host-driver.service");
    expect(r.dirs).toEqual(["/usr/lib/x86_64-linux-gnu"]);
  });

  it("hostDriver is refused on NixOS, where hardware.graphics owns /run/opengl-driver", () => {
    const r = evalWith(
      NIXOS,
      `{ imports = [ (${gpuHost.replace('nixpkgs.hostPlatform = "x86_64-linux";', "")}) ]; options.hardware.graphics.enable = lib.mkOption { type = lib.types.bool; default = false; }; config.services.hwflake.hostDriver.enable = true; }`,
      "failedAssertions",
    ) as string[];
    expect(r).toEqual([expect.stringMatching(/^services\.hwflake\.hostDriver: this is NixOS/)]);
  });

  it("the doctor's activation check says it cannot run under system-manager instead of failing evaluation", () => {
    const host = `{ services.hwflake.doctor = { enable = true; package = pkgs.bash; profile = ${nixPath(join(REPO_ROOT, "examples", "mi50-desktop.yaml"))}; }; }`;
    expect(evalWith(SYSTEM_MANAGER, `{ pkgs, ... }: ${host}`, "failedAssertions")).toEqual([
      expect.stringMatching(/^services\.hwflake\.doctor: runs at NixOS activation/),
    ]);
    expect(evalWith(NIXOS, `{ pkgs, ... }: ${host}`, "{ inherit failedAssertions; has = c.system.activationScripts ? hwflake-doctor; }")).toEqual({ failedAssertions: [], has: true });
  });
});

// ---------------------------------------------------------------------------------------------
// Running the launchers

/** A stand-in server: records argv (NUL-separated), environment, cwd and the key file it was told about. */
function fakePackage(name: string, bin: string): string {
  const dir = join(tmp, `pkg-${name}`);
  const out = join(tmp, `out-${name}`);
  mkdirSync(join(dir, "bin"), { recursive: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(dir, "bin", bin),
    `#!/bin/sh
out=${out}
printf '%s\\0' "$@" > "$out/argv"
/usr/bin/env -0 > "$out/env"
pwd > "$out/cwd"
rm -f "$out/key"
prev=
for a in "$@"; do
  if [ "$prev" = "--api-key-file" ]; then cat "$a" > "$out/key"; fi
  prev=$a
done
`,
  );
  chmodSync(join(dir, "bin", bin), 0o755);
  return dir;
}

/** coreutils for the launcher: links to this machine's mkdir, ln and env. */
function fakeCoreutils(): string {
  const dir = join(tmp, "coreutils");
  if (!existsSync(dir)) {
    mkdirSync(join(dir, "bin"), { recursive: true });
    for (const b of ["mkdir", "ln", "env"]) symlinkSync(`/usr/bin/${b}`, join(dir, "bin", b));
  }
  return dir;
}

interface Launched {
  status: number | null;
  stdout: string;
  stderr: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  key: string | null;
}

interface Evaluated {
  launcher: string;
  execStart: string;
  environment: Record<string, string>;
}

/** A stand-in Python for the model download: records its argv and environment, downloads nothing. */
function fakePython(): string {
  const dir = join(tmp, "fake-python");
  if (!existsSync(dir)) {
    mkdirSync(join(dir, "bin"), { recursive: true });
    writeFileSync(join(dir, "bin", "python3"), `#!/bin/bash\nprintf '%s\\0' "$@" > ${join(tmp, "fetch-argv")}\n/usr/bin/env -0 > ${join(tmp, "fetch-env")}\n`, { mode: 0o755 });
  }
  return dir;
}

/** Evaluate instance `inst` (Nix attrset text, package = the stand-in) and return its launcher text and unit. */
function evalInstance(name: string, inst: string, pkgDir: string): Evaluated {
  const pkg = `{ type = "derivation"; name = "fake"; outPath = ${nixStr(pkgDir)}; }`;
  return evalWith(
    SYSTEM_MANAGER,
    `{ nixpkgs.hostPlatform = "x86_64-linux"; services.hwflake.instances.${name} = ${inst} // { package = ${pkg}; }; }`,
    `{ launcher = c.services.hwflake.instances.${name}.launcher.text; execStart = c.systemd.services.hwflake-${name}.serviceConfig.ExecStart; environment = c.systemd.services.hwflake-${name}.environment; }`,
    `{ coreutils = { type = "derivation"; name = "coreutils"; outPath = ${nixStr(fakeCoreutils())}; };
       python3 = { withPackages = _: { type = "derivation"; name = "python3-env"; outPath = ${nixStr(fakePython())}; }; }; }`,
  ) as Evaluated;
}

function launch(script: string, outDir: string, args: string[], env: Record<string, string>): Launched {
  const file = join(tmp, `launcher-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(file, script);
  const r = spawnSync("bash", [file, ...args], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", HOME: join(tmp, "home"), ...env } });
  const read = (f: string) => (existsSync(join(outDir, f)) ? readFileSync(join(outDir, f), "utf8") : "");
  const argvFile = read("argv");
  const envFile = read("env");
  const cwd = read("cwd").trim();
  const key = existsSync(join(outDir, "key")) ? read("key") : null;
  for (const f of ["argv", "env", "cwd", "key"]) rmSync(join(outDir, f), { force: true });
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    argv: argvFile === "" ? [] : argvFile.slice(0, -1).split("\0"),
    env: Object.fromEntries(
      envFile
        .split("\0")
        .filter((l) => l !== "")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    ),
    cwd,
    key,
  };
}

describe.skipIf(skipNix)("launchers (apps): run for real against a stand-in server", () => {
  const keyFile = join(tmp, "secret-key");
  writeFileSync(keyFile, "sk-the-key-itself\n");
  const otherKey = join(tmp, "other-key");
  writeFileSync(otherKey, "sk-other\n");
  const state = join(tmp, "state");
  const cache = join(tmp, "cache");
  const out = join(tmp, "out-llama");
  const pkg = fakePackage("llama", "llama-server");
  const hostile = `a'b "c" $HOME \`x\` ; \\`;
  const coder = evalInstance(
    "coder",
    `{ engine = "llama-cpp"; gguf.repo = "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF:Q4_K_M"; host = "0.0.0.0"; port = 8000;
       apiKeyFile = ${nixStr(keyFile)}; environment.ROCR_VISIBLE_DEVICES = "GPU-0e54792172da5eeb"; environment.ODD = ${nixStr(hostile)};
       extraArgs = [ "--ctx-size" "8192" ${nixStr(hostile)} ]; }`,
    pkg,
  );
  const dirs = { HWFLAKE_STATE_DIR: state, HWFLAKE_CACHE_DIR: cache };

  /** The unit's argv, with systemd's own ${CREDENTIALS_DIRECTORY} expanded the way the launcher sets it. */
  const unitArgv = (credentials: string) => argv(coder.execStart).map((a) => a.replace("${CREDENTIALS_DIRECTORY}", credentials));

  it("fetches the model as the fetch unit would, then runs the unit's executable with the unit's arguments, in its state folder", () => {
    const r = launch(coder.launcher, out, [], dirs);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // The unit listens on its namespace's loopback behind the socket proxy; in the foreground
    // there is no proxy, so the server binds the instance's own address. The model the unit's
    // fetch puts in its cache folder is in the launcher's.
    const want = unitArgv(join(state, "credentials")).map((a, i, all) =>
      all[i - 1] === "--host" ? "0.0.0.0" : a.replace("/var/cache/hwflake-coder", cache),
    );
    expect([join(pkg, "bin", "llama-server"), ...r.argv]).toEqual(want);
    expect(r.argv).toContain(hostile);
    expect(r.cwd).toBe(state);
    const fetchArgv = readFileSync(join(tmp, "fetch-argv"), "utf8").slice(0, -1).split("\0");
    expect(fetchArgv.slice(1)).toEqual(["gguf", "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF:Q4_K_M", join(cache, "model.gguf")]);
    expect(readFileSync(join(tmp, "fetch-env"), "utf8").split("\0")).toContain(`HWFLAKE_FETCHED=${join(cache, "hwflake-fetched")}`);
  });

  it("has exactly the unit's environment, its folders moved to the launcher's, plus the credentials folder and PATH", () => {
    const r = launch(coder.launcher, out, [], { ...dirs, SOMETHING_ELSE: "not passed", CUDA_VISIBLE_DEVICES: "7", TERM: "xterm-test" });
    delete r.env.PWD; // set by the stand-in server's own /bin/sh
    const moved = Object.fromEntries(
      Object.entries(coder.environment).map(([k, v]) => [k, v.replace("/var/lib/hwflake-coder", state).replace("/var/cache/hwflake-coder", cache)]),
    );
    expect(r.env).toEqual({ ...moved, CREDENTIALS_DIRECTORY: join(state, "credentials"), PATH: "/usr/bin:/bin", TERM: "xterm-test" });
    expect(r.env.ROCR_VISIBLE_DEVICES).toBe("GPU-0e54792172da5eeb");
    expect(r.env.ODD).toBe(hostile);
    expect(r.env.HOME).toBe(state);
  });

  it("takes the environment from the unit itself: a PATH the unit sets (as NixOS does) wins over the caller's", () => {
    const pout = join(tmp, "out-path");
    const ppkg = fakePackage("path", "llama-server");
    const pkgExpr = `{ type = "derivation"; name = "fake"; outPath = ${nixStr(ppkg)}; }`;
    const r = evalWith(
      SYSTEM_MANAGER,
      `{ nixpkgs.hostPlatform = "x86_64-linux";
         services.hwflake.instances.p = { engine = "llama-cpp"; gguf.file = "/m.gguf"; port = 8004; package = ${pkgExpr}; };
         systemd.services.hwflake-p.environment.PATH = "/unit/bin:/usr/bin:/bin"; }`,
      `c.services.hwflake.instances.p.launcher.text`,
      `{ coreutils = { type = "derivation"; name = "coreutils"; outPath = ${nixStr(fakeCoreutils())}; }; }`,
    ) as string;
    const run = launch(r, pout, [], { ...dirs, TERM: "t" });
    expect(run.status).toBe(0);
    expect(run.env.PATH).toBe("/unit/bin:/usr/bin:/bin");
    expect(run.env.TERM).toBe("t");
  });

  it("reads the key from the file in HWFLAKE_API_KEY_FILE, then --api-key-file; the key is never an argument", () => {
    const viaEnv = launch(coder.launcher, out, [], { ...dirs, HWFLAKE_API_KEY_FILE: otherKey });
    const linked = join(state, "credentials", "api-key");
    expect(readFileSync(linked, "utf8")).toBe("sk-other\n");
    expect(viaEnv.key).toBe("sk-other\n"); // what the server read through --api-key-file
    expect(viaEnv.argv.join(" ")).not.toContain("sk-");
    const viaFlag = launch(coder.launcher, out, ["--api-key-file", keyFile], { ...dirs, HWFLAKE_API_KEY_FILE: otherKey });
    expect(viaFlag.status).toBe(0);
    expect(viaFlag.key).toBe("sk-the-key-itself\n");
    expect(viaFlag.argv.join(" ")).not.toContain("sk-");
    expect(viaFlag.argv.slice(viaFlag.argv.indexOf("--api-key-file"), viaFlag.argv.indexOf("--api-key-file") + 2)).toEqual(["--api-key-file", linked]);
    // Without either, the instance's own apiKeyFile, as the unit would load it.
    launch(coder.launcher, out, [], dirs);
    expect(readFileSync(linked, "utf8")).toBe("sk-the-key-itself\n");
  });

  it("fails with one clear line when the key file cannot be read", () => {
    const r = launch(coder.launcher, out, ["--api-key-file=/nonexistent/key"], dirs);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("hwflake-coder: cannot read the API key file /nonexistent/key; pass --api-key-file FILE or set HWFLAKE_API_KEY_FILE\n");
    expect(r.argv).toEqual([]);
  });

  it("appends server arguments given after --, and refuses anything else", () => {
    const r = launch(coder.launcher, out, ["--", "--verbose", "x y"], dirs);
    expect(r.argv.slice(-2)).toEqual(["--verbose", "x y"]);
    const bad = launch(coder.launcher, out, ["--verbose"], dirs);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("hwflake-coder: unknown argument '--verbose' (server arguments go after --)\n");
    const help = launch(coder.launcher, out, ["--help"], dirs);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: hwflake-coder \[--api-key-file FILE\]/);
    expect(help.argv).toEqual([]);
  });

  it("an instance without apiKeyFile runs without a key and refuses --api-key-file", () => {
    const vout = join(tmp, "out-vllm");
    const vpkg = fakePackage("vllm", "vllm");
    const chat = evalInstance("chat", `{ engine = "vllm"; model = "Qwen/Qwen3-8B"; port = 8001; }`, vpkg);
    const r = launch(chat.launcher, vout, [], dirs);
    expect(r.status).toBe(0);
    expect([join(vpkg, "bin", "vllm"), ...r.argv]).toEqual(argv(chat.execStart));
    expect(r.env).not.toHaveProperty("CREDENTIALS_DIRECTORY");
    const refused = launch(chat.launcher, vout, ["--api-key-file", keyFile], dirs);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^hwflake-chat: this instance has no apiKeyFile/);
  });

  it("vLLM with a key: the app execs the unit's own key wrapper, which reads $CREDENTIALS_DIRECTORY/api-key", () => {
    const r = evalWith(
      SYSTEM_MANAGER,
      `{ nixpkgs.hostPlatform = "x86_64-linux"; services.hwflake.instances.v = { engine = "vllm"; model = "m"; port = 8003; apiKeyFile = "/run/k"; }; }`,
      `let e = (import ${nixPath(join(REPO_ROOT, "modules", "engines.nix"))} { inherit lib pkgs; }).vllm "v" c.services.hwflake.instances.v; in
       { app = c.services.hwflake.instances.v.launcher.text; wrapper = "\${e.launcher}"; wrapperText = e.launcher.text; execStart = c.systemd.services.hwflake-v.serviceConfig.ExecStart; }`,
    ) as { app: string; wrapper: string; wrapperText: string; execStart: string };
    expect(argv(r.execStart)[0]).toBe(r.wrapper);
    expect(r.app).toMatch(new RegExp(`^exec \\S+/bin/env -i "\\$\\{unit_env\\[@\\]\\}" ${r.wrapper.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} serve m `, "m"));
    expect(r.app).toContain('unit_env+=("CREDENTIALS_DIRECTORY=$CREDENTIALS_DIRECTORY")');
    expect(r.wrapperText).toContain('$(< "$CREDENTIALS_DIRECTORY/api-key")');
    expect(r.app).not.toContain("VLLM_API_KEY=");
  });

  it("a GPU instance stops before the server with one line when the driver is missing", () => {
    // This machine has neither /dev/nvidiactl nor /run/opengl-driver.
    const gout = join(tmp, "out-gpu");
    const gpkg = fakePackage("gpu", "llama-server");
    const gpu = evalInstance("gpu", `{ engine = "llama-cpp"; gguf.file = "/m.gguf"; port = 8002; gpu = "nvidia"; }`, gpkg);
    const r = launch(gpu.launcher, gout, [], dirs);
    if (existsSync("/dev/nvidiactl")) return;
    expect(r.status).toBe(1);
    expect(r.stderr.split("\n").filter((l) => l !== "")).toEqual([expect.stringMatching(/^hwflake-gpu: \/dev\/nvidiactl is missing/)]);
    expect(r.argv).toEqual([]);
  });
});
