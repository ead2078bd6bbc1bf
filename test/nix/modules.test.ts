/**
 * The hwflake NixOS module library, evaluated with the real module system (pinned nixpkgs
 * lib), typed stubs of the NixOS options it sets, and a fake pkgs. ExecStart lines are read
 * back with a systemd command-line parser (support/systemd.ts), so the tests check the argv
 * each server really receives.
 */
import { describe, expect, it } from "vitest";
import { REPO_ROOT, nixEvalError, nixEvalJson, skipNix } from "../helpers/nix.js";
import { join } from "node:path";
import { evalHost, evalHostError, instances, nixPath, nixStr, SUPPORT_DIR, withEval } from "./support/eval.js";
import { argv, parseExecStart } from "./support/systemd.js";

type ServiceConfig = Record<string, boolean | number | string | string[]>;
interface Service {
  description: string;
  wantedBy: string[];
  after: string[];
  wants: string[];
  bindsTo: string[];
  requires: string[];
  environment: Record<string, string>;
  serviceConfig: ServiceConfig;
}
type Services = Record<string, Service>;

interface Pkgs {
  vllm: string;
  "llama-cpp": string;
  ollama: string;
}

/** Store paths of the fake engine packages. */
const pkgsExpr = `{ vllm = "\${pkgs.vllm}"; llama-cpp = "\${pkgs.llama-cpp}"; ollama = "\${pkgs.ollama}"; }`;

function services(hostConfig: string): Services {
  return evalHost<Services>(hostConfig, "c.systemd.services");
}

function failed(hostConfig: string): string[] {
  return evalHost<string[]>(hostConfig, "failedAssertions");
}

function execArgv(svc: Service): string[] {
  return argv(String(svc.serviceConfig.ExecStart));
}

const pkgs = (): Pkgs => evalHost<Pkgs>("{ }", pkgsExpr);

/** Hardening every main unit must carry, whatever the engine or GPU. */
const BASELINE: ServiceConfig = {
  CapabilityBoundingSet: "",
  DevicePolicy: "closed",
  DynamicUser: true,
  LockPersonality: true,
  NoNewPrivileges: true,
  PrivateTmp: true,
  PrivateUsers: true,
  ProtectClock: true,
  ProtectControlGroups: true,
  ProtectHome: true,
  ProtectHostname: true,
  ProtectKernelLogs: true,
  ProtectKernelModules: true,
  ProtectKernelTunables: true,
  ProtectProc: "invisible",
  ProtectSystem: "strict",
  RemoveIPC: true,
  RestrictAddressFamilies: ["AF_INET", "AF_INET6", "AF_UNIX"],
  RestrictNamespaces: true,
  RestrictRealtime: true,
  RestrictSUIDSGID: true,
  SystemCallArchitectures: "native",
  UMask: "0077",
  Restart: "on-failure",
};

/** Helper units (fetch, proxy) carry the same sandbox; the restart policy is the server's. */
const { Restart: _restart, ...HELPER_BASELINE } = BASELINE;

const NVIDIA_DEVICES = ["char-nvidiactl", "char-nvidia-caps", "char-nvidia-frontend", "char-nvidia-uvm", "char-drm"];

