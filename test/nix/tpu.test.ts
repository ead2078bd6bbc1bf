/**
 * The TPU build set and unit, evaluated with the real Nix: the rendered flake's build sets are
 * applied to the nixpkgs stand-ins (which rebuild every Python package set from
 * pythonPackagesExtensions, as nixpkgs does), and the host module is evaluated through the
 * rendered module library. Also: no emitted Nix anywhere holds a fake or placeholder hash.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { planHost, type Plan } from "../../src/plan/index.js";
import { KNOWN_WHEELS } from "../../src/knowledge/python-wheels.js";
import { nixString } from "../../src/render/nix.js";
import { renderFiles } from "../../src/render/render.js";
import { writeFiles } from "../../src/write/write.js";
import { makeProfile } from "../fixtures-builders.js";
import { RENDER_OPTS } from "../render/fixtures.js";
import { argv } from "./support/systemd.js";
import { REPO_ROOT, nixEvalError, nixEvalJson, skipNix } from "../helpers/nix.js";
import { withOutputEval } from "./support/eval.js";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const GIVEN_HEX = "ab".repeat(32);

function tpuPlan(extra: Record<string, unknown> = {}): Plan {
  return planHost(
    makeProfile({
      host: "tpu",
      accelerators: [{ id: "tpu", kind: "tpu", vendor: "google", arch: "v6e", chips: 4 }],
      serve: [
        {
          name: "qwen", model: "Qwen/Qwen2.5-3B-Instruct", port: 8000, on: ["tpu"], engine: "vllm",
          pins: { jax: "0.7.2", libtpu: "0.0.23" }, apiKeyFile: "/run/secrets/key", listen: "0.0.0.0",
        },
      ],
      ...extra,
    } as never),
  );
}

/** The rendered flake's host module evaluated as the golden end-to-end test does. */
async function hostExpr(plan: Plan, body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hwflake-tpu-"));
  dirs.push(dir);
  await writeFiles(renderFiles(plan, RENDER_OPTS), { outDir: dir });
  return withOutputEval({ dir, host: plan.host }, body, { lets: `set = pkgs.hwflake.tpu-0-11-1; py = set.pkgs.python312Packages;` });
}

