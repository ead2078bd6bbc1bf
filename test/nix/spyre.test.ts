/** The Spyre set and unit evaluated with the real Nix on the stand-ins (see tpu.test.ts). */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { planHost, type Plan } from "../../src/plan/index.js";
import { nixString } from "../../src/render/nix.js";
import { renderFiles } from "../../src/render/render.js";
import { writeFiles } from "../../src/write/write.js";
import { makeProfile } from "../fixtures-builders.js";
import { RENDER_OPTS } from "../render/fixtures.js";
import { REPO_ROOT, nixEvalError, nixEvalJson, nixpkgsLib, skipNix } from "../helpers/nix.js";
import { withOutputEval } from "./support/eval.js";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
const HEX = "cd".repeat(32);
const SRI = `sha256-${Buffer.from(HEX, "hex").toString("base64")}`;

function spyrePlan(spyre: Record<string, unknown>, wheels?: Record<string, unknown>): Plan {
  return planHost(
    makeProfile({
      host: "spyre",
      accelerators: [{ id: "aiu0", kind: "spyre", vendor: "ibm", pciAddress: "0000:1a:00.0" }],
      serve: [{ name: "granite", model: "ibm-granite/granite-3.3-8b-instruct", port: 8000, on: ["aiu0"], spyre, apiKeyFile: "/run/secrets/k" }],
      ...(wheels ? { wheels } : {}),
    } as never),
  );
}

async function hostExpr(plan: Plan, body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hwflake-spyre-"));
  dirs.push(dir);
  await writeFiles(renderFiles(plan, RENDER_OPTS), { outDir: dir });
  return withOutputEval({ dir, host: plan.host }, body, { lets: `set = pkgs.hwflake.${plan.buildSets[0]!.name}; py = set.pkgs.python312Packages;` });
}

const SENDNN = { torchSendnn: "/srv/torch_sendnn-1.2.0-py3-none-any.whl", torchSendnnSha256: HEX };

describe.skipIf(skipNix)("the Spyre set on nixpkgs stand-ins", () => {
  it("vLLM at the plug-in's version from nixpkgs' own expression, the plug-in and torch_sendnn in one environment that is the engine", async () => {
    const plan = spyrePlan(SENDNN, { "vllm==0.18.0": { url: "https://github.com/vllm-project/vllm/archive/refs/tags/v0.18.0.tar.gz", sha256: HEX } });
    const got = nixEvalJson(
      await hostExpr(
        plan,
        `{
          vllm = { inherit (py.vllm) version; args = py.vllm.args; src = py.vllm.src.args; };
          sendnn = py.torch-sendnn.src.args;
          spyreDeps = map (d: d.pname) py.vllm-spyre.dependencies;
          engine = set.vllm.args.packages;
          engineIsEnv = set.vllm.outPath == set.python.outPath;
          hostVllm = plain.python312Packages.vllm.version or null;
          hostSpyre = pkgs.python312Packages ? vllm-spyre;
        }`,
      ),
    );
    expect(got).toEqual({
      vllm: { version: "0.18.0", args: expect.objectContaining({ cudaSupport: false, rocmSupport: false }), src: { owner: "vllm-project", repo: "vllm", tag: "v0.18.0", rev: null, hash: SRI } },
      sendnn: { name: "torch_sendnn-1.2.0-py3-none-any.whl", hash: SRI },
      spyreDeps: ["vllm", "torch-sendnn"],
      engine: expect.arrayContaining(["vllm-0.18.0", "vllm-spyre-1.10.0", "torch-sendnn-1.2.0"]),
      engineIsEnv: true,
      hostVllm: null,
      hostSpyre: false,
    });
  });

  it("without the source hash, evaluation stops with the prefetch command", async () => {
    const err = nixEvalError(await hostExpr(spyrePlan(SENDNN), "py.vllm.src.outPath"));
    expect(err).toContain("nix hash to-sri --type sha256 $(nix-prefetch-url --unpack https://github.com/vllm-project/vllm/archive/refs/tags/v0.18.0.tar.gz)");
    expect(err).toContain('"vllm==0.18.0"');
  });

  it("without torch_sendnn's hash, evaluation stops and says how to add the file", async () => {
    const err = nixEvalError(await hostExpr(spyrePlan({ torchSendnn: "/srv/torch_sendnn-1.2.0-py3-none-any.whl" }), "py.torch-sendnn.src.outPath"));
    expect(err).toContain("which is not public");
    expect(err).toContain("nix-store --add-fixed sha256 /srv/torch_sendnn-1.2.0-py3-none-any.whl");
  });

  it("the unit: VFIO access, plug-in settings, a start timeout for compilation, no key in argv", async () => {
    const got = nixEvalJson(
      await hostExpr(
        spyrePlan(SENDNN),
        `let s = c.systemd.services.hwflake-granite; in {
          failed = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
          inherit (s.serviceConfig) DeviceAllow PrivateDevices TimeoutStartSec ExecStart;
          env = s.environment;
        }`,
      ),
    ) as { failed: string[]; DeviceAllow: string[]; PrivateDevices: boolean; TimeoutStartSec: string; ExecStart: string; env: Record<string, string> };
    expect(got.failed).toEqual([]);
    expect(got.DeviceAllow).toEqual(["/dev/vfio/vfio rw", "char-vfio rw"]);
    expect(got.PrivateDevices).toBe(false);
    expect(got.TimeoutStartSec).toBe("20min");
    expect(got.env).toMatchObject({ VLLM_SPYRE_DYNAMO_BACKEND: "sendnn", VLLM_SPYRE_WARMUP_PROMPT_LENS: "64", AIU_WORLD_RANK_0: "0000:1a:00.0" });
    expect(got.ExecStart).not.toContain("/run/secrets/k");
  });

  it("CPU mode: no device access, the cards stay hidden (PrivateDevices)", async () => {
    const got = nixEvalJson(
      await hostExpr(spyrePlan({ backend: "eager" }), `let s = c.systemd.services.hwflake-granite; in { p = s.serviceConfig.PrivateDevices; d = s.serviceConfig ? DeviceAllow; t = s.serviceConfig.TimeoutStartSec; }`),
    );
    expect(got).toEqual({ p: true, d: false, t: "20min" });
  });
});

describe.skipIf(skipNix)("accelerator device preflight", () => {
  it("stops with one line naming the missing device node; passes when every node exists", () => {
    const text = (devices: string[]) =>
      nixEvalJson(
        `(import ${nixString(join(REPO_ROOT, "modules", "lib", "driver.nix"))} { lib = import ${nixString(nixpkgsLib())}; }).devicesPreflight "hwflake-granite" [ ${devices.map((d) => nixString(d)).join(" ")} ]`,
      ) as string;
    const run = (script: string) => spawnSync("bash", ["-c", script], { encoding: "utf8" });
    const missing = run(text(["/dev/vfio/vfio", "/dev/vfio/0", "char-vfio"]));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe("hwflake-granite: not starting: /dev/vfio/vfio is missing: the accelerator's driver (its VFIO binding) is not set up on this host\n");
    const present = run(text(["/dev/null", "char-vfio"]));
    expect(present.status).toBe(0);
    expect(present.stderr).toBe("");
  });
  it("the unit runs it before the server", async () => {
    const got = nixEvalJson(await hostExpr(spyrePlan(SENDNN), `c.systemd.services.hwflake-granite.serviceConfig.ExecStartPre`)) as string[];
    expect(got.some((p) => p.endsWith("-hwflake-granite-devices"))).toBe(true);
  });
});
