/**
 * Every unit the module library emits, rendered to a unit file the way NixOS writes it and
 * scored with `systemd-analyze security --offline=true` (the exposure level: 0 is fully
 * sandboxed, 10 is not at all), and checked with `systemd-analyze verify`.
 *
 * Bounds: loopback instances score ≤ 1.0 on the CPU and ≤ 1.2 on a GPU; every unit,
 * including public listeners, fetch and pull helpers, ≤ 1.4. nixpkgs' own services score
 * 1.6 (services.ollama) and 1.9 (services.llama-cpp) with the same systemd.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { skipNix } from "../helpers/nix.js";
import { evalHost, instances } from "./support/eval.js";
import { securityScore, skipSystemdAnalyze, systemdAnalyzeVersion, verify, writeUnits } from "./support/systemd-analyze.js";
import { renderSocket, renderUnit, type ServiceOptions, type SocketOptions } from "./support/unit-file.js";

interface Case {
  name: string;
  engine: "vllm" | "llama-cpp" | "ollama";
  device: "cpu" | "amd" | "nvidia";
  listen: "loopback" | "public";
  nix: string;
}

const model = (engine: Case["engine"]) =>
  engine === "llama-cpp" ? `gguf.repo = "ggml-org/gemma-3-1b-it-GGUF:Q4_K_M";` : engine === "vllm" ? `model = "Qwen/Qwen3-8B";` : `model = "llama3.2:3b";`;

const CASES: Case[] = (["vllm", "llama-cpp", "ollama"] as const).flatMap((engine, e) =>
  (["cpu", "amd", "nvidia"] as const).flatMap((device, d) =>
    (["loopback", "public"] as const).map((listen, l) => {
      const name = `${engine === "llama-cpp" ? "llama" : engine}-${device}-${listen === "loopback" ? "lo" : "pub"}`;
      const port = 9000 + e * 100 + d * 10 + l;
      const key = engine !== "ollama" ? `apiKeyFile = "/run/secrets/${name}";` : "";
      const host = listen === "public" ? `host = "0.0.0.0"; allowedClients = [ "192.168.1.0/24" ];` : "";
      const gpu = device === "cpu" ? "none" : device;
      return { name, engine, device, listen, nix: `${name} = { engine = "${engine}"; ${model(engine)} port = ${port}; gpu = "${gpu}"; ${key} ${host} };` };
    }),
  ),
);

function bound(c: Case | undefined): number {
  if (!c || c.listen === "public") return 1.4;
  return c.device === "cpu" ? 1.0 : 1.2;
}

/**
 * What `verify` may say about these files on a machine that is not the target: the store
 * paths do not exist here, and systemd 252 (Debian 12) does not know the restart backoff
 * settings added in systemd 254 (NixOS ships newer).
 */
const EXPECTED_ELSEWHERE = [
  /^\S+\.service: Command \/nix\/store\/\S+ is not executable: No such file or directory$/,
  /: Unknown key '(RestartSteps|RestartMaxDelaySec)' in section \[Service\], ignoring\.$/,
];

describe.skipIf(skipNix || skipSystemdAnalyze)(`hardening scores (${systemdAnalyzeVersion})`, () => {
  const evaluated = () =>
    evalHost<{ services: Record<string, ServiceOptions>; sockets: Record<string, SocketOptions> }>(
      instances(CASES.map((c) => c.nix).join("\n")),
      "{ services = c.systemd.services; sockets = c.systemd.sockets; }",
    );
  let cached: { dir: string; units: string[]; sockets: string[] } | null = null;
  const rendered = () => {
    if (!cached) {
      const e = evaluated();
      const texts: Record<string, string> = {};
      for (const [n, u] of Object.entries(e.services)) texts[`${n}.service`] = renderUnit(u);
      for (const [n, u] of Object.entries(e.sockets)) texts[`${n}.socket`] = renderSocket(u);
      cached = { dir: writeUnits(texts), units: Object.keys(e.services).sort(), sockets: Object.keys(e.sockets).sort() };
    }
    return cached;
  };
  const caseOf = (unit: string) => CASES.find((c) => unit === `hwflake-${c.name}`);

  it("every engine × device × listener emits its server, fetch and proxy units and the proxy's socket", () => {
    const { units, sockets } = rendered();
    for (const c of CASES) expect(units).toEqual(expect.arrayContaining([`hwflake-${c.name}`, `hwflake-${c.name}-fetch`, `hwflake-${c.name}-proxy`]));
    expect(units).toHaveLength(3 * CASES.length);
    expect(sockets).toEqual(CASES.map((c) => `hwflake-${c.name}-proxy`).sort());
  });

  it("scores every unit within its bound (loopback: CPU ≤ 1.0, GPU ≤ 1.2; every unit ≤ 1.4)", () => {
    const { dir, units } = rendered();
    const scores = units.map((u) => ({ unit: u, score: securityScore(join(dir, `${u}.service`)), bound: bound(caseOf(u)) }));
    expect(scores.length).toBe(3 * CASES.length);
    // The table the README quotes (printed so a change in a score is visible in the log).
    console.log(scores.map((s) => `${s.unit.padEnd(32)} ${s.score.toFixed(1)} (≤ ${s.bound.toFixed(1)})`).join("\n"));
    for (const s of scores) expect(s.score, s.unit).toBeLessThanOrEqual(s.bound);
  });

  it("systemd-analyze verify finds nothing but what only the target has (store paths, systemd ≥ 254 keys)", () => {
    const { dir } = rendered();
    for (const c of CASES) {
      const u = `hwflake-${c.name}`;
      const files = [`${u}.service`, `${u}-fetch.service`, `${u}-proxy.service`, `${u}-proxy.socket`].map((f) => join(dir, f));
      const unexpected = verify(files).filter((l) => !EXPECTED_ELSEWHERE.some((re) => re.test(l)));
      expect(unexpected, u).toEqual([]);
    }
  });
});