describe.skipIf(skipNix)("services.hwflake units", () => {
  it("llama-cpp on an AMD GPU: exact argv, device pin, ROCm devices and groups", () => {
    const p = pkgs();
    const s = services(
      instances(`
        rocm = {
          engine = "llama-cpp";
          gguf.repo = "ggml-org/gemma-3-1b-it-GGUF:Q4_K_M";
          port = 8081;
          gpu = "amd";
          environment.ROCR_VISIBLE_DEVICES = "GPU-0e54792172da5eeb";
        };`),
    );
    expect(Object.keys(s).sort()).toEqual(["hwflake-rocm", "hwflake-rocm-fetch", "hwflake-rocm-proxy"]);
    const u = s["hwflake-rocm"]!;
    expect(execArgv(u)).toEqual([
      `${p["llama-cpp"]}/bin/llama-server`,
      "--host",
      "127.0.0.1",
      "--port",
      "8081",
      // gguf.repo is downloaded by hwflake-rocm-fetch and linked here; the server stays offline.
      "-m",
      "/var/cache/hwflake-rocm/model.gguf",
      "--alias",
      "rocm",
    ]);
    expect(u.requires).toEqual(["hwflake-rocm-fetch.service"]);
    expect(u.after).toEqual(["hwflake-rocm-fetch.service"]);
    expect(argv(String(s["hwflake-rocm-fetch"]!.serviceConfig.ExecStart)).slice(2)).toEqual([
      "gguf",
      "ggml-org/gemma-3-1b-it-GGUF:Q4_K_M",
      "/var/cache/hwflake-rocm/model.gguf",
    ]);
    expect(u.environment).toMatchObject({
      ROCR_VISIBLE_DEVICES: "GPU-0e54792172da5eeb",
      HOME: "/var/lib/hwflake-rocm",
      LLAMA_CACHE: "/var/cache/hwflake-rocm/llama.cpp",
    });
    expect(u.serviceConfig).toMatchObject(BASELINE);
    expect(u.serviceConfig.DeviceAllow).toEqual(expect.arrayContaining(["char-kfd", "char-drm"]));
    expect(u.serviceConfig.DeviceAllow).not.toContain("char-nvidia-uvm");
    expect(u.serviceConfig.SupplementaryGroups).toEqual(expect.arrayContaining(["render", "video"]));
    expect(u.serviceConfig).toMatchObject({
      PrivateDevices: false,
      MemoryDenyWriteExecute: true,
      ProcSubset: "all",
      StateDirectory: "hwflake-rocm",
      CacheDirectory: "hwflake-rocm",
      WorkingDirectory: "/var/lib/hwflake-rocm",
    });
    expect(u.serviceConfig.LoadCredential).toBeUndefined();
    expect(u.wantedBy).toEqual(["multi-user.target"]);
    // No network for the server: the download has its own unit.
    expect(u.wants).toEqual([]);
    expect(u.serviceConfig).toMatchObject({ PrivateNetwork: true, IPAddressDeny: "any", IPAddressAllow: "localhost" });
    expect(u.serviceConfig.SystemCallFilter).toEqual(expect.arrayContaining(["@system-service", "~@privileged"]));
  });

  it("llama-cpp with an API key: credential in, key path never on the command line", () => {
    const s = services(
      instances(`
        keyed = {
          engine = "llama-cpp";
          gguf.file = "/srv/models/q.gguf";
          port = 8082;
          apiKeyFile = "/run/secrets/k";
        };`),
    );
    const u = s["hwflake-keyed"]!;
    expect(u.serviceConfig.LoadCredential).toBe("api-key:/run/secrets/k");
    const exec = String(u.serviceConfig.ExecStart);
    expect(exec).not.toContain("/run/secrets/k");
    const words = parseExecStart(exec);
    const i = words.findIndex((w) => w.text === "--api-key-file");
    expect(i).toBeGreaterThan(0);
    expect(words[i + 1]).toEqual({ text: "${CREDENTIALS_DIRECTORY}/api-key", expansions: ["CREDENTIALS_DIRECTORY"] });
    expect(words.map((w) => w.text)).toContain("-m");
    expect(words[words.findIndex((w) => w.text === "-m") + 1]!.text).toBe("/srv/models/q.gguf");
    expect(words.map((w) => w.text)).not.toContain("-hf");
  });

  it("vllm with an API key: launcher reads the credential into VLLM_API_KEY; W+X allowed", () => {
    const p = pkgs();
    const host = instances(`
      big = {
        engine = "vllm";
        model = "Qwen/Qwen3-8B";
        port = 8000;
        gpu = "nvidia";
        apiKeyFile = "/run/secrets/vllm";
        extraArgs = [ "--max-model-len" "8192" ];
        environment = { CUDA_VISIBLE_DEVICES = "0"; CUDA_DEVICE_ORDER = "PCI_BUS_ID"; };
      };`);
    const r = evalHost<{ unit: Service; launcher: string; text: string }>(
      host,
      `let e = engines.vllm "big" c.services.hwflake.instances.big; in
        { unit = c.systemd.services.hwflake-big; launcher = "\${e.launcher}"; text = e.launcher.text; }`,
    );
    const args = execArgv(r.unit);
    expect(args).toEqual([
      r.launcher,
      "serve",
      "Qwen/Qwen3-8B",
      "--host",
      "127.0.0.1",
      "--port",
      "8000",
      "--served-model-name",
      "big",
      "--max-model-len",
      "8192",
    ]);
    expect(args.some((a) => a.startsWith("--api-key"))).toBe(false);
    expect(String(r.unit.serviceConfig.ExecStart)).not.toContain("/run/secrets/vllm");
    expect(r.unit.serviceConfig.LoadCredential).toBe("api-key:/run/secrets/vllm");
    // The launcher, not the unit, holds the key: read from the credential, exported, exec vllm.
    expect(r.text).toContain(`VLLM_API_KEY=$(< "$CREDENTIALS_DIRECTORY/api-key")`);
    expect(r.text).toContain("export VLLM_API_KEY");
    expect(r.text).toContain(`exec ${p.vllm}/bin/vllm "$@"`);
    expect(r.text).not.toContain("/run/secrets/vllm");
    expect(r.unit.serviceConfig).toMatchObject({ ...BASELINE, MemoryDenyWriteExecute: false, PrivateDevices: false });
    expect(r.unit.serviceConfig.DeviceAllow).toEqual(NVIDIA_DEVICES);
    expect(r.unit.serviceConfig.DeviceAllow).not.toContain("char-kfd");
    expect(r.unit.serviceConfig.SystemCallFilter).toContain("@resources");
    expect(r.unit.environment).toMatchObject({
      CUDA_VISIBLE_DEVICES: "0",
      CUDA_DEVICE_ORDER: "PCI_BUS_ID",
      HOME: "/var/lib/hwflake-big",
      HF_HOME: "/var/cache/hwflake-big/huggingface",
      TRITON_CACHE_DIR: "/var/cache/hwflake-big/triton",
      TORCHINDUCTOR_CACHE_DIR: "/var/cache/hwflake-big/torchinductor",
    });
    expect(Object.values(r.unit.environment).join(" ")).not.toContain("/run/secrets");
  });

  it("vllm without a key runs the package's vllm directly", () => {
    const p = pkgs();
    const s = services(instances(`plain = { engine = "vllm"; model = "/srv/m"; port = 8000; };`));
    expect(execArgv(s["hwflake-plain"]!).slice(0, 3)).toEqual([`${p.vllm}/bin/vllm`, "serve", "/srv/m"]);
    expect(s["hwflake-plain"]!.serviceConfig.LoadCredential).toBeUndefined();
  });

  it("package overrides the engine default", () => {
    const out = evalHost<{ exec: string; custom: string }>(
      instances(`x = { engine = "llama-cpp"; gguf.repo = "a/b"; port = 1; package = pkgs.writeShellScript "my-llama" ""; };`),
      `{ exec = c.systemd.services.hwflake-x.serviceConfig.ExecStart; custom = "\${pkgs.writeShellScript "my-llama" ""}"; }`,
    );
    expect(argv(out.exec)[0]).toBe(`${out.custom}/bin/llama-server`);
  });

  it.each([
    { engine: "llama-cpp", extra: `gguf.repo = "a/b";` },
    { engine: "vllm", extra: `model = "a/b";` },
    { engine: "ollama", extra: `model = "llama3.2";` },
  ])("cpu-only $engine: private /dev, no device allow-list, closed policy", ({ engine, extra }) => {
    const s = services(instances(`cpu = { engine = "${engine}"; port = 9000; ${extra} };`));
    const sc = s["hwflake-cpu"]!.serviceConfig;
    expect(sc).toMatchObject({ ...BASELINE, PrivateDevices: true, DevicePolicy: "closed" });
    expect(sc.DeviceAllow ?? []).toEqual([]);
    expect(sc.SupplementaryGroups ?? []).toEqual([]);
    expect(sc.MemoryDenyWriteExecute).toBe(engine !== "vllm");
  });

  it("llama-cpp needs only /proc/self without a GPU", () => {
    const s = services(instances(`cpu = { engine = "llama-cpp"; port = 9000; gguf.repo = "a/b"; };`));
    expect(s["hwflake-cpu"]!.serviceConfig.ProcSubset).toBe("pid");
  });

  it("ollama: serve on the namespace's loopback, a fetch unit for the model, a socket on the listen address", () => {
    const p = pkgs();
    const r = evalHost<{ s: Services; sockets: Record<string, { listenStreams: string[]; socketConfig: ServiceConfig }> }>(
      instances(`
        chat = { engine = "ollama"; model = "llama3.2:3b"; host = "0.0.0.0"; port = 11434; gpu = "amd"; };`),
      `{ s = c.systemd.services; sockets = c.systemd.sockets; }`,
    );
    expect(Object.keys(r.s).sort()).toEqual(["hwflake-chat", "hwflake-chat-fetch", "hwflake-chat-proxy"]);
    const server = r.s["hwflake-chat"]!;
    expect(execArgv(server)).toEqual([`${p.ollama}/bin/ollama`, "serve"]);
    expect(server.environment).toMatchObject({
      // Beyond loopback, Ollama binds every address of its namespace (only loopback is
      // there), so its Host-header check lets the proxied clients in.
      OLLAMA_HOST: "0.0.0.0:11434",
      OLLAMA_MODELS: "/var/cache/hwflake-chat/models",
      HOME: "/var/lib/hwflake-chat",
    });
    expect(server.serviceConfig).toMatchObject({ ...BASELINE, MemoryDenyWriteExecute: true, PrivateDevices: false, PrivateNetwork: true });
    expect(r.sockets["hwflake-chat-proxy"]!.listenStreams).toEqual(["0.0.0.0:11434"]);

    const fetch = r.s["hwflake-chat-fetch"]!;
    expect(fetch.description).toBe("Download the model of hwflake instance chat");
    expect(server.requires).toEqual(["hwflake-chat-fetch.service"]);
    expect(fetch.environment).toMatchObject({ OLLAMA_MODELS: "/var/cache/hwflake-chat/models" });
    expect(argv(String(fetch.serviceConfig.ExecStart)).slice(2)).toEqual(["ollama", "llama3.2:3b"]);
    expect(fetch.serviceConfig).toMatchObject({
      ...HELPER_BASELINE,
      Type: "oneshot",
      User: "hwflake-chat",
      PrivateDevices: true,
      MemoryDenyWriteExecute: true,
    });
    expect(fetch.serviceConfig.DeviceAllow ?? []).toEqual([]);
    expect(fetch.serviceConfig.SupplementaryGroups ?? []).toEqual([]);
  });

  it("the proxy joins the server's network namespace and forwards to its loopback", () => {
    const r = evalHost<{ s: Services; u: Record<string, Record<string, unknown>> }>(
      instances(`v6 = { engine = "llama-cpp"; gguf.file = "/m.gguf"; host = "::"; port = 8080; allowedClients = [ "fd00::/8" ]; };`),
      `{ s = c.systemd.services; u = lib.mapAttrs (_: s: s.unitConfig) c.systemd.services; }`,
    );
    const proxy = r.s["hwflake-v6-proxy"]!;
    expect(argv(String(proxy.serviceConfig.ExecStart)).slice(1)).toEqual(["127.0.0.1:8080"]);
    expect(r.u["hwflake-v6-proxy"]).toEqual({ JoinsNamespaceOf: "hwflake-v6.service" });
    expect(proxy.bindsTo).toEqual(["hwflake-v6.service"]);
    expect(proxy.serviceConfig).toMatchObject({ ...HELPER_BASELINE, PrivateNetwork: true, PrivateDevices: true });
    // A local file needs no fetch unit.
    expect(Object.keys(r.s).sort()).toEqual(["hwflake-v6", "hwflake-v6-proxy"]);
  });

  it("IPv6 wildcard and scope ids: the socket gets [::]:port, `%` is escaped for systemd", () => {
    const r = evalHost<Record<string, { listenStreams: string[]; socketConfig: ServiceConfig }>>(
      instances(`
        v6 = { engine = "ollama"; model = "m"; host = "::"; port = 11434; allowedClients = [ "fd00::/8" ]; };
        ll = { engine = "ollama"; model = "m"; host = "fe80::1%eth0"; port = 11435; };`),
      "c.systemd.sockets",
    );
    expect(r["hwflake-v6-proxy"]!.listenStreams).toEqual(["[::]:11434"]);
    expect(r["hwflake-v6-proxy"]!.socketConfig).toMatchObject({ IPAddressDeny: "any", IPAddressAllow: ["localhost", "fd00::/8"] });
    expect(r["hwflake-ll-proxy"]!.listenStreams).toEqual(["[fe80::1%%eth0]:11435"]);
    // A link-local listener without allowedClients is not IP-restricted.
    expect(r["hwflake-ll-proxy"]!.socketConfig.IPAddressDeny).toBeUndefined();
  });

  it("ollama without a model has no fetch unit (and fails an assertion)", () => {
    const host = instances(`bare = { engine = "ollama"; port = 11434; };`);
    expect(Object.keys(services(host)).sort()).toEqual(["hwflake-bare", "hwflake-bare-proxy"]);
    expect(failed(host)).toHaveLength(1);
  });

  it("extraArgs and environment values are passed through one argument each", () => {
    const s = services(
      instances(`x = { engine = "llama-cpp"; gguf.repo = "a/b"; port = 1; extraArgs = [ "--chat-template" "a b c" "-ngl" "all" ]; };`),
    );
    expect(execArgv(s["hwflake-x"]!).slice(-4)).toEqual(["--chat-template", "a b c", "-ngl", "all"]);
  });

  it("a disabled instance produces no unit, no firewall port and no assertion", () => {
    const r = evalHost<{ s: Services; ports: number[]; failed: string[] }>(
      instances(`
        off = { enable = false; engine = "vllm"; port = 8000; openFirewall = true; };
        on = { engine = "llama-cpp"; gguf.repo = "a/b"; port = 8000; };`),
      `{ s = c.systemd.services; ports = c.networking.firewall.allowedTCPPorts; failed = failedAssertions; }`,
    );
    expect(Object.keys(r.s).sort()).toEqual(["hwflake-on", "hwflake-on-fetch", "hwflake-on-proxy"]);
    expect(r.ports).toEqual([]);
    expect(r.failed).toEqual([]);
  });

  it.each([
    { open: true, want: [8090] },
    { open: false, want: [] },
  ])("openFirewall = $open opens $want", ({ open, want }) => {
    const ports = evalHost<number[]>(
      instances(`x = { engine = "llama-cpp"; gguf.repo = "a/b"; port = 8090; openFirewall = ${open}; };`),
      "c.networking.firewall.allowedTCPPorts",
    );
    expect(ports).toEqual(want);
  });
});

