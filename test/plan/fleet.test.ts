import { describe, expect, it } from "vitest";
import { FleetError } from "../../src/errors.js";
import { planFleet } from "../../src/plan/index.js";
import { AVX512_FLAGS, amd, makeProfile, nvidia } from "../fixtures-builders.js";

const serve = (over: Record<string, unknown>) => ({ name: "s", model: "org/model", port: 8000, ...over });
const host = (name: string, over: Record<string, unknown>) => ({ file: `${name}.yaml`, profile: makeProfile({ host: name, ...over } as never) });

describe("planFleet", () => {
  it("refuses two profiles with one host name, naming both files", () => {
    expect(() => planFleet("f", [host("a", {}), { ...host("a", {}), file: "copy.yaml" }])).toThrow(FleetError);
    expect(() => planFleet("f", [host("a", {}), { ...host("a", {}), file: "copy.yaml" }])).toThrow(/copy\.yaml: host: "a" is also the host of a\.yaml/);
  });

  const twins = ["t1", "t2", "t3"].map((n) => host(n, { accelerators: [amd("g", "gfx1100")], serve: [serve({ on: ["g"] })] }));
  const other = host("n", { accelerators: [nvidia("g", "8.9", { index: 0 })], serve: [serve({ on: ["g"] })] });
  const fleet = planFleet("lab", [...twins, other]);

  it("hosts of one class share one set and one vLLM package; the forecast is said once", () => {
    const rocm = fleet.buildSets.find((s) => s.name === "rocm-gfx1100")!;
    expect(rocm).toMatchObject({ system: "x86_64-linux", hosts: ["t1", "t2", "t3"], instances: ["t1/s", "t2/s", "t3/s"] });
    expect(rocm.packages.map((p) => p.engine)).toEqual(["vllm"]);
    expect(rocm.forecast.compiles.filter((c) => c.what === "torch (ROCm)")).toHaveLength(1);
  });
  it("a different class gets its own set", () => {
    expect(fleet.buildSets.map((s) => [s.name, s.hosts])).toEqual([
      ["cuda-sm89", ["n"]],
      ["rocm-gfx1100", ["t1", "t2", "t3"]],
    ]);
  });
  it("hosts are sorted and keep their own plans", () => {
    expect(fleet.hosts.map((h) => h.host)).toEqual(["n", "t1", "t2", "t3"]);
    expect(fleet.refused).toBe(false);
  });
  it("the same class on another system is another derivation: a separate entry", () => {
    const arm = host("arm", { system: "aarch64-linux", cpu: { vendor: "arm", flags: ["asimd"] }, serve: [serve({ engine: "llama-cpp", gguf: { file: "/m.gguf" } })] });
    const x86 = host("x86", { cpu: { flags: AVX512_FLAGS }, serve: [serve({ engine: "llama-cpp", gguf: { file: "/m.gguf" } })] });
    const f = planFleet("mixed", [arm, x86]);
    expect(f.buildSets.map((s) => [s.name, s.system, s.hosts])).toEqual([
      ["cpu", "aarch64-linux", ["arm"]],
      ["cpu", "x86_64-linux", ["x86"]],
    ]);
  });
  it("a refused host refuses the fleet", () => {
    const bad = host("bad", { accelerators: [amd("g", "gfx906")], serve: [serve({ on: ["g"], engine: "vllm" })] });
    expect(planFleet("f", [bad, other]).refused).toBe(true);
  });
});
