/** Spyre: the plug-in's vLLM range, torch_sendnn from the user or CPU mode, warm-up shapes. */
import { describe, expect, it } from "vitest";
import { planHost } from "../../src/plan/index.js";
import { inRange } from "../../src/knowledge/accelerators/spyre.js";
import { makeProfile } from "../fixtures-builders.js";

const spyreHost = (spyre: Record<string, unknown> | undefined, pins?: Record<string, string>, accs: Record<string, unknown>[] = [{ id: "aiu0", kind: "spyre", vendor: "ibm", pciAddress: "0000:1a:00.0" }]) =>
  planHost(
    makeProfile({
      accelerators: accs,
      serve: [{ name: "g", model: "ibm-granite/granite-3.3-8b-instruct", port: 8000, on: accs.map((a) => a.id), ...(spyre ? { spyre } : {}), ...(pins ? { pins } : {}) }],
    } as never),
  );

describe("vLLM range of the plug-in", () => {
  it.each([
    ["0.18.0", "vllm>=0.17.0,<0.18.1", true],
    ["0.18.1", "vllm>=0.17.0,<0.18.1", false],
    ["0.16.9", "vllm>=0.17.0,<0.18.1", false],
    ["0.16.0", "vllm>=0.11.0,<0.16.1", true],
    ["0.10.2", "vllm>=0.10.2,<=0.11.0", true],
  ] as const)("%s in %s: %s", (v, r, ok) => expect(inRange(v, r)).toBe(ok));
});

