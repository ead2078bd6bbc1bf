/**
 * The CPU side of the module library: instances.<name>.cpu (CPUAffinity=, NUMAPolicy=,
 * NUMAMask=, TCMalloc, the ExecStartPre feature check) and loadBalancers (nixpkgs'
 * services.nginx), evaluated with the real module system; the preflight script run against
 * real /proc/cpuinfo captures; the golden two-socket host evaluated end to end; and the unit
 * settings checked by systemd's own parser where systemd-analyze exists.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, nixEvalJson, nixpkgsLib, skipNix } from "../helpers/nix.js";
import { parseProfileText } from "../../src/profile/index.js";
import { planHost } from "../../src/plan/index.js";
import { evalHost, instances, nixPath, SUPPORT_DIR, withOutputEval } from "./support/eval.js";
import { argv } from "./support/systemd.js";

interface Unit {
  environment: Record<string, string>;
  serviceConfig: Record<string, string | boolean | number | string[]>;
}

const twoNodes = `{
  services.hwflake.instances = {
    chat-node0 = { engine = "vllm"; model = "org/m"; port = 8001; servedModelName = "chat"; apiKeyFile = "/run/secrets/k";
      cpu = { affinity = "0-13,41"; numaPolicy = "bind"; numaMask = "0"; tcmalloc = true; requiredFeatures = [ "avx2" ]; }; };
    chat-node1 = { engine = "vllm"; model = "org/m"; port = 8002; servedModelName = "chat"; apiKeyFile = "/run/secrets/k";
      cpu = { affinity = "14-27,55"; numaPolicy = "bind"; numaMask = "1"; tcmalloc = true; requiredFeatures = [ "avx2" ]; }; };
    small = { engine = "llama-cpp"; gguf.file = "/m.gguf"; port = 9000; cpu = { affinity = "0-27"; numaPolicy = "interleave"; numaMask = "0-1"; }; };
  };
  services.hwflake.loadBalancers.chat = { host = "0.0.0.0"; port = 8000; backends = [ "chat-node0" "chat-node1" ]; openFirewall = true; };
}`;

describe.skipIf(skipNix)("instances.<name>.cpu", () => {
  const r = () =>
    evalHost<{ s: Record<string, Unit>; pre: string; gperf: string; failed: string[] }>(
      twoNodes,
      `{ s = c.systemd.services; pre = "\${pkgs.writeShellScript "hwflake-cpu-preflight" (import ${nixPath(join(REPO_ROOT, "modules", "lib", "preflight.nix"))})}"; gperf = "\${pkgs.gperftools}"; failed = failedAssertions; }`,
    );

  it("CPUAffinity, NUMAPolicy and NUMAMask reach the unit; TCMalloc is preloaded from gperftools", () => {
    const { s, gperf, failed } = r();
    expect(failed).toEqual([]);
    expect(s["hwflake-chat-node0"]!.serviceConfig).toMatchObject({ CPUAffinity: "0-13,41", NUMAPolicy: "bind", NUMAMask: "0" });
    expect(s["hwflake-chat-node1"]!.serviceConfig).toMatchObject({ CPUAffinity: "14-27,55", NUMAPolicy: "bind", NUMAMask: "1" });
    expect(s["hwflake-chat-node0"]!.environment.LD_PRELOAD).toBe(`${gperf}/lib/libtcmalloc_minimal.so`);
    expect(s["hwflake-small"]!.serviceConfig).toMatchObject({ CPUAffinity: "0-27", NUMAPolicy: "interleave", NUMAMask: "0-1" });
    expect(s["hwflake-small"]!.environment.LD_PRELOAD).toBeUndefined();
    expect(s["hwflake-small"]!.serviceConfig.ExecStartPre).toBeUndefined();
  });

  it("ExecStartPre runs the preflight with the unit's name and features, one argument each", () => {
    const { s, pre } = r();
    const lines = s["hwflake-chat-node0"]!.serviceConfig.ExecStartPre as string[];
    expect(lines).toHaveLength(1);
    expect(argv(lines[0]!)).toEqual([pre, "hwflake-chat-node0", "avx2"]);
  });

  it("the check is the first ExecStartPre= line when other modules add theirs (NixOS concatenates list definitions)", () => {
    const lines = evalHost<string[]>(
      `{ imports = [ ${twoNodes} ]; systemd.services.hwflake-chat-node0.serviceConfig.ExecStartPre = [ "/bin/download-model" ]; }`,
      "c.systemd.services.hwflake-chat-node0.serviceConfig.ExecStartPre",
    );
    expect(lines).toHaveLength(2);
    expect(argv(lines[0]!).slice(1)).toEqual(["hwflake-chat-node0", "avx2"]);
    expect(lines[1]).toBe("/bin/download-model");
  });

  it("per-node servers answer to the entry's model name; the API key stays a credential of each engine", () => {
    const { s } = r();
    const a = argv(String(s["hwflake-chat-node0"]!.serviceConfig.ExecStart));
    expect(a[a.indexOf("--served-model-name") + 1]).toBe("chat");
    expect(s["hwflake-chat-node0"]!.serviceConfig.LoadCredential).toBe("api-key:/run/secrets/k");
    const l = argv(String(evalHost<string>(instances(`x = { engine = "llama-cpp"; gguf.repo = "a/b"; port = 1; servedModelName = "y"; };`), "c.systemd.services.hwflake-x.serviceConfig.ExecStart")));
    expect(l[l.indexOf("--alias") + 1]).toBe("y");
  });

  it("instances without cpu settings are untouched", () => {
    const s = evalHost<Record<string, Unit>>(instances(`x = { engine = "vllm"; model = "m"; port = 1; };`), "c.systemd.services");
    for (const k of ["CPUAffinity", "NUMAPolicy", "NUMAMask", "ExecStartPre"]) expect(s["hwflake-x"]!.serviceConfig[k]).toBeUndefined();
    expect(s["hwflake-x"]!.environment.LD_PRELOAD).toBeUndefined();
  });

  it.each([
    [`cpu.numaPolicy = "bind";`, "numaPolicy \"bind\" needs numaMask"],
  ])("%s fails: %s", (cpu, message) => {
    const failed = evalHost<string[]>(instances(`x = { engine = "vllm"; model = "m"; port = 1; ${cpu} };`), "failedAssertions");
    expect(failed.join("\n")).toContain(message);
  });
  it("a malformed affinity is a type error", () => {
    expect(() => evalHost(instances(`x = { engine = "vllm"; model = "m"; port = 1; cpu.affinity = "0-3;rm"; };`), "c.systemd.services")).toThrow();
  });
});

describe.skipIf(skipNix)("loadBalancers: nixpkgs' services.nginx", () => {
  const nginx = () =>
    evalHost<{
      enable: boolean;
      upstreams: Record<string, { servers: Record<string, Record<string, unknown>>; extraConfig: string }>;
      virtualHosts: Record<string, { listen: { addr: string; port: number }[]; locations: Record<string, { proxyPass: string; extraConfig: string }> }>;
      ports: number[];
    }>(twoNodes, "c.services.nginx // { ports = c.networking.firewall.allowedTCPPorts; }");

  it("an upstream of the per-node servers: least connections, passive health checks, keepalive", () => {
    const n = nginx();
    expect(n.enable).toBe(true);
    expect(Object.keys(n.upstreams)).toEqual(["hwflake-chat"]);
    expect(n.upstreams["hwflake-chat"]!.servers).toEqual({
      "127.0.0.1:8001": { backup: false, max_fails: 2, fail_timeout: "30s" },
      "127.0.0.1:8002": { backup: false, max_fails: 2, fail_timeout: "30s" },
    });
    expect(n.upstreams["hwflake-chat"]!.extraConfig).toContain("least_conn;");
  });
  it("a virtual host on the instance's address streams unbuffered with long timeouts", () => {
    const n = nginx();
    const v = n.virtualHosts["hwflake-chat"]!;
    expect(v.listen).toEqual([expect.objectContaining({ addr: "0.0.0.0", port: 8000 })]);
    expect(v.locations["/"]!.proxyPass).toBe("http://hwflake-chat");
    for (const d of ["proxy_buffering off;", "proxy_read_timeout 1h;", "proxy_http_version 1.1;"]) expect(v.locations["/"]!.extraConfig).toContain(d);
    expect(v.locations["/"]!.extraConfig).not.toContain("/run/secrets");
    expect(n.ports).toEqual([8000]);
  });
  it.each([
    [`port = 8000; backends = [ "nope" ];`, "backends nope are not enabled services.hwflake.instances"],
    [`port = 8000; backends = [ "open" ];`, "backends open listen beyond loopback"],
    [`port = 8001; backends = [ "a" ];`, "is also used by instance a"],
    [`port = 8000; backends = [ ];`, "no backends"],
  ])("%s fails: %s", (lb, message) => {
    const failed = evalHost<string[]>(
      `{ services.hwflake.instances = { a = { engine = "vllm"; model = "m"; port = 8001; }; open = { engine = "vllm"; model = "m"; host = "0.0.0.0"; port = 8002; }; };
         services.hwflake.loadBalancers.x = { ${lb} }; }`,
      "failedAssertions",
    );
    expect(failed.join("\n")).toContain(message);
  });
  it("no load balancer, no nginx", () => {
    expect(evalHost<boolean>(instances(`x = { engine = "vllm"; model = "m"; port = 1; };`), "c.services.nginx.enable")).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------

const MACHINES = join(REPO_ROOT, "test", "fixtures", "machines");
const cpuinfos = readdirSync(MACHINES).filter((m) => existsSync(join(MACHINES, m, "proc", "cpuinfo")));

function preflightScript(): string {
  const text = nixEvalJson(`import ${nixPath(join(REPO_ROOT, "modules", "lib", "preflight.nix"))}`) as string;
  const dir = mkdtempSync(join(tmpdir(), "hwflake-preflight-"));
  const file = join(dir, "preflight.sh");
  writeFileSync(file, text);
  return file;
}

function run(shell: string, script: string, machine: string | null, features: string[]) {
  const r = spawnSync(shell, [script, "hwflake-t", ...features], {
    env: { PATH: "/nonexistent", HWFLAKE_CPUINFO: machine ? join(MACHINES, machine, "proc", "cpuinfo") : "/nonexistent/cpuinfo" },
    encoding: "utf8",
  });
  return { status: r.status, stderr: r.stderr };
}

/** What a machine has, from its own cpuinfo (the flags/Features line, or the POWER generation). */
function facts(machine: string): { flags: Set<string>; power: number | null } {
  const text = readFileSync(join(MACHINES, machine, "proc", "cpuinfo"), "latin1");
  const line = /^(?:flags|Features)\s*:(.*)$/m.exec(text);
  const power = /^cpu\s*:.*POWER(\d+)/m.exec(text);
  return { flags: new Set((line?.[1] ?? "").trim().split(/\s+/)), power: power ? Number(power[1]) : null };
}

