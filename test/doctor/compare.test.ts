/**
 * Doctor: a profile detected from a real fixture, compared with that fixture (no drift) and with
 * the profile changed in one fact kind at a time (each must be caught with its code).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { detectFromDir } from "../../src/detect/index.js";
import { compareProfiles, DRIFT_CODES, type DriftCode } from "../../src/doctor/index.js";
import { ProfileSchema, type Profile } from "../../src/profile/schema.js";
import { REPO_ROOT } from "../helpers/nix.js";

const machine = (m: string) => join(REPO_ROOT, "test/fixtures/machines", m);

async function detected(m: string): Promise<{ profile: Profile; unknown: string[] }> {
  const r = await detectFromDir(machine(m), { host: "h" });
  return { profile: ProfileSchema.parse(r.profile), unknown: r.report.unknown };
}

/** The profile as a user would keep it: detected, then changed by `edit`. */
function edited(p: Profile, edit: (p: Profile) => void): Profile {
  const copy = structuredClone(p);
  edit(copy);
  return copy;
}

const cpuHost = await detected("x86-intel-xeon-silver4108-2s");
const gpuHost = await detected("gpu-amd-mi210-x8-kfd");

const codes = (expected: Profile, host: { profile: Profile; unknown: string[] }): DriftCode[] =>
  compareProfiles(expected, host.profile, host.unknown).drift.map((d) => d.code);

describe("doctor: no drift", () => {
  it.each([["CPU host", cpuHost], ["GPU host", gpuHost]])("%s matches its own profile", (_n, h) => {
    const r = compareProfiles(h.profile, h.profile, h.unknown);
    expect(r).toMatchObject({ ok: true, drift: [] });
    expect(r.compared).toBeGreaterThan(5);
  });

  it("facts the profile leaves out are not compared", () => {
    const r = compareProfiles(edited(cpuHost.profile, (p) => (p.cpu = {})), cpuHost.profile, cpuHost.unknown);
    expect(r.ok).toBe(true);
  });
});

describe("doctor: each kind of drift", () => {
  const cases: Array<[DriftCode, { profile: Profile; unknown: string[] }, (p: Profile) => void, string]> = [
    ["SYSTEM_CHANGED", cpuHost, (p) => (p.system = "aarch64-linux"), "system"],
    ["OS_CHANGED", { ...cpuHost, profile: { ...cpuHost.profile, os: { id: "ubuntu", versionId: "22.04" } } }, (p) => (p.os = { id: "ubuntu", versionId: "20.04" }), "os.versionId"],
    ["OS_CHANGED", { ...cpuHost, profile: { ...cpuHost.profile, os: { id: "ubuntu", versionId: "22.04" } } }, (p) => (p.os = { id: "nixos", versionId: "22.04" }), "os.id"],
    ["CPU_CHANGED", cpuHost, (p) => (p.cpu.model = "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz"), "cpu.model"],
    ["CPU_FLAGS_CHANGED", cpuHost, (p) => p.cpu.flags!.push("avx512_vnni"), "cpu.flags"],
    ["CPU_TOPOLOGY_CHANGED", cpuHost, (p) => (p.cpu.threadsPerCore = 1), "cpu.threadsPerCore"],
    ["NUMA_CHANGED", cpuHost, (p) => p.cpu.numa!.pop(), "cpu.numa"],
    ["NUMA_CHANGED", cpuHost, (p) => (p.cpu.numa![0]!.siblings = p.cpu.numa![0]!.siblings!.flatMap((s) => s.split(","))), "cpu.numa[0].siblings"],
    ["MEMORY_CHANGED", cpuHost, (p) => (p.memory = { totalMiB: p.memory!.totalMiB * 2 }), "memory.totalMiB"],
    ["ACCELERATOR_MISSING", gpuHost, (p) => p.accelerators.push({ ...p.accelerators[0]!, id: "extra", uuid: "GPU-0000000000000001" } as Profile["accelerators"][number]), "accelerators[8]"],
    ["ACCELERATOR_NEW", gpuHost, (p) => p.accelerators.pop(), "accelerators"],
    ["ACCELERATOR_CHANGED", gpuHost, (p) => (p.accelerators[2]!.arch = "gfx942"), "accelerators[2].arch"],
  ];

  it("every drift code has a case here", () => expect(new Set(cases.map((c) => c[0]))).toEqual(new Set(DRIFT_CODES)));

  it.each(cases)("%s (%#)", (code, host, edit, path) => {
    const r = compareProfiles(edited(host.profile, edit), host.profile, host.unknown);
    expect(r.ok).toBe(false);
    expect(r.drift.map((d) => [d.code, d.path])).toEqual([[code, path]]);
    expect(r.drift[0]!.message.length).toBeGreaterThan(10);
  });

  it("a flag outside the ISA families builds depend on is not drift (kernels add flag names)", () => {
    expect(codes(edited(cpuHost.profile, (p) => p.cpu.flags!.push("user_shstk")), cpuHost)).toEqual([]);
  });

  it("a few MiB of MemTotal is not drift", () => {
    expect(codes(edited(cpuHost.profile, (p) => (p.memory = { totalMiB: p.memory!.totalMiB - 64 })), cpuHost)).toEqual([]);
  });

  it("a GPU is matched by uuid, not by position: a reordered list is no drift", () => {
    expect(codes(edited(gpuHost.profile, (p) => p.accelerators.reverse()), gpuHost)).toEqual([]);
  });

  it("a TPU the capture cannot see (no lspci ids) is unchecked, not missing", () => {
    const withTpu = edited(gpuHost.profile, (p) => p.accelerators.push({ kind: "tpu", vendor: "google", id: "tpu0", arch: "v5e", chips: 4 }));
    const r = compareProfiles(withTpu, gpuHost.profile, gpuHost.unknown);
    expect(r.ok).toBe(true);
    expect(r.unchecked).toContain("accelerators[8]");
  });
});
