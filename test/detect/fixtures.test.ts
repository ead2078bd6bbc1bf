/**
 * Every machine folder under test/fixtures/machines is detected and compared with its goldens.
 * UPDATE_GOLDEN=1 rewrites expected-profile.json / expected-report.json; read the rewritten
 * files and check them against test/fixtures/README.md before keeping them.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { detectFromDir } from "../../src/detect/index.js";
import { validateProfile } from "../../src/profile/parse.js";
import { REPO_ROOT } from "../helpers/nix.js";

const root = join(REPO_ROOT, "test/fixtures/machines");
const machines = existsSync(root) ? readdirSync(root).filter((m) => statSync(join(root, m)).isDirectory()).sort() : [];
const update = process.env.UPDATE_GOLDEN === "1";

describe("fixture machines", () => {
  it("there are fixture machines", () => expect(machines.length).toBeGreaterThan(0));

  it.each(machines)("%s", async (m) => {
    const dir = join(root, m);
    const r = await detectFromDir(dir);
    // Schema and cross-field rules: what detect prints must load as a profile.
    expect(() => validateProfile(r.profile, m)).not.toThrow();
    const profileFile = join(dir, "expected-profile.json");
    const reportFile = join(dir, "expected-report.json");
    if (update) {
      writeFileSync(profileFile, JSON.stringify(r.profile, null, 2) + "\n");
      writeFileSync(reportFile, JSON.stringify(r.report, null, 2) + "\n");
    }
    expect(existsSync(profileFile), `${profileFile} missing; run with UPDATE_GOLDEN=1 and review it`).toBe(true);
    expect(r.profile).toEqual(JSON.parse(readFileSync(profileFile, "utf8")));
    expect(r.report).toEqual(JSON.parse(readFileSync(reportFile, "utf8")));
  });
});

/** Facts from test/fixtures/README.md, checked independently of the goldens. */
interface ReadmeFacts {
  cpu?: Record<string, unknown>;
  present?: string[];
  absent?: string[];
  gpus?: number;
  arch?: string;
  /** Each GPU's partitions, in order. */
  partitions?: Array<Record<string, unknown>>;
  /** The first GPU's uuid. */
  uuid0?: string;
  /** cpuCount of each NUMA node, in order. */
  numa?: number[];
  /** Per NUMA node: [number of cores, first core's sibling cpulist]. */
  siblings?: Array<[number, string]>;
}
const README_FACTS: Record<string, ReadmeFacts> = {
  "x86-amd-epyc7451-2s": { cpu: { arch: "znver1", sockets: 2, coresPerSocket: 24, threadsPerCore: 2 }, present: ["avx", "avx2", "fma", "sha_ni"], absent: ["avx512f", "vaes"] },
  "x86-intel-xeon-x7550-64cpu": { cpu: { sockets: 4, coresPerSocket: 8, threadsPerCore: 2, model: "Intel(R) Xeon(R) CPU           X7550  @ 2.00GHz" }, absent: ["avx", "avx2"], present: ["sse4_2"] },
  "aarch64-kunpeng920-2s": { siblings: [[32, "0"], [32, "32"], [32, "64"], [32, "96"]], cpu: { vendor: "hisilicon", arch: "tsv110", sockets: 2, coresPerSocket: 64, threadsPerCore: 1 }, present: ["asimd", "asimddp", "atomics"], absent: ["sve", "sve2", "bf16", "i8mm"] },
  "ppc64le-power9-nvgpu": { cpu: { arch: "power9", sockets: 2, threadsPerCore: 4, coresPerSocket: 4 }, present: ["vsx", "altivec"] },
  "x86-intel-i7-1370p-hybrid": { siblings: [[14, "0-1"]], cpu: { sockets: 1, coresPerSocket: 14, threadsPerCore: undefined }, present: ["avx2", "avx_vnni"], absent: ["avx512f"] },
  "aarch64-nvidia-dgx-gb10": { cpu: { vendor: "arm", arch: undefined, sockets: 1, coresPerSocket: 20, threadsPerCore: 1 }, present: ["sve2", "bf16", "i8mm"] },
  "x86-amd-ryzen9-5950x-cpuinfo": { cpu: { arch: "znver3", sockets: undefined, coresPerSocket: 16, threadsPerCore: 2 }, absent: ["avx512f"] },
  "x86-amd-epyc9654-cpuinfo": { cpu: { arch: "znver4", sockets: undefined, coresPerSocket: 96, threadsPerCore: 1 }, present: ["avx512_bf16"], absent: ["amx_tile"] },
  "x86-intel-xeon-8480plus-cpuinfo": { cpu: { arch: "sapphirerapids", sockets: undefined, coresPerSocket: 56, threadsPerCore: 2 }, present: ["amx_tile", "amx_bf16", "amx_int8", "avx512_fp16"] },
  "x86-intel-xeon-8260m-cpuinfo": { cpu: { arch: "cascadelake" }, present: ["avx512_vnni"], absent: ["avx512_bf16"] },
  "x86-intel-xeon-silver4108-2s": { siblings: [[8, "0,16"], [8, "8,24"]], cpu: { arch: "skylake-avx512", sockets: 2, coresPerSocket: 8 }, absent: ["avx512_vnni"] },
  "ppc64le-power8nvl-cpuinfo": { cpu: { arch: "power8", powerIsa: "2.07" }, present: ["altivec", "vsx"] },
  "aarch64-graviton3-cpuinfo": { cpu: { vendor: "arm", arch: "neoverse-v1" }, present: ["sve", "bf16", "i8mm"], absent: ["sve2"] },
  "x86-amd-epyc7742-2s-lscpu": { cpu: { arch: "znver2", sockets: 2, coresPerSocket: 64, threadsPerCore: 2 } },
  "gpu-amd-mi50-x8-gfx906": { gpus: 8, arch: "gfx906" },
  "gpu-nvidia-a100-sxm4-80gb-x4": { gpus: 4, arch: "8.0" },
  "gpu-nvidia-h100-sxm-80gb-x8": { gpus: 8, arch: "9.0" },
  "gpu-nvidia-v100-sxm2-16gb-x8": { gpus: 8, arch: "7.0" },
  "ppc64le-power9-cpuinfo": { cpu: { arch: "power9", powerIsa: "3.0" }, present: ["altivec", "vsx"] },
  "ppc64le-power10-cpuinfo": { cpu: { vendor: "ibm", arch: "power10", powerIsa: "3.1" }, present: ["altivec", "vsx"] },
  "ppc64-power7-bgq-cpuinfo": { cpu: { arch: "power7", powerIsa: "2.06" }, present: ["altivec", "vsx"] },
  "aarch64-ampere1-cpuinfo": { cpu: { vendor: "ampere", arch: "ampere1" }, present: ["asimd", "bf16", "i8mm"], absent: ["sve"] },
  "aarch64-fujitsu-a64fx-cpuinfo": { cpu: { vendor: "fujitsu", arch: "a64fx" }, present: ["sve"], absent: ["sve2", "bf16"] },
  "aarch64-apple-m1-cpuinfo": { cpu: { vendor: "apple", arch: undefined }, present: ["asimddp"], absent: ["sve", "bf16", "i8mm"] },
  "aarch64-cavium-thunderx2-cpuinfo": { cpu: { vendor: "cavium", arch: undefined }, present: ["asimd", "atomics"], absent: ["sve"] },
  "gpu-amd-mi300x-x8-cpx-kfd": { gpus: 8, arch: "gfx942", partitions: [8, 8, 8, 8, 8, 8, 8, 7].map((count) => ({ mode: "CPX", count })), uuid0: "GPU-e3aa140f9a5f9e31", numa: [96, 96] },
  "gpu-amd-mi308x-x8-cpx-kfd": { gpus: 8, arch: "gfx942", partitions: Array(8).fill({ mode: "CPX", count: 4 }), uuid0: "GPU-084cafeae17e7696", numa: [112, 112] },
  "gpu-amd-mi210-x8-kfd": { gpus: 8, arch: "gfx90a", uuid0: "GPU-93bb3629c01aea1c", numa: [64, 64] },
  "gpu-amd-mi300x-x4": { gpus: 4, arch: "gfx942", numa: [96, 96] },
};

