import { describe, expect, it } from "vitest";
import { detectFromFiles } from "../../src/detect/index.js";
import { ProfileSchema } from "../../src/profile/schema.js";

const files = (o: Record<string, string>) => new Map(Object.entries(o));

describe("detectFromFiles: accelerators by PCI id", () => {
  const lspci = `00:04.0 Unassigned class [ff00]: Google, Inc. Device [1ae0:0063]
00:05.0 Unassigned class [ff00]: Google, Inc. Device [1ae0:0063]
00:06.0 Unassigned class [ff00]: Google, Inc. Device [1ae0:0027]
0001:01:00.0 Processing accelerators [1200]: IBM Device [1014:06a7] (rev 02)
0002:01:00.0 Processing accelerators [1200]: IBM Device [1014:06a8] (rev 02)
41:00.0 3D controller [0302]: NVIDIA Corporation GA100 [A100 SXM4 80GB] [10de:20b2] (rev a1)
`;
  const r = detectFromFiles(files({ "commands/lspci-nn.txt": lspci }), { host: "tpu-host" });

  it("TPU chips grouped per generation, Spyre cards one each, undriven GPUs reported", () => {
    expect(ProfileSchema.parse(r.profile).host).toBe("tpu-host");
    expect(r.profile.accelerators).toEqual([
      { kind: "tpu", vendor: "google", id: "tpu0", arch: "v5e", chips: 2 },
      { kind: "spyre", vendor: "ibm", id: "spyre0", pciAddress: "0001:01:00.0", arch: "spyre" },
      { kind: "spyre", vendor: "ibm", id: "spyre1", pciAddress: "0002:01:00.0", arch: "spyre" },
    ]);
    expect(r.report.messages.some((m) => /1ae0:0027 is TPU v2 or v3/.test(m))).toBe(true);
    expect(r.report.messages.some((m) => /0000:41:00.0 is an nvidia GPU/.test(m))).toBe(true);
    expect(r.report.unknown).not.toContain("accelerators");
    expect(r.report.facts.find((f) => f.path === "accelerators[0].chips")).toEqual({ path: "accelerators[0].chips", value: 2, from: ["commands/lspci-nn.txt"] });
  });
});

describe("detectFromFiles: NVIDIA", () => {
  it("unknown compute capability: GPU left out with a message, never guessed", () => {
    const info = "Model: \t\t NVIDIA Mystery 9000\nGPU UUID: \t GPU-f3bbf1a0-ec50-caa0-d5ab-180afe8207e3\nBus Location: \t 0000:3b:00.0\n";
    const r = detectFromFiles(files({ "proc/driver/nvidia/gpus/0000:3b:00.0/information": info }));
    expect(r.profile.accelerators).toEqual([]);
    expect(r.report.messages.some((m) => /unknown compute capability for "NVIDIA Mystery 9000"/.test(m))).toBe(true);
  });

  it("compute capability from the sourced table when the driver does not print it", () => {
    const info = "Model: \t\t Tesla T4\nGPU UUID: \t GPU-f3bbf1a0-ec50-caa0-d5ab-180afe8207e3\nBus Location: \t 0000:3b:00.0\n";
    const r = detectFromFiles(files({ "proc/driver/nvidia/gpus/0000:3b:00.0/information": info }));
    expect(r.profile.accelerators).toEqual([
      { kind: "gpu", vendor: "nvidia", id: "gpu0", model: "Tesla T4", arch: "7.5", pciAddress: "0000:3b:00.0", uuid: "GPU-f3bbf1a0-ec50-caa0-d5ab-180afe8207e3" },
    ]);
    expect(r.report.unknown).toContain("accelerators[0].memoryMiB");
  });
});

describe("detectFromFiles: AMD via KFD topology", () => {
  it("gfx from gfx_target_version, VRAM from mem banks, partitions sharing a PCI function merged", () => {
    const node = (loc: number) => `cpu_cores_count 0\nsimd_count 64\ngfx_target_version 90402\nlocation_id ${loc}\ndomain 0\n\0`;
    const r = detectFromFiles(
      files({
        "sys/class/kfd/kfd/topology/nodes/0/properties": "cpu_cores_count 96\nsimd_count 0\ngfx_target_version 0\n",
        "sys/class/kfd/kfd/topology/nodes/1/properties": node(0x2600),
        "sys/class/kfd/kfd/topology/nodes/1/mem_banks/0/properties": "heap_type 1\nsize_in_bytes 25769803776\n",
        "sys/class/kfd/kfd/topology/nodes/2/properties": node(0x2600),
        "sys/class/kfd/kfd/topology/nodes/2/mem_banks/0/properties": "heap_type 1\nsize_in_bytes 25769803776\n",
        "sys/class/kfd/kfd/topology/nodes/3/properties": node(0x4600),
      }),
    );
    expect(r.profile.accelerators).toEqual([
      { kind: "gpu", vendor: "amd", id: "gpu0", arch: "gfx942", memoryMiB: 49152, pciAddress: "0000:26:00.0", index: 0, partitions: { count: 2 } },
      { kind: "gpu", vendor: "amd", id: "gpu1", arch: "gfx942", pciAddress: "0000:46:00.0", index: 1 },
    ]);
    expect(r.report.messages.some((m) => /0000:26:00.0: 2 partitions of one card.*mode unknown/.test(m))).toBe(true);
  });

  it("partitions on separate PCI functions sharing unique_id are one card; num_xcc tells the mode", () => {
    const node = (fn: number, xcc: number) => `simd_count 152\ngfx_target_version 90402\nlocation_id ${0x500 + fn}\ndomain 0\nunique_id 16404946649897475633\nnum_xcc ${xcc}\n`;
    const two = (xcc: number) =>
      detectFromFiles(files({ "sys/class/kfd/kfd/topology/nodes/1/properties": node(0, xcc), "sys/class/kfd/kfd/topology/nodes/2/properties": node(1, xcc) })).profile.accelerators;
    expect(two(4)).toEqual([
      { kind: "gpu", vendor: "amd", id: "gpu0", arch: "gfx942", pciAddress: "0000:05:00.0", uuid: "GPU-e3aa140f9a5f9e31", partitions: { mode: "DPX", count: 2 } },
    ]);
    expect(two(1)?.[0]).toMatchObject({ partitions: { mode: "CPX", count: 2 } });
  });

  it("NUMA from KFD CPU nodes: counts, not CPU lists; sysfs wins when present", () => {
    const cpuNode = (n: number, base: number) => `cpu_cores_count ${n}\nsimd_count 0\ncpu_core_id_base ${base}\ngfx_target_version 0\n`;
    const kfd = { "sys/class/kfd/kfd/topology/nodes/0/properties": cpuNode(96, 0), "sys/class/kfd/kfd/topology/nodes/1/properties": cpuNode(96, 128) };
    const r = detectFromFiles(files(kfd));
    expect(r.profile.cpu?.numa).toEqual([
      { id: 0, cpuCount: 96 },
      { id: 1, cpuCount: 96 },
    ]);
    expect(r.report.unknown).toContain("cpu.numa[0].cpus");
    const withSysfs = detectFromFiles(files({ ...kfd, "sys/devices/system/node/node0/cpulist": "0-191\n" }));
    expect(withSysfs.profile.cpu?.numa).toEqual([{ id: 0, cpus: "0-191" }]);
  });
});

