import { describe, expect, it } from "vitest";
import { parseLspci } from "../../../src/detect/parsers/lspci.js";
import { parseNvidiaProcInformation, parseNvidiaSmi, parseNvidiaSmiQ } from "../../../src/detect/parsers/nvidia.js";

const table470 = `+-----------------------------------------------------------------------------+
| NVIDIA-SMI 470.57.02    Driver Version: 470.57.02    CUDA Version: 11.4     |
|-------------------------------+----------------------+----------------------+
| GPU  Name        Persistence-M| Bus-Id        Disp.A | Volatile Uncorr. ECC |
| Fan  Temp  Perf  Pwr:Usage/Cap|         Memory-Usage | GPU-Util  Compute M. |
|                               |                      |               MIG M. |
|===============================+======================+======================|
|   0  NVIDIA A100-SXM...  On   | 00000000:07:00.0 Off |                    0 |
| N/A   30C    P0    52W / 400W |      0MiB / 81251MiB |      0%      Default |
|                               |                      |              Enabled |
+-------------------------------+----------------------+----------------------+
|   1  Tesla T4            Off  | 00000000:3B:00.0 Off |                    0 |
| N/A   30C    P8     9W /  70W |      0MiB / 15109MiB |      0%      Default |
|                               |                      |                  N/A |
+-------------------------------+----------------------+----------------------+

+-----------------------------------------------------------------------------+
| Processes:                                                                  |
|  GPU   GI   CI        PID   Type   Process name                  GPU Memory |
|=============================================================================|
|  No running processes found                                                 |
+-----------------------------------------------------------------------------+
`;

describe("parseNvidiaSmi", () => {
  it("rows: index, name (truncation flagged), bus, memory, MIG", () => {
    const r = parseNvidiaSmi(table470);
    expect(r.gpus).toEqual([
      { index: 0, name: "NVIDIA A100-SXM", nameTruncated: true, pciAddress: "0000:07:00.0", memoryMiB: 81251, mig: "Enabled" },
      { index: 1, name: "Tesla T4", nameTruncated: false, pciAddress: "0000:3b:00.0", memoryMiB: 15109 },
    ]);
  });
  it("junk", () => expect(parseNvidiaSmi("NVIDIA-SMI has failed").gpus).toEqual([]));
});

describe("parseNvidiaSmiQ", () => {
  it("nested sections, uuid, FB total, MIG current", () => {
    const q = `
==============NVSMI LOG==============

Driver Version                            : 535.104.05
Attached GPUs                             : 1
GPU 00000000:18:00.0
    Product Name                          : NVIDIA H100 80GB HBM3
    MIG Mode
        Current                           : Disabled
        Pending                           : Disabled
    Serial Number                         : 1652222014738
    GPU UUID                              : GPU-B42DD28E-FFDD-8720-1DF0-98BD8CDC05B1
    Minor Number                          : 0
    FB Memory Usage
        Total                             : 81559 MiB
        Used                              : 0 MiB
    BAR1 Memory Usage
        Total                             : 131072 MiB
`;
    const r = parseNvidiaSmiQ(q);
    expect(r.driverVersion).toBe("535.104.05");
    expect(r.gpus).toHaveLength(1);
    expect(r.gpus[0]).toMatchObject({
      position: 0,
      pciAddress: "0000:18:00.0",
      productName: "NVIDIA H100 80GB HBM3",
      uuid: "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1",
      memoryMiB: 81559,
      mig: "Disabled",
      minorNumber: 0,
    });
    expect(r.gpus[0]!.computeCapability).toBeUndefined();
  });
});

describe("parseNvidiaProcInformation", () => {
  it("model, uuid, bus", () => {
    const r = parseNvidiaProcInformation("Model: \t\t Tesla V100-SXM2-16GB\nIRQ:   \t\t 48\nGPU UUID: \t GPU-f3bbf1a0-ec50-caa0-d5ab-180afe8207e3\nBus Location: \t 0004:04:00.0\nDevice Minor: \t 0\n");
    expect(r).toEqual({ model: "Tesla V100-SXM2-16GB", uuid: "GPU-f3bbf1a0-ec50-caa0-d5ab-180afe8207e3", pciAddress: "0004:04:00.0", deviceMinor: 0 });
  });
});

describe("parseLspci", () => {
  it("-nn ids, class codes, -k drivers, domain-less addresses", () => {
    const text = `03:00.0 Display controller [0380]: Advanced Micro Devices, Inc. [AMD/ATI] Vega 20 [Radeon Pro VII/Radeon Instinct MI50 32GB] [1002:66a1] (rev 02)
00:04.0 Unassigned class [ff00]: Google, Inc. Device [1ae0:0063]
0000:01:00.0 Processing accelerators [1200]: IBM Device [1014:06a7] (rev 02)
\tKernel driver in use: vfio-pci
00:02.0 VGA compatible controller: Intel Corporation Device 46a6
`;
    const r = parseLspci(text);
    expect(r.devices.map((d) => [d.pciAddress, d.classCode, d.vendorId, d.deviceId, d.driver])).toEqual([
      ["0000:03:00.0", "0380", "1002", "66a1", undefined],
      ["0000:00:04.0", "ff00", "1ae0", "0063", undefined],
      ["0000:01:00.0", "1200", "1014", "06a7", "vfio-pci"],
      ["0000:00:02.0", undefined, undefined, undefined, undefined],
    ]);
    expect(r.devices[0]!.description).toBe("Advanced Micro Devices, Inc. [AMD/ATI] Vega 20 [Radeon Pro VII/Radeon Instinct MI50 32GB]");
  });
});
