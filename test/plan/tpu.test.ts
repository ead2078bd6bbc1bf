/**
 * TPU pins, table-driven: every known-good combination resolves to its release, every
 * known-bad one (seed 002's deadlocks, torch_xla, mixed releases, unknown names) is refused
 * before anything builds, with the packages, versions, reason and the versions that work.
 */
import { describe, expect, it } from "vitest";
import { fleetOfPlans, planHost } from "../../src/plan/index.js";
import { TPU_RELEASES } from "../../src/knowledge/accelerators/tpu/releases.js";
import { resolveTpuPins } from "../../src/knowledge/accelerators/tpu/pins.js";
import { makeProfile } from "../fixtures-builders.js";

const tpuHost = (pins: Record<string, string> | undefined, arch = "v6e", extra: Record<string, unknown> = {}) =>
  planHost(
    makeProfile({
      accelerators: [{ id: "tpu", kind: "tpu", vendor: "google", arch, chips: 4 }],
      serve: [{ name: "s", model: "org/model", port: 8000, on: ["tpu"], engine: "vllm", ...(pins ? { pins } : {}) }],
      ...extra,
    } as never),
  );

describe("known-good pins resolve to their release", () => {
  const cases: [string, Record<string, string>, string][] = [
    ["seed 002's engine env: jax 0.7.2 + libtpu 0.0.23", { jax: "0.7.2", libtpu: "0.0.23" }, "0.11.1"],
    ["jax 0.9.2 alone → newest with it", { jax: "0.9.2" }, "0.21.0"],
    ["jax 0.9.2 + libtpu 0.0.38", { jax: "0.9.2", libtpu: "0.0.38" }, "0.18.0"],
    ["libtpu 0.0.42.1 → newest with it", { libtpu: "0.0.42.1" }, "0.25.0"],
    ["jax 0.10.2 + libtpu 0.0.43", { jax: "0.10.2", libtpu: "0.0.43" }, "0.26.0"],
    ["vllm-tpu 0.23.0", { "vllm-tpu": "0.23.0" }, "0.23.0"],
    ["vllm 0.27.0 means vllm-tpu on TPU", { vllm: "0.27.0" }, "0.27.0"],
    ["tpu_inference spelling normalised", { tpu_inference: "0.20.0" }, "0.20.0"],
    ["no pins → newest", {}, TPU_RELEASES[0]!.version],
  ];
  it.each(cases)("%s", (_n, pins, version) => {
    const r = resolveTpuPins(pins, "v6e", "serve[0].pins");
    expect(r.findings.filter((f) => f.severity === "error")).toEqual([]);
    expect(r.release?.version).toBe(version);
  });

  it.each(TPU_RELEASES.map((r) => [r.version, r] as const))("every release's own pins resolve to it: %s", (_v, rel) => {
    const gen = rel.recommended[0]!;
    const r = resolveTpuPins({ ...rel.pins }, gen, "p");
    expect(r.release?.version).toBe(rel.version);
  });
});