describe.skipIf(skipNix)("services.hwflake assertions", () => {
  const cases: { name: string; body: string; want: string[] }[] = [
    {
      name: "a valid multi-instance host",
      body: `
        a = { engine = "llama-cpp"; gguf.repo = "a/b"; port = 8080; };
        b = { engine = "vllm"; model = "x/y"; port = 8000; };
        c = { engine = "ollama"; model = "m"; port = 11434; };
        d = { engine = "llama-cpp"; gguf.file = "/m.gguf"; host = "10.0.0.2"; port = 8080; };`,
      want: [],
    },
    {
      name: "duplicate host and port",
      body: `
        a = { engine = "llama-cpp"; gguf.repo = "a/b"; port = 8080; };
        b = { engine = "llama-cpp"; gguf.repo = "c/d"; port = 8080; };`,
      want: [
        "services.hwflake.instances.a: 127.0.0.1:8080 is also used by b; give each instance its own port.",
        "services.hwflake.instances.b: 127.0.0.1:8080 is also used by a; give each instance its own port.",
      ],
    },
    {
      name: "0.0.0.0 against a specific address on the same port",
      body: `
        a = { engine = "llama-cpp"; gguf.repo = "a/b"; host = "0.0.0.0"; port = 8080; };
        b = { engine = "vllm"; model = "x"; host = "127.0.0.1"; port = 8080; };`,
      want: [
        "services.hwflake.instances.a: 0.0.0.0:8080 is also used by b; give each instance its own port.",
        "services.hwflake.instances.b: 127.0.0.1:8080 is also used by a; give each instance its own port.",
      ],
    },
    {
      name: "vllm without a model",
      body: `v = { engine = "vllm"; port = 8000; };`,
      want: ['services.hwflake.instances.v: engine "vllm" needs `model`; set it to a Hugging Face model id or an absolute path.'],
    },
    {
      name: "ollama without a model",
      body: `o = { engine = "ollama"; port = 11434; };`,
      want: ['services.hwflake.instances.o: engine "ollama" needs `model`; set it to an Ollama model tag such as "llama3.2:3b".'],
    },
    {
      name: "llama-cpp without a GGUF",
      body: `l = { engine = "llama-cpp"; port = 8080; };`,
      want: [
        'services.hwflake.instances.l: engine "llama-cpp" needs exactly one of `gguf.file` (absolute path to a .gguf) and `gguf.repo` (Hugging Face repo[:quant]); neither is set.',
      ],
    },
    {
      name: "llama-cpp with both GGUF sources",
      body: `l = { engine = "llama-cpp"; port = 8080; gguf = { file = "/m.gguf"; repo = "a/b"; }; };`,
      want: [
        'services.hwflake.instances.l: engine "llama-cpp" needs exactly one of `gguf.file` (absolute path to a .gguf) and `gguf.repo` (Hugging Face repo[:quant]); both are set.',
      ],
    },
    {
      name: "ollama with an API key",
      body: `o = { engine = "ollama"; model = "m"; port = 11434; apiKeyFile = "/run/secrets/k"; };`,
      want: [
        'services.hwflake.instances.o: Ollama has no API-key support; remove `apiKeyFile`, or use engine "llama-cpp" or "vllm", which check the key.',
      ],
    },
    {
      name: "an instance name that is not a unit-safe name",
      body: `Big_One = { engine = "llama-cpp"; gguf.repo = "a/b"; port = 8080; };`,
      want: [
        "services.hwflake.instances.Big_One: instance names must match [a-z][a-z0-9-]* (they become unit and directory names); rename the instance.",
      ],
    },
    {
      name: "an instance named like another's helper unit",
      body: `
        o = { engine = "ollama"; model = "m"; port = 11434; };
        o-fetch = { engine = "llama-cpp"; gguf.file = "/m.gguf"; port = 8080; };`,
      want: [
        "services.hwflake.instances.o: its helper units hwflake-o-fetch have the names of other instances' services; rename one of them.",
      ],
    },
    {
      name: "a host name where systemd needs an address",
      body: `h = { engine = "llama-cpp"; gguf.file = "/m.gguf"; host = "gpu-box.lan"; port = 8080; };`,
      want: [
        'services.hwflake.instances.h: `host` must be an IP address, `localhost` or "" (every interface): systemd binds the listening socket and resolves no names; got "gpu-box.lan".',
      ],
    },
  ];

  it.each(cases)("$name", ({ body, want }) => {
    expect(failed(instances(body))).toEqual(want);
  });

  it("gpu = none with a device pin in the environment is accepted", () => {
    expect(failed(instances(`x = { engine = "llama-cpp"; gguf.repo = "a/b"; port = 1; environment.CUDA_VISIBLE_DEVICES = "0"; };`))).toEqual(
      [],
    );
  });

  it("apiKeyFile must be an absolute path string (rejected by the option type)", () => {
    const err = evalHostError(
      instances(`x = { engine = "llama-cpp"; gguf.repo = "a/b"; port = 1; apiKeyFile = "secrets/k"; };`),
      "c.systemd.services",
    );
    expect(err).toMatch(/apiKeyFile/);
  });
});