describe("detectFromFiles: host and lscpu", () => {
  it("FQDN host shortened; lscpu Socket(s): - stays unknown; ppc64le from lscpu", () => {
    const r = detectFromFiles(
      files({
        "proc/sys/kernel/hostname": "node7.example.org\n",
        "commands/lscpu.txt": "Architecture:        ppc64le\nByte Order:          Little Endian\nModel name:          POWER9 (raw), altivec supported\nThread(s) per core:  4\nCore(s) per socket:  22\nSocket(s):           -\n",
      }),
    );
    expect(r.profile.host).toBe("node7");
    expect(r.profile.system).toBe("powerpc64le-linux");
    expect(r.profile.cpu).toMatchObject({ vendor: "ibm", threadsPerCore: 4, coresPerSocket: 22 });
    expect(r.report.unknown).toContain("cpu.sockets");
    expect(ProfileSchema.safeParse(r.profile).success).toBe(true);
  });

  it("Arm vendor from lscpu's Vendor ID when cpuinfo is absent; unknown implementers are other", () => {
    const v = (id: string) => detectFromFiles(files({ "commands/lscpu.txt": `Architecture:  aarch64\nVendor ID:     ${id}\n` })).profile.cpu?.vendor;
    expect(v("HiSilicon")).toBe("hisilicon");
    expect(v("ARM")).toBe("arm");
    expect(v("Samsung")).toBe("other");
  });

  it("an invalid host option is a user error", () => {
    expect(() => detectFromFiles(new Map(), { host: "not a host" })).toThrow(/not a host name/);
  });
});

describe("detectFromFiles: cores per NUMA node", () => {
  const block = (cpu: number, core: number) => `processor\t: ${cpu}\nvendor_id\t: GenuineIntel\nphysical id\t: 0\ncore id\t\t: ${core}\nflags\t\t: lm\n\n`;
  const cpuinfo = [block(0, 0), block(1, 1), block(2, 0), block(3, 1)].join("");

  it("x86 cpuinfo physical id + core id give the siblings of each node", () => {
    const r = detectFromFiles(files({ "proc/cpuinfo": cpuinfo, "sys/devices/system/node/node0/cpulist": "0-3\n" }));
    expect(r.profile.cpu?.numa).toEqual([{ id: 0, cpus: "0-3", siblings: ["0,2", "1,3"] }]);
    expect(r.report.facts.find((f) => f.path === "cpu.numa[0].siblings")?.from).toEqual(["proc/cpuinfo"]);
  });

  it("lscpu -p's Core column gives the siblings when sysfs has no topology", () => {
    const lscpuP = "# The following is the parsable format, which can be fed to other\n# programs. Each different item in every column has an unique ID\n# starting from zero.\n# CPU,Core,Socket,Node,,L1d,L1i,L2,L3\n0,0,0,0,,0,0,0,0\n1,1,0,0,,1,1,1,0\n2,0,0,0,,0,0,0,0\n3,1,0,0,,1,1,1,0\n";
    const r = detectFromFiles(files({ "commands/lscpu-p.txt": lscpuP, "sys/devices/system/node/node0/cpulist": "0-3\n" }));
    expect(r.profile.cpu?.numa).toEqual([{ id: 0, cpus: "0-3", siblings: ["0,2", "1,3"] }]);
  });

  it("a node whose CPUs are only partly described keeps siblings unknown", () => {
    const r = detectFromFiles(files({ "proc/cpuinfo": cpuinfo, "sys/devices/system/node/node0/cpulist": "0-7\n" }));
    expect(r.profile.cpu?.numa?.[0]?.siblings).toBeUndefined();
    expect(r.report.messages.some((m) => /cpu.numa\[0\]: the capture shows the cores of only some/.test(m))).toBe(true);
  });
});