describe("README facts", () => {
  it.each(Object.keys(README_FACTS).filter((m) => machines.includes(m)))("%s", async (m) => {
    const f = README_FACTS[m]!;
    const p = (await detectFromDir(join(root, m))).profile;
    const cpu = (p.cpu ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(f.cpu ?? {})) expect(cpu[k], `cpu.${k}`).toEqual(v);
    for (const fl of f.present ?? []) expect(p.cpu?.flags).toContain(fl);
    for (const fl of f.absent ?? []) expect(p.cpu?.flags).not.toContain(fl);
    if (f.gpus !== undefined) {
      expect(p.accelerators).toHaveLength(f.gpus);
      for (const a of p.accelerators ?? []) expect(a.arch).toBe(f.arch);
    }
    if (f.partitions) expect(p.accelerators?.map((a) => (a as { partitions?: unknown }).partitions)).toEqual(f.partitions);
    if (f.uuid0) expect((p.accelerators?.[0] as { uuid?: string }).uuid).toBe(f.uuid0);
    if (f.siblings) expect(p.cpu?.numa?.map((n) => [n.siblings?.length, n.siblings?.[0]])).toEqual(f.siblings);
    if (f.numa) expect(p.cpu?.numa?.map((n) => n.cpuCount)).toEqual(f.numa);
  });
});