describe.skipIf(skipNix)("services.hwflake warnings", () => {
  it.each([
    { env: `CUDA_VISIBLE_DEVICES = "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6";`, warns: true },
    { env: `HIP_VISIBLE_DEVICES = "0,GPU-0e54792172da5eeb";`, warns: true },
    { env: `CUDA_VISIBLE_DEVICES = "0,1";`, warns: false },
    { env: `CUDA_VISIBLE_DEVICES = "-1";`, warns: false },
    { env: `ROCR_VISIBLE_DEVICES = "GPU-0e54792172da5eeb";`, warns: false },
  ])("vllm with $env warns: $warns", ({ env, warns }) => {
    const w = evalHost<string[]>(instances(`v = { engine = "vllm"; model = "m"; port = 1; environment = { ${env} }; };`), "c.warnings");
    expect(w.some((m) => m.startsWith("services.hwflake.instances.v: vLLM accepts only numeric indices"))).toBe(warns);
  });

  it("an API key inside the Nix store is flagged", () => {
    const w = evalHost<string[]>(
      instances(`x = { engine = "llama-cpp"; gguf.repo = "a/b"; port = 1; apiKeyFile = "\${builtins.storeDir}/abc-key"; };`),
      "c.warnings",
    );
    expect(w).toEqual([expect.stringContaining("apiKeyFile is in the Nix store")]);
  });
});

