import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../src/errors.js";
import { parseProfileText } from "../../src/profile/index.js";
import { planHost, type Plan } from "../../src/plan/index.js";
import { AVX2_FLAGS, AVX512_FLAGS, amd, makeProfile, nvidia } from "../fixtures-builders.js";

const codes = (plan: Plan) => plan.findings.map((f) => `${f.severity}:${f.code}`);
const serve = (over: Record<string, unknown>) => ({ name: "s", model: "org/model", port: 8000, ...over });

describe("the seed desktop (MI50 gfx906 + W7500 gfx1102, Zen 2)", () => {
  const file = join(import.meta.dirname, "..", "..", "examples", "mi50-desktop.yaml");
  const plan = planHost(parseProfileText(readFileSync(file, "utf8"), file));

  it("auto picks llama.cpp on the MI50 and says why vLLM was rejected", () => {
    const coder = plan.instances[0]!;
    expect(coder).toMatchObject({ name: "coder", engine: "llama-cpp", on: ["mi50"], backend: "rocm", buildSet: "rocm-gfx906" });
    expect(coder.engineDecision.reason).toMatch(/Not vLLM: .*ROCm Triton has no Vega 20 \(gfx906\) backend/);
    expect(coder.engineDecision.sources.map((s) => s.ref).join()).toMatch(/#33811/);
    const fallback = plan.findings.find((f) => f.code === "AUTO_FALLBACK")!;
    expect(fallback).toMatchObject({ severity: "info", subject: "serve[0].engine" });
    expect(fallback.source).toMatch(/vllm/);
  });
  it("pins the MI50 by UUID through ROCR_VISIBLE_DEVICES, never HIP/CUDA_VISIBLE_DEVICES", () => {
    expect(plan.instances[0]!.environment).toEqual({ ROCR_VISIBLE_DEVICES: "GPU-0e54792172da5eeb" });
  });
  it("builds llama.cpp for gfx906 only, with runtime CPU dispatch, in its own ROCm set narrowed to gfx906", () => {
    expect(plan.buildSets).toHaveLength(1);
    const set = plan.buildSets[0]!;
    expect(set).toMatchObject({
      name: "rocm-gfx906",
      backend: "rocm",
      targets: ["gfx906"],
      instances: ["coder"],
      config: { value: { cudaSupport: false, rocmSupport: true } },
      rocmGpuTargets: { value: ["gfx906"] },
      allowUnfreeLicenses: null,
    });
    expect(set.packages).toEqual([
      expect.objectContaining({
        engine: "llama-cpp",
        base: "llama-cpp",
        args: { rocmSupport: true, cudaSupport: false, rocmGpuTargets: ["gfx906"], cpuArchDynamicDispatch: true },
      }),
    ]);
  });
  it("forecasts what compiles: the ROCm libraries for gfx906 and llama.cpp, with figures, sources, and no invented number", () => {
    const f = plan.buildSets[0]!.forecast;
    expect(f.compiles.map((c) => c.what)).toEqual([expect.stringMatching(/^ROCm math libraries for gfx906/), "llama.cpp (HIP)"]);
    const [libs, llama] = f.compiles;
    expect(libs).toMatchObject({ hours: [1.5, 3], diskGB: 35 });
    expect(libs!.sources.map((s) => s.ref)).toContain("spack/spack#25778");
    // No source gives llama.cpp's HIP build time: it is listed, unmeasured, not guessed.
    expect(llama).toMatchObject({ hours: null, diskGB: null });
    expect(f.unmeasured).toEqual(["llama.cpp (HIP)"]);
    expect(f.hours).toEqual([1.5, 3]);
    expect(f.cache).toMatch(/gfx906 are in no public cache/);
    expect(f.cacheSources.map((s) => s.ref).join()).toMatch(/#446976/);
  });
  it("is not refused and reports the idle W7500", () => {
    expect(plan.refused).toBe(false);
    expect(codes(plan)).toEqual(["info:AUTO_FALLBACK", "info:ACCELERATOR_UNUSED", "info:ROCM_STACK_NARROWED"]);
  });
  it("is deterministic", () => {
    const again = planHost(parseProfileText(readFileSync(file, "utf8"), file));
    expect(JSON.stringify(again)).toBe(JSON.stringify(plan));
  });
});

describe("engine choice", () => {
  it.each([
    ["auto on gfx90a → vLLM", [amd("g", "gfx90a")], { on: ["g"] }, "vllm", []],
    ["auto on gfx1100 → vLLM", [amd("g", "gfx1100")], { on: ["g"] }, "vllm", []],
    ["auto on gfx1102 (experimental in vLLM) → llama.cpp", [amd("g", "gfx1102")], { on: ["g"], gguf: { repo: "o/m-GGUF" } }, "llama-cpp", ["info:AUTO_FALLBACK"]],
    ["auto on CUDA 8.9 → vLLM", [nvidia("g", "8.9")], { on: ["g"] }, "vllm", []],
    ["auto on CUDA 7.0 (V100) → llama.cpp", [nvidia("g", "7.0")], { on: ["g"], gguf: { repo: "o/m-GGUF" } }, "llama-cpp", ["info:AUTO_FALLBACK", "warning:ENGINE_EXPERIMENTAL"]],
    ["auto with a GGUF file as model → llama.cpp", [], { model: "/srv/m.gguf" }, "llama-cpp", ["info:AUTO_FALLBACK"]],
    ["forced vLLM on gfx1102 → warning, still planned", [amd("g", "gfx1102")], { on: ["g"], engine: "vllm" }, "vllm", ["warning:ENGINE_EXPERIMENTAL"]],
    ["forced Ollama on gfx1100", [amd("g", "gfx1100")], { on: ["g"], engine: "ollama", model: "qwen2.5:7b" }, "ollama", []],
  ])("%s", (_n, accelerators, s, engine, findings) => {
    const plan = planHost(makeProfile({ accelerators, serve: [serve(s)] } as never));
    expect(plan.instances[0]?.engine).toBe(engine);
    // Pinning-by-index and build-cache notes are covered elsewhere; this table is about the engine.
    const relevant = codes(plan).filter((c) => !/^(info:ROCM|info:CUDA|warning:PIN_BY_INDEX|warning:CPU_TOPOLOGY_UNKNOWN)/.test(c));
    expect(relevant).toEqual(findings);
  });

  it("forced vLLM on gfx906 is refused with the reason and the alternatives", () => {
    const plan = planHost(makeProfile({ accelerators: [amd("mi50", "gfx906")], serve: [serve({ on: ["mi50"], engine: "vllm" })] } as never));
    expect(plan.refused).toBe(true);
    expect(plan.instances).toEqual([]);
    const f = plan.findings.find((x) => x.code === "ENGINE_UNSUPPORTED")!;
    expect(f).toMatchObject({ severity: "error", subject: "serve[0].engine" });
    expect(f.message).toMatch(/vLLM on mi50 \(AMD GPU gfx906\): .*Triton/);
    expect(f.fix).toBe('use engine: "llama-cpp" (or "auto"), or set serve[0].acceptUnsupported: true to build it anyway');
    expect(f.source).toMatch(/#33811/);
  });
  it("forced vLLM on gfx906 with acceptUnsupported is planned with a warning", () => {
    const plan = planHost(makeProfile({ accelerators: [amd("mi50", "gfx906")], serve: [serve({ on: ["mi50"], engine: "vllm", acceptUnsupported: true })] } as never));
    expect(plan.refused).toBe(false);
    expect(plan.instances[0]).toMatchObject({ engine: "vllm", backend: "rocm" });
    expect(plan.findings.find((x) => x.code === "ENGINE_UNSUPPORTED")?.severity).toBe("warning");
    expect(plan.buildSets[0]?.packages[0]?.args).toEqual({ cudaSupport: false, rocmSupport: true, gpuTargets: ["gfx906"] });
    // vLLM compiles its torch in the set: the seed's 2–6 h and ~50 GB.
    expect(plan.buildSets[0]!.forecast.compiles.map((c) => c.what)).toEqual(expect.arrayContaining(["torch (ROCm)", "vLLM (ROCm)"]));
  });
  it("forced Ollama on gfx906 is refused (blocked since 0.12.4)", () => {
    const plan = planHost(makeProfile({ accelerators: [amd("mi50", "gfx906")], serve: [serve({ on: ["mi50"], engine: "ollama" })] } as never));
    expect(plan.refused).toBe(true);
    expect(plan.findings[0]!.message).toMatch(/Ollama blocks gfx906/);
  });
  it("llama.cpp fallback without a GGUF says what is missing", () => {
    const plan = planHost(makeProfile({ accelerators: [amd("mi50", "gfx906")], serve: [serve({ on: ["mi50"] })] } as never));
    expect(plan.refused).toBe(true);
    const f = plan.findings.find((x) => x.code === "GGUF_MISSING")!;
    expect(f.subject).toBe("serve[0].gguf");
    expect(f.fix).toMatch(/serve\[0\]\.gguf with repo: .*-GGUF:<quant>.* or file:/);
  });
});

describe("CPU serving", () => {
  it.each([
    ["AVX2 x86 → vLLM CPU with AVX-512 disabled", "x86_64-linux", { flags: AVX2_FLAGS }, "vllm", { VLLM_CPU_DISABLE_AVX512: "true" }],
    ["AVX-512 x86 → vLLM CPU, no env", "x86_64-linux", { flags: AVX512_FLAGS }, "vllm", {}],
    ["AVX-only x86 (no AVX2) → llama.cpp", "x86_64-linux", { flags: ["sse4_2", "avx"] }, "llama-cpp", null],
    ["POWER8 → llama.cpp", "powerpc64le-linux", { vendor: "ibm", arch: "power8", model: "POWER8E (raw), altivec supported" }, "llama-cpp", null],
    ["POWER9 → vLLM CPU", "powerpc64le-linux", { vendor: "ibm", arch: "power9" }, "vllm", {}],
    ["Arm64 → vLLM CPU", "aarch64-linux", { vendor: "arm", flags: ["asimd", "bf16"] }, "vllm", {}],
  ])("%s", (_n, system, cpu, engine, env) => {
    const plan = planHost(makeProfile({ system, cpu, serve: [serve({ gguf: { file: "/m.gguf" } })] } as never));
    expect(plan.instances[0]?.engine).toBe(engine);
    if (env) expect(plan.buildSets.flatMap((b) => b.packages).find((p) => p.engine === "vllm")?.env).toEqual(env);
  });
  it("the AVX-512 switch cites the old and new vLLM CMake and the seed", () => {
    const plan = planHost(makeProfile({ serve: [serve({})] } as never));
    const vllm = plan.buildSets[0]!.packages[0]!;
    expect(vllm.reason).toMatch(/VLLM_CPU_DISABLE_AVX512="true" because this CPU has no AVX-512/);
    expect(vllm.sources.map((s) => s.ref).join()).toMatch(/02045094[\s\S]*seed 001/);
  });
  it("POWER9 vLLM runs in float32 (no native bf16; POWER10 has it) and warns that the builder's ISA is used", () => {
    const plan = planHost(makeProfile({ system: "powerpc64le-linux", cpu: { arch: "power9" }, serve: [serve({})] } as never));
    expect(plan.instances[0]!.extraArgs).toEqual(["--dtype", "float32"]);
    expect(codes(plan)).toContain("warning:VLLM_CPU_BUILDER_ISA");
    const p10 = planHost(makeProfile({ system: "powerpc64le-linux", cpu: { arch: "power10" }, serve: [serve({})] } as never));
    expect(p10.instances[0]!.extraArgs).toEqual(["--dtype", "bfloat16"]);
  });
  it("llama.cpp on a multi-node NUMA host: one --numa isolate server per node by default, one --numa distribute process when asked", () => {
    const cpu = { flags: AVX2_FLAGS, numa: [{ id: 0, cpus: "0-3" }, { id: 1, cpus: "4-7" }, { id: 2, cpus: "" }] };
    const plan = planHost(makeProfile({ cpu, serve: [serve({ engine: "llama-cpp", gguf: { file: "/m.gguf" } })] } as never));
    expect(plan.instances.map((i) => [i.name, i.extraArgs])).toEqual([
      ["s-node0", ["--threads", "4", "--numa", "isolate", "--no-mmap"]],
      ["s-node1", ["--threads", "4", "--numa", "isolate", "--no-mmap"]],
    ]);
    const one = planHost(makeProfile({ cpu, serve: [serve({ engine: "llama-cpp", gguf: { file: "/m.gguf" }, parallel: "tensor" })] } as never));
    expect(one.instances.map((i) => [i.name, i.extraArgs])).toEqual([["s", ["--threads", "8", "--numa", "distribute"]]]);
  });
  it("unknown flags produce a warning, not a guess", () => {
    const plan = planHost(makeProfile({ cpu: {}, serve: [serve({ engine: "llama-cpp", gguf: { file: "/m.gguf" } })] } as never));
    expect(codes(plan)).toContain("warning:CPU_FLAGS_UNKNOWN");
    expect(plan.cpu.x86Level).toBeNull();
  });
  it("an unknown system is an error that names the field", () => {
    expect(() => planHost(makeProfile({ system: undefined }))).toThrow(UserError);
    expect(() => planHost(makeProfile({ system: undefined }))).toThrow(/system: unknown. Set system to "x86_64-linux"/);
  });
});

describe("NVIDIA", () => {
  const gpus = [nvidia("a", "8.9", { index: 0, uuid: "GPU-5a3f0c1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b" }), nvidia("b", "8.9", { index: 1 }), nvidia("t", "7.5", { index: 2 })];
  it("vLLM is pinned by index (it rejects UUIDs), tensor-parallel over its GPUs", () => {
    const plan = planHost(makeProfile({ accelerators: gpus, serve: [serve({ on: ["a", "b"] })] } as never));
    expect(plan.instances[0]!.environment).toEqual({ CUDA_DEVICE_ORDER: "PCI_BUS_ID", CUDA_VISIBLE_DEVICES: "0,1" });
    expect(plan.instances[0]!.extraArgs).toEqual(["--tensor-parallel-size", "2"]);
    const set = plan.buildSets[0]!;
    expect(set.name).toBe("cuda-sm89");
    expect(set.config.value).toEqual({ cudaSupport: true, rocmSupport: false, cudaCapabilities: ["8.9"], cudaForwardCompat: false });
    expect(set.allowUnfreeLicenses?.value).toContain("CUDA EULA");
    expect(set.packages[0]!.args).toEqual({ cudaSupport: true, rocmSupport: false, gpuTargets: ["8.9"] });
  });
  it("llama.cpp is pinned by UUID when every GPU has one", () => {
    const plan = planHost(makeProfile({ accelerators: gpus, serve: [serve({ on: ["a"], engine: "llama-cpp", gguf: { file: "/m.gguf" } })] } as never));
    expect(plan.instances[0]!.environment.CUDA_VISIBLE_DEVICES).toBe("GPU-5a3f0c1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b");
  });
  it("Turing (7.5) runs vLLM in float16", () => {
    const plan = planHost(makeProfile({ accelerators: gpus, serve: [serve({ on: ["t"] })] } as never));
    expect(plan.instances[0]!.extraArgs).toEqual(["--dtype", "half"]);
  });
  it("vLLM on CUDA and on the CPU in one host: two build sets, two torches, no conflict", () => {
    const plan = planHost(makeProfile({ accelerators: gpus, serve: [serve({ on: ["a"] }), serve({ name: "c", port: 9000 })] } as never));
    expect(plan.refused).toBe(false);
    // The test CPU has AVX2 but no AVX-512, so its vLLM is built differently: a set of its own.
    expect(plan.buildSets.map((b) => [b.name, b.instances, b.packages.map((p) => p.engine)])).toEqual([
      ["cpu-no-avx512", ["c"], ["vllm"]],
      ["cuda-sm89", ["s"], ["vllm"]],
    ]);
  });
  it("Ollama with an API key is refused: it has no authentication", () => {
    const plan = planHost(makeProfile({ accelerators: gpus, serve: [serve({ on: ["a"], engine: "ollama", apiKeyFile: "/run/k" })] } as never));
    expect(codes(plan)).toContain("error:OLLAMA_NO_API_KEY");
  });
  it("listening beyond loopback without a key warns", () => {
    const plan = planHost(makeProfile({ accelerators: gpus, serve: [serve({ on: ["a"], listen: "0.0.0.0" })] } as never));
    expect(codes(plan)).toContain("warning:LISTEN_WITHOUT_API_KEY");
  });
});

describe("AMD pinning details", () => {
  it("without a UUID pins by index and warns", () => {
    const plan = planHost(makeProfile({ accelerators: [amd("a", "gfx90a"), amd("b", "gfx90a")], serve: [serve({ on: ["b"] })] } as never));
    expect(plan.instances[0]!.environment).toEqual({ ROCR_VISIBLE_DEVICES: "1" });
    expect(codes(plan)).toContain("warning:PIN_BY_INDEX");
  });
  it("an RDNA2 card outside nixpkgs' targets is built for gfx1030 and overridden at run time", () => {
    const plan = planHost(makeProfile({ accelerators: [amd("r", "gfx1031", { uuid: "GPU-1111222233334444" })], serve: [serve({ on: ["r"], engine: "llama-cpp", gguf: { file: "/m.gguf" } })] } as never));
    expect(plan.instances[0]!.environment).toEqual({ ROCR_VISIBLE_DEVICES: "GPU-1111222233334444", HSA_OVERRIDE_GFX_VERSION: "10.3.0" });
    expect(plan.buildSets[0]!.packages[0]!.args.rocmGpuTargets).toEqual(["gfx1030"]);
    expect(plan.buildSets[0]!.name).toBe("rocm-gfx1030");
  });
});

describe("build sets", () => {
  const mixed = [
    amd("x0", "gfx1100", { uuid: "GPU-aaaaaaaaaaaaaaaa" }),
    amd("x1", "gfx1100", { uuid: "GPU-bbbbbbbbbbbbbbbb" }),
    nvidia("h", "9.0", { index: 0 }),
  ];
  const plan = planHost(
    makeProfile({
      accelerators: mixed,
      serve: [serve({ name: "a", on: ["x0"] }), serve({ name: "b", on: ["x1"], port: 8001 }), serve({ name: "h", on: ["h"], port: 8002 })],
    } as never),
  );

  it("AMD and NVIDIA vLLM on one host: one set per class, each with its own torch config", () => {
    expect(plan.refused).toBe(false);
    expect(plan.buildSets.map((b) => b.name)).toEqual(["cuda-sm90", "rocm-gfx1100"]);
    expect(plan.instances.map((i) => [i.name, i.buildSet])).toEqual([
      ["a", "rocm-gfx1100"],
      ["b", "rocm-gfx1100"],
      ["h", "cuda-sm90"],
    ]);
  });
  it("two instances on the same class share one set and one vLLM package", () => {
    const rocm = plan.buildSets.find((b) => b.name === "rocm-gfx1100")!;
    expect(rocm.instances).toEqual(["a", "b"]);
    expect(rocm.packages.map((p) => p.engine)).toEqual(["vllm"]);
    // torch and vLLM compile once for the two instances.
    expect(rocm.forecast.compiles.filter((c) => c.what === "torch (ROCm)")).toHaveLength(1);
  });
  it("only the CUDA set may use unfree licences; the ROCm set allows nothing unfree", () => {
    expect(plan.buildSets.map((b) => [b.name, b.allowUnfreeLicenses === null])).toEqual([
      ["cuda-sm90", false],
      ["rocm-gfx1100", true],
    ]);
  });
  it("sets are named by class, so the same class gets the same name on any host", () => {
    const other = planHost(makeProfile({ host: "other", accelerators: [amd("z", "gfx1100")], serve: [serve({ on: ["z"] })] } as never));
    expect(other.buildSets.map((b) => b.name)).toEqual(["rocm-gfx1100"]);
  });
  it("a CPU set that changes nothing forecasts no compilation and says where the packages come from", () => {
    const cpu = planHost(makeProfile({ cpu: { flags: AVX512_FLAGS }, serve: [serve({ engine: "llama-cpp", gguf: { file: "/m.gguf" } })] } as never));
    expect(cpu.buildSets[0]).toMatchObject({ name: "cpu", forecast: { compiles: [], hours: [0, 0], diskGB: 0 } });
    expect(cpu.buildSets[0]!.forecast.cache).toMatch(/cache\.nixos\.org/);
  });
  it("on POWER the forecast says there is no public binary cache", () => {
    const p = planHost(makeProfile({ system: "powerpc64le-linux", cpu: { arch: "power9" }, serve: [serve({ engine: "llama-cpp", gguf: { file: "/m.gguf" } })] } as never));
    expect(p.buildSets[0]!.forecast.cache).toMatch(/no public binary cache for powerpc64le-linux/);
  });
});
