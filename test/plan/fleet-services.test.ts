import { describe, expect, it } from "vitest";
import { FleetError } from "../../src/errors.js";
import { planFleet } from "../../src/plan/index.js";
import { FleetSpecSchema, type FleetSpec } from "../../src/profile/index.js";
import { amd, makeProfile, nvidia } from "../fixtures-builders.js";

const node = (name: string, gpus: unknown[], serve: unknown[] = []) => ({ file: `${name}.yaml`, profile: makeProfile({ host: name, accelerators: gpus, serve } as never) });
const h100s = (n: number) => Array.from({ length: n }, (_, i) => nvidia(`h${i}`, "9.0", { index: i }));
const spec = (over: Record<string, unknown> = {}): { file: string; spec: FleetSpec } => ({
  file: "fleet.yaml",
  spec: FleetSpecSchema.parse({
    version: 1,
    addresses: { a: "10.0.0.1", b: "10.0.0.2", c: "fd00::3" },
    services: [{ name: "big", model: "org/big", hosts: ["a", "b"], port: 9000, ...over }],
  }),
});

describe("a service across hosts (vLLM on Ray)", () => {
  const fleet = planFleet("lab", [node("a", h100s(4)), node("b", h100s(4))], spec());
  const svc = fleet.services[0]!;

  it("tensor parallel over each host's GPUs, pipeline parallel across hosts, Ray backend", () => {
    expect(fleet.refused).toBe(false);
    expect(svc).toMatchObject({ name: "big", system: "x86_64-linux", buildSet: "cuda-sm90", tensorParallel: 4, pipelineParallel: 2, rayPort: 6379 });
    expect(svc.instance.extraArgs).toEqual(["--tensor-parallel-size", "4", "--pipeline-parallel-size", "2", "--distributed-executor-backend", "ray"]);
  });
  it("the head is the first host and runs the server; every member has its own VLLM_HOST_IP", () => {
    expect(svc.members.map((m) => [m.host, m.role, m.address, m.environment.VLLM_HOST_IP])).toEqual([
      ["a", "head", "10.0.0.1", "10.0.0.1"],
      ["b", "worker", "10.0.0.2", "10.0.0.2"],
    ]);
    expect(svc.instance.environment).toMatchObject({ RAY_ADDRESS: "10.0.0.1:6379", CUDA_VISIBLE_DEVICES: "0,1,2,3" });
  });
  it("both members use one build set with vLLM and a Ray environment; the forecast is said once", () => {
    const set = fleet.buildSets.find((s) => s.name === "cuda-sm90")!;
    expect(set).toMatchObject({ hosts: ["a", "b"], instances: ["a/big"], rayEnv: true });
    expect(set.forecast.compiles.filter((c) => c.what === "vLLM (CUDA)")).toHaveLength(1);
  });
  it("an IPv6 head is written in brackets in RAY_ADDRESS", () => {
    const f = planFleet("lab", [node("c", h100s(2)), node("b", h100s(2))], spec({ hosts: ["c", "b"] }));
    expect(f.services[0]!.instance.environment.RAY_ADDRESS).toBe("[fd00::3]:6379");
  });

  it.each([
    ["different GPU counts", [node("a", h100s(4)), node("b", h100s(2))], "SERVICE_HOSTS_DIFFER", /a: x86_64-linux 4× NVIDIA GPU 9\.0; b: x86_64-linux 2× NVIDIA GPU 9\.0/],
    ["different GPU classes", [node("a", h100s(2)), node("b", [amd("x", "gfx90a"), amd("y", "gfx90a")])], "SERVICE_HOSTS_DIFFER", /AMD GPU gfx90a/],
    ["a host without GPUs", [node("a", h100s(2)), node("b", [])], "SERVICE_NO_GPU", /b has no GPU/],
    ["GPUs vLLM does not support", [node("a", [amd("x", "gfx906")]), node("b", [amd("x", "gfx906")])], "ENGINE_UNSUPPORTED", /Triton/],
  ])("refused when the hosts have %s, with the reason", (_n, hosts, code, message) => {
    const f = planFleet("lab", hosts, spec());
    expect(f.refused).toBe(true);
    const finding = f.findings.find((x) => x.code === code)!;
    expect(finding).toMatchObject({ severity: "error", subject: "services[0]" });
    expect(finding.message).toMatch(message);
  });

  it.each([
    ["an unknown host", spec({ hosts: ["a", "zz"] }), [node("a", h100s(1)), node("b", h100s(1))], /fleet\.yaml: services\[0\]\.hosts\[1\]: unknown host "zz"; the profiles in the folder are for a, b/],
    ["a host without an address", { file: "fleet.yaml", spec: { ...spec().spec, addresses: { a: "10.0.0.1" } } }, [node("a", h100s(1)), node("b", h100s(1))], /fleet\.yaml: addresses\.b: missing/],
    ["a port the head already uses", spec(), [node("a", h100s(1), [{ name: "x", model: "m/m", port: 9000, engine: "llama-cpp", gguf: { file: "/m.gguf" } }]), node("b", h100s(1))], /fleet\.yaml: services\[0\]\.port: 9000 is already used on a by serve\[0\] \("x"\) in a\.yaml/],
    ["a member's own instance on its GPUs", spec(), [node("a", h100s(1), [{ name: "x", model: "m/m", port: 8000, on: ["h0"] }]), node("b", h100s(1))], /a\.yaml: serve\[0\]\.on: "x" runs on h0, but a gives all its GPUs to the fleet service "big"/],
  ])("bad fleet.yaml input is an error naming file and field: %s", (_n, sp, hosts, message) => {
    expect(() => planFleet("lab", hosts, sp)).toThrow(FleetError);
    expect(() => planFleet("lab", hosts, sp)).toThrow(message);
  });
});