describe.skipIf(skipNix)("services.hwflake.buildSets", () => {
  const FAKE_NIXPKGS = join(SUPPORT_DIR, "fake-nixpkgs");
  const sets = `{
    services.hwflake.buildSets = {
      rocm-gfx906 = {
        config = { rocmSupport = true; cudaSupport = false; };
        rocmGpuTargets = [ "gfx906" ];
        packages.llama-cpp = { base = "llama-cpp"; override = { rocmSupport = true; rocmGpuTargets = [ "gfx906" ]; }; };
      };
      cpu.packages.vllm = { base = "python3Packages.vllm"; env.VLLM_CPU_DISABLE_AVX512 = "true"; };
    };
  }`;

  it("add one overlay to nixpkgs.overlays, which adds only pkgs.hwflake.<set>", () => {
    const r = evalHost<Record<string, unknown>>(
      sets,
      `let
        fake = import ${nixPath(FAKE_NIXPKGS)};
        host = fake { inherit lib; overlays = c.nixpkgs.overlays; };
        plain = fake { inherit lib; };
      in {
        n = builtins.length c.nixpkgs.overlays;
        added = lib.subtractLists (builtins.attrNames plain) (builtins.attrNames host);
        sets = builtins.attrNames host.hwflake;
        rocm = host.hwflake.rocm-gfx906.llama-cpp.args.rocmGpuTargets;
        clr = host.hwflake.rocm-gfx906.pkgs.rocmPackages.clr.localGpuTargets;
        hostClr = host.rocmPackages.clr ? localGpuTargets;
        cpuEnv = host.hwflake.cpu.vllm.env;
        config = c.nixpkgs.config;
      }`,
    );
    expect(r).toEqual({
      n: 1,
      added: ["hwflake"],
      sets: ["cpu", "rocm-gfx906"],
      rocm: ["gfx906"],
      clr: ["gfx906"],
      hostClr: false,
      cpuEnv: { VLLM_TARGET_DEVICE: "cpu", VLLM_CPU_DISABLE_AVX512: "true" },
      // The host's nixpkgs.config is never touched.
      config: { cudaCapabilities: [], cudaForwardCompat: true },
    });
  });

  it("a host can add to a set's config (e.g. allowBroken) without touching its own", () => {
    const r = evalHost<Record<string, unknown>>(
      `{ imports = [ ${sets} ]; services.hwflake.buildSets.cpu.config.allowBroken = true; }`,
      `{ cpu = c.services.hwflake.buildSets.cpu.config; host = c.nixpkgs.config; }`,
    );
    expect(r).toEqual({ cpu: { allowBroken: true }, host: { cudaCapabilities: [], cudaForwardCompat: true } });
  });

  it("no build sets leave nixpkgs alone", () => {
    const r = evalHost<{ n: number; config: unknown }>("{ }", "{ n = builtins.length c.nixpkgs.overlays; config = c.nixpkgs.config; }");
    expect(r).toEqual({ n: 0, config: { cudaCapabilities: [], cudaForwardCompat: true } });
  });

  it.each([
    ["allowUnfree in a set", `{ services.hwflake.buildSets.x.config.allowUnfree = true; }`, "services.hwflake.buildSets.x.config: allow unfree software by licence with allowUnfreeLicenses"],
    ["a set name that is no attribute name", `{ services.hwflake.buildSets."a b" = { }; }`, 'services.hwflake.buildSets.a b: set names must match'],
    ["the removed host-wide cudaCapabilities", `{ services.hwflake.cudaCapabilities = [ "8.9" ]; }`, "CUDA capabilities are set per build set"],
    ["the removed host-wide overlays", `{ services.hwflake.overlays = [ (final: prev: { }) ]; }`, "hwflake no longer changes the host's package set"],
  ])("%s fails with a message that says what to do", (_n, config, message) => {
    const failed = evalHost<string[]>(config, "failedAssertions");
    expect(failed.join("\n")).toContain(message);
  });
});