describe("known-bad pins are refused with the way out", () => {
  const cases: [string, Record<string, string>, string, RegExp[]][] = [
    [
      "seed 002 deadlock 1: torch_xla 2.8.1 + libtpu 0.0.23 (PJRT size mismatch)",
      { torch_xla: "2.8.1", libtpu: "0.0.23", jax: "0.7.2" },
      "TPU_PIN_TORCH_XLA",
      [/torch_xla 2\.8\.1/, /libtpu 0\.0\.17/, /PJRT_Plugin_Attributes_Args size: expected 32, got 24/, /never share one process/, /jax 0\.7\.2, jaxlib 0\.7\.2, libtpu 0\.0\.23/],
    ],
    [
      "seed 002 deadlock 2: jax 0.7.2 + libtpu 0.0.17 (too old for Pallas)",
      { jax: "0.7.2", libtpu: "0.0.17" },
      "TPU_PIN_LIBTPU_TOO_OLD",
      [/jax 0\.7\.2 \+ libtpu 0\.0\.17/, /2025-06-17/, /2025-08-01/, /at most a month old/, /libtpu 0\.0\.23/],
    ],
    [
      "torch_xla 2.8.1 + libtpu 0.0.17 + jax 0.7.2: no single environment",
      { torch_xla: "2.8.1", libtpu: "0.0.17", jax: "0.7.2" },
      "TPU_PIN_TORCH_XLA",
      [/no single environment satisfies both/, /seed 002's split/, /jax 0\.7\.2, jaxlib 0\.7\.2, libtpu 0\.0\.23/],
    ],
    ["torch_xla alone", { "torch-xla": "2.9.0" }, "TPU_PIN_TORCH_XLA", [/never share one process/]],
    ["jax 0.10.2 + libtpu 0.0.23 from another release", { jax: "0.10.2", libtpu: "0.0.23" }, "TPU_PINS_NO_RELEASE", [/jax 0\.10\.2 is pinned by tpu-inference 0\.26\.0, 0\.25\.0, 0\.24\.0/, /libtpu 0\.0\.23 is pinned by tpu-inference 0\.11\.1/]],
    ["jax 0.7.2 + jaxlib 0.8.0", { jax: "0.7.2", jaxlib: "0.8.0" }, "TPU_PINS_NO_RELEASE", [/jaxlib 0\.8\.0/]],
    ["vllm 0.11.0 (seed 002's vLLM; no tpu-inference 0.11.0 known)", { vllm: "0.11.0" }, "TPU_PINS_NO_RELEASE", [/vllm-tpu 0\.11\.0/]],
    ["an unknown package", { numpy: "2.0.0" }, "TPU_PIN_UNKNOWN", [/numpy/]],
  ];
  it.each(cases)("%s", (_n, pins, code, patterns) => {
    const plan = tpuHost(pins);
    expect(plan.refused).toBe(true);
    expect(plan.instances).toEqual([]);
    expect(plan.buildSets).toEqual([]);
    const f = plan.findings.find((x) => x.code === code);
    expect(f, JSON.stringify(plan.findings.map((x) => x.code))).toBeDefined();
    expect(f!.severity).toBe("error");
    expect(f!.subject).toBe("serve[0].pins");
    const text = `${f!.message} ${f!.fix}`;
    for (const p of patterns) expect(text).toMatch(p);
    expect(f!.source).not.toBe("");
  });

  it("a release that does not serve the generation is refused for it", () => {
    const plan = tpuHost({ jax: "0.7.2" }, "v7x");
    expect(plan.refused).toBe(true);
    expect(plan.findings.find((f) => f.code === "TPU_PINS_GENERATION")?.message).toMatch(/0\.11\.1.*v7x/);
  });
});

describe("the TPU plan", () => {
  it("seed 002's host: one pinned set, libtpu unfree there only, chips pinned by libtpu's variables, VFIO nodes", () => {
    const plan = tpuHost({ jax: "0.7.2", libtpu: "0.0.23" });
    expect(plan.refused).toBe(false);
    const set = plan.buildSets[0]!;
    expect(set.name).toBe("tpu-0-11-1");
    expect(set.backend).toBe("tpu");
    expect(set.allowUnfreeLicenses?.value).toEqual(["libtpu"]);
    const versions = Object.fromEntries(set.python!.value.wheels.map((w) => [w.package, w.version]));
    expect(versions).toEqual({
      jax: "0.7.2", jaxlib: "0.7.2", libtpu: "0.0.23", torchax: "0.0.7", flax: "0.11.1", qwix: "0.1.1", "tpu-info": "0.4.0",
      "tpu-inference": "0.11.1", "vllm-tpu": "0.11.1",
    });
    expect(Object.keys(versions)).not.toContain("torch-xla");
    expect(set.packages[0]!.base).toBe("python312Packages.vllm-tpu");
    const inst = plan.instances[0]!;
    expect(inst.environment).toMatchObject({ TPU_VISIBLE_CHIPS: "0,1,2,3", TPU_CHIPS_PER_PROCESS_BOUNDS: "1,4,1", TPU_PROCESS_BOUNDS: "1,1,1" });
    expect(inst.devices?.value).toEqual(["/dev/vfio/vfio", "/dev/vfio/0", "/dev/vfio/1", "/dev/vfio/2", "/dev/vfio/3"]);
    expect(inst.gpuVendor).toBeNull();
    // Every wheel without a public record gets the command that prints its url and sha256.
    const needed = plan.findings.filter((f) => f.code === "WHEEL_HASH_NEEDED");
    expect(needed).toHaveLength(1);
    expect(needed[0]!.message).toMatch(/libtpu 0\.0\.23/);
    expect(needed[0]!.fix).toMatch(/for w in jaxlib==0\.7\.2 jax==0\.7\.2 libtpu==0\.0\.23 .*vllm-tpu==0\.11\.1; do curl -s "https:\/\/pypi\.org\/pypi\//);
    expect(needed[0]!.fix).toMatch(/nix store prefetch-file --hash-type sha256/);
  });

  it("v4 chips are /dev/accelN", () => {
    const plan = tpuHost(undefined, "v4");
    expect(plan.instances[0]?.devices?.value).toEqual(["/dev/accel0", "/dev/accel1", "/dev/accel2", "/dev/accel3"]);
    expect(plan.findings.map((f) => f.code)).toContain("TPU_GENERATION_EXPERIMENTAL");
  });

  it("a hash from a public record is used; one from the profile wins and is reported as such", () => {
    const known = tpuHost({ jax: "0.11.0" });
    const jaxlib = known.buildSets[0]!.python!.value.wheels.find((w) => w.package === "jaxlib")!;
    expect(jaxlib.hash).toBe("sha256-fqncBtlPU23qvPMEUTFDvIn1EXPd/XhtRPisMD799kM=");
    expect(jaxlib.hashSource).toMatch(/marin-community\/marin uv\.lock/);
    const hex = "ab".repeat(32);
    const given = tpuHost({ jax: "0.7.2", libtpu: "0.0.23" }, "v6e", {
      wheels: { "libtpu==0.0.23": { url: "https://example.invalid/libtpu.whl", sha256: hex } },
    });
    const libtpu = given.buildSets[0]!.python!.value.wheels.find((w) => w.package === "libtpu")!;
    expect(libtpu.hash).toBe(`sha256-${Buffer.from(hex, "hex").toString("base64")}`);
    expect(libtpu.hashSource).toBe('profile wheels."libtpu==0.0.23"');
    expect(given.findings.find((f) => f.code === "WHEEL_HASH_NEEDED")!.message).not.toMatch(/libtpu/);
  });

  it("Ollama and llama.cpp have no TPU backend", () => {
    for (const engine of ["ollama", "llama-cpp"]) {
      const plan = planHost(
        makeProfile({
          accelerators: [{ id: "tpu", kind: "tpu", vendor: "google", arch: "v6e" }],
          serve: [{ name: "s", model: "org/model", port: 8000, on: ["tpu"], engine, gguf: { file: "/m.gguf" } }],
        } as never),
      );
      expect(plan.refused).toBe(true);
    }
  });
});

describe("TPU sets in a fleet", () => {
  it("hosts of different TPU generations on the same release share one set; another release is another set", () => {
    const host = (name: string, arch: string, pins?: Record<string, string>) =>
      planHost(
        makeProfile({
          host: name,
          accelerators: [{ id: "tpu", kind: "tpu", vendor: "google", arch, chips: 1 }],
          serve: [{ name: "s", model: "org/model", port: 8000, on: ["tpu"], engine: "vllm", ...(pins ? { pins } : {}) }],
        } as never),
      );
    const fleet = fleetOfPlans("lab", [host("a", "v6e"), host("b", "v5e"), host("c", "v6e", { jax: "0.7.2" })]);
    // Sorted by set name.
    expect(fleet.buildSets.map((s) => [s.name, s.hosts])).toEqual([
      ["tpu-0-11-1", ["c"]],
      [`tpu-${TPU_RELEASES[0]!.version.replace(/\./g, "-")}`, ["a", "b"]],
    ]);
  });
});

describe("a host's chips split between instances", () => {
  it("chips are numbered across TPU entries in profile order; each instance gets its own chips, nodes and libtpu port", () => {
    const plan = planHost(
      makeProfile({
        accelerators: [
          { id: "left", kind: "tpu", vendor: "google", arch: "v6e", chips: 2 },
          { id: "right", kind: "tpu", vendor: "google", arch: "v6e", chips: 2 },
        ],
        serve: [
          { name: "a", model: "org/a", port: 8000, on: ["left"], engine: "vllm" },
          { name: "b", model: "org/b", port: 8001, on: ["right"], engine: "vllm" },
        ],
      } as never),
    );
    expect(plan.refused).toBe(false);
    const [a, b] = plan.instances;
    expect([a!.environment.TPU_VISIBLE_CHIPS, b!.environment.TPU_VISIBLE_CHIPS]).toEqual(["0,1", "2,3"]);
    expect([a!.environment.TPU_PROCESS_PORT, b!.environment.TPU_PROCESS_PORT]).toEqual(["8476", "8478"]);
    expect(b!.devices?.value).toEqual(["/dev/vfio/vfio", "/dev/vfio/2", "/dev/vfio/3"]);
    expect(plan.buildSets).toHaveLength(1);
    // The set's missing hashes are reported once, not once per instance.
    expect(plan.findings.filter((f) => f.code === "WHEEL_HASH_NEEDED")).toHaveLength(1);
  });
});