/** Absolute paths: the script runs with an empty PATH, as it must need no other program. */
const shells = ["bash", "sh", "dash"]
  .map((s) => spawnSync("sh", ["-c", `command -v ${s}`], { encoding: "utf8" }).stdout.trim())
  .filter((s) => s.startsWith("/"));

describe.skipIf(skipNix).each(shells)("the preflight script under %s, against real /proc/cpuinfo captures", (shell) => {
  const script = preflightScript();
  it.each(cpuinfos)("%s: passes exactly when the CPU has the feature, with one journal line naming what is missing", (machine) => {
    const f = facts(machine);
    const cases: [string[], boolean][] = [
      [["avx2"], f.flags.has("avx2")],
      [["asimd"], f.flags.has("asimd")],
      [["avx2", "avx512f"], f.flags.has("avx2") && f.flags.has("avx512f")],
      [["power9"], f.power !== null && f.power >= 9],
      [["vsx", "power9"], f.power !== null && f.power >= 9],
      [["vsx"], f.power !== null ? f.power >= 7 : f.flags.has("vsx")],
    ];
    for (const [features, ok] of cases) {
      const r = run(shell, script, machine, features);
      expect(r.status, `${machine} ${features}: ${r.stderr}`).toBe(ok ? 0 : 1);
      if (ok) expect(r.stderr).toBe("");
      else {
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stderr).toMatch(/^hwflake-t: not starting: this CPU lacks .*SIGILL/);
      }
    }
  });
  it("names the missing flag, and POWER generations in words", () => {
    expect(run(shell, script, "x86-intel-xeon-x7550-64cpu", ["avx2"]).stderr).toContain("lacks avx2,");
    expect(run(shell, script, "ppc64le-power8nvl-cpuinfo", ["vsx", "power9"]).stderr).toContain("lacks POWER9 or newer (this CPU: POWER8)");
  });
  it("an unreadable cpuinfo is reported and not held against the unit", () => {
    const r = run(shell, script, null, ["avx2"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("cannot read /nonexistent/cpuinfo");
  });
});

// ---------------------------------------------------------------------------------------------

describe.skipIf(skipNix)("golden cpu-xeon-2s end to end: the plan's binding, environment and nginx upstream reach the units", () => {
  const file = join(REPO_ROOT, "examples", "cpu-xeon-2s.yaml");
  const plan = planHost(parseProfileText(readFileSync(file, "utf8"), file));
  const dir = join(REPO_ROOT, "test", "golden", "cpu-xeon-2s");
  const got = () =>
    nixEvalJson(
      // The shipped library: the output's copy of it is checked equal in golden.test.ts.
      withOutputEval({ dir, host: plan.host, modules: join(REPO_ROOT, "modules") }, `{
        units = lib.mapAttrs (_: s: { inherit (s) environment serviceConfig; }) c.systemd.services;
        nginx = { inherit (c.services.nginx) enable upstreams virtualHosts; };
        failed = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
      }`),
    ) as {
      units: Record<string, Unit>;
      nginx: { enable: boolean; upstreams: Record<string, { servers: Record<string, unknown> }>; virtualHosts: Record<string, { listen: { addr: string; port: number }[] }> };
      failed: string[];
    };

  it("every CPU instance's unit carries the planned CPUAffinity/NUMAPolicy/NUMAMask, environment and preflight", () => {
    const r = got();
    expect(r.failed).toEqual([]);
    for (const i of plan.instances) {
      const u = r.units[`hwflake-${i.name}`]!;
      const c = i.cpu!;
      expect(u.serviceConfig.CPUAffinity, i.name).toBe(c.affinity);
      expect(u.serviceConfig.NUMAPolicy ?? null).toBe(c.numaPolicy);
      expect(u.serviceConfig.NUMAMask ?? null).toBe(c.numaMask);
      for (const [k, v] of Object.entries(i.environment)) expect(u.environment[k]).toBe(v);
      expect(!!u.environment.LD_PRELOAD).toBe(c.tcmalloc);
      if (i.requiredCpuFeatures) expect(argv((u.serviceConfig.ExecStartPre as string[])[0]!).slice(1)).toEqual([`hwflake-${i.name}`, ...i.requiredCpuFeatures.value]);
    }
  });
  it("nginx: one upstream per load balancer with exactly the per-node servers, listening on the entry's address", () => {
    const r = got();
    expect(r.nginx.enable).toBe(true);
    for (const lb of plan.loadBalancers!) {
      const backends = lb.backends.map((b) => plan.instances.find((i) => i.name === b)!).map((i) => `${i.listen}:${i.port}`);
      expect(Object.keys(r.nginx.upstreams[`hwflake-${lb.name}`]!.servers).sort()).toEqual(backends.sort());
      expect(r.nginx.virtualHosts[`hwflake-${lb.name}`]!.listen).toEqual([expect.objectContaining({ addr: lb.listen, port: lb.port })]);
    }
  });
  it.skipIf(spawnSync("systemd-analyze", ["--version"]).status !== 0)("systemd's own parser knows every CPU/NUMA setting the units use (systemd-analyze verify)", () => {
    const r = got();
    const d = mkdtempSync(join(tmpdir(), "hwflake-units-"));
    const keys = ["CPUAffinity", "NUMAPolicy", "NUMAMask"];
    let n = 0;
    for (const [name, u] of Object.entries(r.units)) {
      const lines = keys.filter((k) => u.serviceConfig[k] !== undefined).map((k) => `${k}=${String(u.serviceConfig[k])}`);
      if (lines.length === 0) continue;
      n++;
      const f = join(d, `${name}.service`);
      writeFileSync(f, ["[Unit]", `Description=${name}`, "[Service]", "ExecStart=/bin/true", ...lines, ""].join("\n"));
      const out = spawnSync("systemd-analyze", ["verify", "--man=no", f], { encoding: "utf8" });
      expect(`${out.stdout}${out.stderr}`, name).not.toMatch(/Unknown key|Failed to parse|Invalid/i);
    }
    expect(n).toBe(plan.instances.length);
  });
});