describe.skipIf(skipNix)("ExecStart escaping", () => {
  const nasty = [
    'org/we ird"mo$del%n',
    "back\\slash",
    "${HOME}",
    "$HOME",
    "100%",
    "%h",
    "it's",
    ";",
    "",
    "tab\there",
    "new\nline",
    "  leading and trailing  ",
    "ünïcödé/模型",
  ];

  it("every nasty single-line model name reaches vllm as exactly one unchanged argument", () => {
    const accepted = nasty.filter((m) => !/[\n\t]/.test(m));
    const body = accepted.map((m, i) => `m${i} = { engine = "vllm"; model = ${nixStr(m)}; port = ${9000 + i}; };`).join("\n");
    const s = services(instances(body));
    accepted.forEach((m, i) => {
      const words = parseExecStart(String(s[`hwflake-m${i}`]!.serviceConfig.ExecStart));
      expect(words[2]).toEqual({ text: m, expansions: [] });
      expect(words).toHaveLength(9);
    });
  });

  it("escapes % as %% and $ as $$ inside a quoted word", () => {
    const s = services(instances(`x = { engine = "vllm"; model = ${nixStr('a b"c$d%e')}; port = 1; };`));
    expect(String(s["hwflake-x"]!.serviceConfig.ExecStart)).toContain(String.raw`"a b\"c$$d%%e"`);
  });

  it("the escaper on its own: round trip through the systemd reader", () => {
    const out = nixEvalJson(withEval([], `map hw.escapeSystemdExecArg [ ${nasty.map(nixStr).join(" ")} ]`)) as string[];
    expect(out.map((w) => argv(w))).toEqual(nasty.map((m) => [m]));
    expect(out[nasty.indexOf(";")]).toBe("\\;");
  });

  it("systemdVar is the only way to get a systemd expansion", () => {
    const w = nixEvalJson(withEval([], `hw.escapeSystemdExecArg (hw.systemdVar "CREDENTIALS_DIRECTORY" "/a%b")`)) as string;
    expect(parseExecStart(w)).toEqual([{ text: "${CREDENTIALS_DIRECTORY}/a%b", expansions: ["CREDENTIALS_DIRECTORY"] }]);
  });

  it("refuses control characters it cannot spell", () => {
    const err = nixEvalError(withEval([], `hw.escapeSystemdExecArg (builtins.fromJSON ${nixStr('"a\\u0001b"')})`));
    expect(err).toMatch(/control characters/);
  });

  it("the systemd reader itself rejects unescaped specifiers and variables", () => {
    expect(() => argv(`/bin/x "%h"`)).toThrow(/specifier/);
    expect(() => argv(`/bin/x "$HOME"`)).toThrow(/expand/);
    expect(() => argv(`/bin/x ;`)).toThrow(/lone/);
    expect(argv(`/bin/x "a\\"b" \\; "$$" "%%"`)).toEqual(["/bin/x", 'a"b', ";", "$", "%"]);
  });
});