describe.skipIf(skipNix)("the TPU set on nixpkgs stand-ins", () => {
  it("holds exactly the release's wheels in its own CPython 3.12 set; the host's Python sets gain nothing", async () => {
    const got = nixEvalJson(
      await hostExpr(
        tpuPlan(),
        `{
          versions = lib.genAttrs [ "jax" "jaxlib" "libtpu" "torchax" "flax" "qwix" "tpu-info" "tpu-inference" "vllm-tpu" ] (n: py.\${n}.version);
          engine = { inherit (set.vllm) pname version; deps = map (d: d.pname) set.vllm.dependencies; };
          tpuInferenceDeps = map (d: d.pname) py.tpu-inference.dependencies;
          patchelf = map (d: d.pname) py.libtpu.nativeBuildInputs;
          torchXla = py ? torch-xla || py ? torch_xla;
          hostHas = builtins.filter (n: plain.python312Packages ? \${n} || pkgs.python312Packages ? \${n} || pkgs.python3Packages ? \${n}) [ "libtpu" "tpu-inference" "vllm-tpu" "jax" ];
          env = set.python.args.packages;
          libtpuLicence = py.libtpu.meta.license.shortName;
          allowed = set.pkgs.config.allowUnfreePredicate py.libtpu;
          otherUnfree = set.pkgs.config.allowUnfreePredicate set.pkgs.otherUnfreeSample;
          cudaUnfree = set.pkgs.config.allowUnfreePredicate set.pkgs.cudaUnfreeSample;
          hostUnfree = pkgs.config ? allowUnfreePredicate;
        }`,
      ),
    ) as Record<string, unknown>;
    expect(got).toEqual({
      versions: { jax: "0.7.2", jaxlib: "0.7.2", libtpu: "0.0.23", torchax: "0.0.7", flax: "0.11.1", qwix: "0.1.1", "tpu-info": "0.4.0", "tpu-inference": "0.11.1", "vllm-tpu": "0.11.1" },
      engine: { pname: "vllm-tpu", version: "0.11.1", deps: ["tpu-inference"] },
      tpuInferenceDeps: ["jax", "jaxlib", "libtpu", "torchax", "flax", "qwix", "tpu-info"],
      patchelf: ["auto-patchelf-hook"],
      torchXla: false,
      hostHas: [],
      env: expect.arrayContaining(["vllm-tpu-0.11.1", "libtpu-0.0.23", "jax-0.7.2", "tpu-inference-0.11.1"]),
      libtpuLicence: "libtpu",
      allowed: true,
      otherUnfree: false,
      cudaUnfree: false,
      hostUnfree: false,
    });
  });

  it("a wheel without a known hash stops evaluation with the command that prints it, naming the profile field", async () => {
    const err = nixEvalError(await hostExpr(tpuPlan(), "py.libtpu.src.outPath"));
    expect(err).toContain("hwflake: the build set pins libtpu 0.0.23");
    expect(err).toContain("curl -s https://pypi.org/pypi/libtpu/0.0.23/json");
    expect(err).toContain("nix store prefetch-file --hash-type sha256");
    expect(err).toContain('"libtpu==0.0.23"');
  });

  it("a url and sha256 from the profile reach fetchurl (SRI)", async () => {
    const plan = tpuPlan({ wheels: { "libtpu==0.0.23": { url: "https://example.invalid/libtpu-0.0.23.whl", sha256: GIVEN_HEX } } });
    const got = nixEvalJson(await hostExpr(plan, "{ inherit (py.libtpu.src) url hash; }"));
    expect(got).toEqual({ url: "https://example.invalid/libtpu-0.0.23.whl", hash: `sha256-${Buffer.from(GIVEN_HEX, "hex").toString("base64")}` });
  });

  it("the unit may open exactly the chips' VFIO nodes, pins chips with libtpu's variables, and keeps the key out of argv", async () => {
    const got = nixEvalJson(
      await hostExpr(
        tpuPlan(),
        `let s = c.systemd.services.hwflake-qwen; in {
          failed = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
          inherit (s.serviceConfig) DeviceAllow PrivateDevices DevicePolicy ExecStart;
          env = s.environment;
          hasSupplementaryGroups = s.serviceConfig ? SupplementaryGroups;
        }`,
      ),
    ) as { failed: string[]; DeviceAllow: string[]; PrivateDevices: boolean; DevicePolicy: string; ExecStart: string; env: Record<string, string>; hasSupplementaryGroups: boolean };
    expect(got.failed).toEqual([]);
    expect(got.DeviceAllow).toEqual(["/dev/vfio/vfio rw", "/dev/vfio/0 rw", "/dev/vfio/1 rw", "/dev/vfio/2 rw", "/dev/vfio/3 rw"]);
    expect(got.PrivateDevices).toBe(false);
    expect(got.DevicePolicy).toBe("closed");
    expect(got.env).toMatchObject({
      TPU_VISIBLE_CHIPS: "0,1,2,3", TPU_CHIPS_PER_PROCESS_BOUNDS: "1,4,1", TPU_PROCESS_BOUNDS: "1,1,1", TPU_PROCESS_PORT: "8476", CLOUD_TPU_TASK_ID: "0",
    });
    const args = argv(got.ExecStart);
    expect(args).not.toContain("/run/secrets/key");
    expect(got.ExecStart).not.toContain("/run/secrets/key");
    expect(args).toEqual(expect.arrayContaining(["serve", "Qwen/Qwen2.5-3B-Instruct", "--tensor-parallel-size", "4"]));
  });
});

/** Every .nix file under `dir`. */
function nixFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? nixFiles(p) : p.endsWith(".nix") ? [p] : [];
  });
}

describe("no fake or placeholder hash in emitted Nix", () => {
  const files = [...nixFiles(join(REPO_ROOT, "test", "golden")), ...nixFiles(join(REPO_ROOT, "modules"))];
  const known = new Set(Object.values(KNOWN_WHEELS).map((w) => w.hash));
  it.each(files.map((f) => [f.slice(REPO_ROOT.length + 1), f] as const))("%s", (_rel, file) => {
    const text = readFileSync(file, "utf8");
    expect(text).not.toMatch(/fakeHash|fakeSha256|lib\.fake|sha256-A{20,}|\b0{40,}\b|sha256:0{20,}/);
    expect(text).not.toMatch(/(hash|sha256)\s*=\s*""/);
    // Every hash in a generated file is one a public record gives (KNOWN_WHEELS).
    for (const m of text.matchAll(/sha256-[A-Za-z0-9+/]{43}=/g)) expect(known.has(m[0]), m[0]).toBe(true);
  });
});