describe("the Spyre plan", () => {
  it("sendnn without torch_sendnn is refused with the reason and the CPU way out", () => {
    const plan = spyreHost(undefined);
    expect(plan.refused).toBe(true);
    const f = plan.findings.find((x) => x.code === "SPYRE_SENDNN_MISSING")!;
    expect(f.message).toMatch(/not public/);
    expect(f.fix).toMatch(/spyre\.torchSendnn/);
    expect(f.fix).toMatch(/"eager" or "inductor"/);
  });

  it("CPU mode (eager) plans without torch_sendnn, without device access, and says so", () => {
    const plan = spyreHost({ backend: "eager" });
    expect(plan.refused).toBe(false);
    const inst = plan.instances[0]!;
    expect(inst.environment.VLLM_SPYRE_DYNAMO_BACKEND).toBe("eager");
    expect(inst.devices ?? null).toBeNull();
    expect(plan.buildSets[0]!.name).toBe("spyre-1-10-0-cpu");
    expect(plan.buildSets[0]!.python!.value.wheels.map((w) => w.package)).toEqual(["vllm", "vllm-spyre"]);
    expect(plan.findings.map((f) => f.code)).toContain("SPYRE_CPU_MODE");
  });

  it("sendnn with torch_sendnn: the plug-in's vLLM from its tag, torch_sendnn by requireFile, warm-up defaults, VFIO, 20 min start", () => {
    const plan = spyreHost({ torchSendnn: "/srv/torch_sendnn-1.2.0-py3-none-any.whl", torchSendnnSha256: "cd".repeat(32) });
    expect(plan.refused).toBe(false);
    const set = plan.buildSets[0]!;
    expect(set.name).toBe("spyre-1-10-0-sendnn");
    const wheels = Object.fromEntries(set.python!.value.wheels.map((w) => [w.package, w]));
    expect(wheels.vllm).toMatchObject({ version: "0.18.0", fetch: "github", github: { owner: "vllm-project", repo: "vllm", tag: "v0.18.0" } });
    expect(wheels["torch-sendnn"]).toMatchObject({ fetch: "requireFile", file: "torch_sendnn-1.2.0-py3-none-any.whl", version: "1.2.0" });
    expect(wheels["torch-sendnn"]!.hash).toMatch(/^sha256-/);
    expect(set.packages[0]!.base).toBe("pythonEnv");
    const inst = plan.instances[0]!;
    expect(inst.environment).toMatchObject({
      VLLM_SPYRE_DYNAMO_BACKEND: "sendnn",
      VLLM_SPYRE_WARMUP_PROMPT_LENS: "64",
      VLLM_SPYRE_WARMUP_NEW_TOKENS: "20",
      VLLM_SPYRE_WARMUP_BATCH_SIZES: "1",
      VLLM_SPYRE_USE_CB: "0",
      AIU_WORLD_RANK_0: "0000:1a:00.0",
      TORCH_SENDNN_CACHE_ENABLE: "1",
    });
    expect(inst.devices?.value).toEqual(["/dev/vfio/vfio", "char-vfio"]);
    expect(inst.startTimeout?.value).toBe("20min");
    expect(plan.findings.find((f) => f.code === "SPYRE_WARMUP")?.message).toMatch(/vllm-spyre v1\.x defaults/);
  });

  it("warm-up shapes from the profile reach the environment", () => {
    const plan = spyreHost({ backend: "inductor", warmup: { promptLens: [64, 2048], newTokens: [20, 512], batchSizes: [1, 4] } });
    expect(plan.instances[0]!.environment).toMatchObject({ VLLM_SPYRE_WARMUP_PROMPT_LENS: "64,2048", VLLM_SPYRE_WARMUP_NEW_TOKENS: "20,512", VLLM_SPYRE_WARMUP_BATCH_SIZES: "1,4" });
  });

  it.each([
    ["a prompt length not a multiple of 64", { promptLens: [100], newTokens: [20], batchSizes: [1] }, /multiples of 64/],
    ["lists of different lengths", { promptLens: [64, 128], newTokens: [20], batchSizes: [1, 2] }, /different lengths/],
  ])("warm-up shapes vllm-spyre rejects are refused: %s", (_n, warmup, re) => {
    const plan = spyreHost({ backend: "eager", warmup });
    expect(plan.refused).toBe(true);
    expect(plan.findings.find((f) => f.code === "SPYRE_WARMUP_SHAPES")?.message).toMatch(re);
  });

  it.each([
    ["nixpkgs' current vLLM 0.19.0 is outside the plug-in's range", { vllm: "0.19.0" }, "SPYRE_VLLM_OUT_OF_RANGE"],
    ["an unknown vllm-spyre", { "vllm-spyre": "0.9.9" }, "SPYRE_PINS_NO_RELEASE"],
    ["a package hwflake does not pin on Spyre", { torch: "2.10.0" }, "SPYRE_PIN_UNKNOWN"],
  ])("%s is refused", (_n, pins, code) => {
    const plan = spyreHost({ backend: "eager" }, pins);
    expect(plan.refused).toBe(true);
    expect(plan.findings.find((f) => f.code === code)?.severity).toBe("error");
  });

  it("vllm pinned inside an older release's range picks that release", () => {
    const plan = spyreHost({ backend: "eager" }, { vllm: "0.16.0" });
    expect(plan.buildSets[0]!.name).toBe("spyre-1-9-1-cpu");
  });

  it("cards without a PCI address are pinned by SPYRE_DEVICES index, with a warning", () => {
    const plan = spyreHost({ backend: "eager" }, undefined, [{ id: "a", kind: "spyre", vendor: "ibm" }, { id: "b", kind: "spyre", vendor: "ibm" }]);
    expect(plan.instances[0]!.environment.SPYRE_DEVICES).toBe("0,1");
    expect(plan.instances[0]!.extraArgs).toEqual(["--tensor-parallel-size", "2"]);
    expect(plan.findings.filter((f) => f.code === "PIN_BY_INDEX")).toHaveLength(2);
  });

  it("ibm-fms and fms-model-optimizer pinned in the profile join the set as dependencies of the plug-in", () => {
    const plan = spyreHost({ backend: "eager" }, { "ibm-fms": "1.9.0", "fms-model-optimizer": "0.8.2" });
    expect(plan.refused).toBe(false);
    const wheels = plan.buildSets[0]!.python!.value.wheels;
    expect(wheels.map((w) => `${w.package}==${w.version}`)).toEqual(["vllm==0.18.0", "ibm-fms==1.9.0", "fms-model-optimizer==0.8.2", "vllm-spyre==1.10.0"]);
    expect(wheels.find((w) => w.package === "vllm-spyre")!.deps).toEqual(["vllm", "ibm-fms", "fms-model-optimizer"]);
    expect(plan.findings.map((f) => f.code)).not.toContain("SPYRE_DEPENDENCIES");
  });

  it("without them the plan says which ranges vllm-spyre requires", () => {
    const plan = spyreHost({ backend: "eager" });
    expect(plan.findings.find((f) => f.code === "SPYRE_DEPENDENCIES")?.message).toMatch(/ibm-fms \(>=1\.7\.0,<2\.0\) and fms-model-optimizer/);
  });
});