describe.skipIf(skipNix)("module library shape", () => {
  it("import ./modules declares exactly the services.hwflake options", () => {
    const r = evalHost<{ top: string[]; inst: string[] }>(
      instances(`x = { engine = "vllm"; model = "m"; port = 1; };`),
      `{ top = builtins.filter (n: eval.options.services.hwflake.\${n}.visible or true) (builtins.attrNames eval.options.services.hwflake);
         inst = builtins.attrNames (builtins.removeAttrs (eval.options.services.hwflake.instances.type.getSubOptions [ ]) [ "_module" ]); }`,
    );
    expect(r.top).toEqual(["buildSets", "doctor", "hostDriver", "instances", "loadBalancers", "ray"]);
    expect(r.inst.sort()).toEqual(
      ["allowedClients", "apiKeyFile", "cpu", "devices", "enable", "engine", "environment", "extraArgs", "gguf", "gpu", "host", "huggingFaceTokenFile", "launcher", "model", "network", "openFirewall", "package", "port", "servedModelName", "startTimeout"].sort(),
    );
  });

  it("package defaults follow the engine", () => {
    const p = pkgs();
    const r = evalHost<Record<string, string>>(
      instances(`
        a = { engine = "vllm"; port = 1; };
        b = { engine = "llama-cpp"; port = 2; };
        c = { engine = "ollama"; port = 3; };`),
      `lib.mapAttrs (_: i: "\${i.package}") c.services.hwflake.instances`,
    );
    expect(r).toEqual({ a: p.vllm, b: p["llama-cpp"], c: p.ollama });
  });
});

describe.skipIf(skipNix)("readiness, restarts and secrets", () => {
  const host = instances(`
    v = { engine = "vllm"; model = "Qwen/Qwen3-8B"; port = 8000; apiKeyFile = "/run/secrets/v"; };
    l = { engine = "llama-cpp"; gguf.file = "/m.gguf"; port = 8001; apiKeyFile = "/run/secrets/l"; };
    o = { engine = "ollama"; model = "m"; port = 8002; };`);

  it.each([
    ["v", "/health", "1h"],
    ["l", "/health", "15min"],
    ["o", "/api/version", "5min"],
  ])("%s: active only when %s answers on its loopback, within %s", (n, path, timeout) => {
    const r = evalHost<{ s: Service; unit: ServiceConfig; script: string; text: string }>(
      host,
      `let ready = import ${nixPath(join(REPO_ROOT, "modules", "readiness.nix"))} { inherit pkgs; } "${n}"; in
       { s = c.systemd.services.hwflake-${n}; unit = c.systemd.services.hwflake-${n}.unitConfig; script = "\${ready}"; text = ready.text; }`,
    );
    const port = { v: 8000, l: 8001, o: 8002 }[n]!;
    expect(argv(String(r.s.serviceConfig.ExecStartPost))).toEqual([r.script, `http://127.0.0.1:${port}${path}`]);
    expect(r.text).toContain(`curl --silent --fail --max-time 5 --output /dev/null "$url"`);
    expect(r.text).toContain(`kill -0 "$MAINPID"`);
    expect(r.s.serviceConfig).toMatchObject({
      Type: "exec",
      TimeoutStartSec: timeout,
      Restart: "on-failure",
      RestartSec: "10s",
      RestartSteps: 5,
      RestartMaxDelaySec: "10min",
    });
    expect(r.unit).toEqual({ StartLimitBurst: 5, StartLimitIntervalSec: "1h" });
  });

  it("units that load a key have no core dumps; the key path is only in LoadCredential", () => {
    const s = services(host);
    for (const n of ["v", "l"]) {
      const u = s[`hwflake-${n}`]!;
      expect(u.serviceConfig.LimitCORE).toBe(0);
      expect(u.serviceConfig.LoadCredential).toBe(`api-key:/run/secrets/${n}`);
      const rest = JSON.stringify({ ...u, serviceConfig: { ...u.serviceConfig, LoadCredential: null } });
      expect(rest).not.toContain("/run/secrets");
    }
    expect(s["hwflake-o"]!.serviceConfig.LimitCORE).toBeUndefined();
    // The fetch units never see the key.
    expect(s["hwflake-v-fetch"]!.serviceConfig.LoadCredential).toBeUndefined();
  });

  it("the server is offline; only its fetch unit has the network", () => {
    const s = services(host);
    expect(s["hwflake-v"]!.environment).toMatchObject({ HF_HUB_OFFLINE: "1", VLLM_HOST_IP: "127.0.0.1" });
    // A loopback Ollama keeps its own Host-header check: it listens on loopback.
    expect(s["hwflake-o"]!.environment.OLLAMA_HOST).toBe("127.0.0.1:8002");
    expect(s["hwflake-v"]!.serviceConfig).toMatchObject({ PrivateNetwork: true, IPAddressDeny: "any", IPAddressAllow: "localhost" });
    const fetch = s["hwflake-v-fetch"]!;
    expect(fetch.serviceConfig.PrivateNetwork).toBeUndefined();
    expect(fetch.serviceConfig.IPAddressDeny).toBeUndefined();
    expect(fetch.environment.HF_HUB_OFFLINE).toBeUndefined();
    expect(fetch.wants).toEqual(["network-online.target"]);
    // Same dynamic user, same cache.
    expect(fetch.serviceConfig).toMatchObject({ User: "hwflake-v", CacheDirectory: "hwflake-v", TimeoutStartSec: "infinity" });
    expect(s["hwflake-v"]!.serviceConfig).toMatchObject({ User: "hwflake-v", CacheDirectory: "hwflake-v" });
  });

  it("a multi-line value that reaches a hwflake unit some other way fails the construction assertion", () => {
    const f = evalHost<string[]>(
      `{ imports = [ (${host}) ]; systemd.services.hwflake-l.serviceConfig.Nice = "1\\nUser=root"; }`,
      "failedAssertions",
    );
    expect(f).toEqual(["systemd unit hwflake-l: Nice would span lines or carry a control character; hwflake refuses to write it."]);
  });
});

describe.skipIf(skipNix)("fetch units", () => {
  it("get the instance's environment and, only they, the Hugging Face token as a credential", () => {
    const s = services(
      instances(`g = { engine = "vllm"; model = "meta-llama/Llama-3.1-8B"; port = 8000;
        huggingFaceTokenFile = "/run/secrets/hf"; environment.HF_ENDPOINT = "https://hf-mirror.example"; };`),
    );
    const fetch = s["hwflake-g-fetch"]!;
    expect(fetch.serviceConfig.LoadCredential).toBe("hf-token:/run/secrets/hf");
    expect(fetch.environment).toMatchObject({
      HF_TOKEN_PATH: "/run/credentials/hwflake-g-fetch.service/hf-token",
      HF_ENDPOINT: "https://hf-mirror.example",
      HF_HOME: "/var/cache/hwflake-g/huggingface",
    });
    expect(JSON.stringify(s["hwflake-g"])).not.toContain("/run/secrets/hf");
    expect(s["hwflake-g"]!.environment.HF_TOKEN_PATH).toBeUndefined();
  });
});
