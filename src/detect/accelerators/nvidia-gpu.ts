/**
 * NVIDIA GPUs: nvidia-smi (table and -q) and /proc/driver/nvidia. Knowledge about what runs on
 * them is in ../../knowledge/accelerators/nvidia-gpu.ts.
 */
import { parseNvidiaProcInformation, parseNvidiaSmi, parseNvidiaSmiQ } from "../parsers/nvidia.js";
import { normalizePci } from "../parsers/text.js";
import { toolFiles, type Files, type Recorder } from "../recorder.js";
import { setField, type Cand } from "./candidate.js";

/** NVIDIA GPU candidates from the capture; `seen` is true when any NVIDIA source was present. */
export function detectNvidia(files: Files, rec: Recorder): { cands: Cand[]; seen: boolean } {
  const cands: Cand[] = [];
  let seen = false;
  const find = (pci: string | undefined) => (pci ? cands.find((c) => c.pci === pci) : undefined);
  const add = (pci: string | undefined): Cand => {
    const c: Cand = { vendor: "nvidia", order: cands.length, fields: new Map(), parts: 1, notes: [] };
    if (pci) c.pci = pci;
    cands.push(c);
    return c;
  };
  const smiFiles = toolFiles(files, "nvidia-smi");
  const qFiles = smiFiles.filter((p) => /NVSMI LOG|Product Name\s*:/.test(files.get(p)!));
  const tableFiles = smiFiles.filter((p) => !qFiles.includes(p));
  for (const p of qFiles) {
    seen = true;
    const q = parseNvidiaSmiQ(files.get(p)!);
    for (const pr of q.problems) rec.msg(`${p}: ${pr}`);
    for (const g of q.gpus) {
      const c = find(g.pciAddress) ?? add(g.pciAddress);
      setField(c, "pciAddress", g.pciAddress, p);
      setField(c, "model", g.productName, p);
      setField(c, "uuid", g.uuid, p);
      setField(c, "memoryMiB", g.memoryMiB, p);
      setField(c, "arch", g.computeCapability, p);
      setField(c, "qIndex", g.position, p);
      if (g.mig === "Enabled") setField(c, "mig", "Enabled", p);
    }
  }
  for (const p of tableFiles) {
    seen = true;
    const t = parseNvidiaSmi(files.get(p)!);
    for (const pr of t.problems) rec.msg(`${p}: ${pr}`);
    for (const g of t.gpus) {
      const c = find(g.pciAddress) ?? add(g.pciAddress);
      setField(c, "pciAddress", g.pciAddress, p);
      if (!g.nameTruncated) setField(c, "model", g.name, p);
      else setField(c, "truncatedName", g.name, p);
      setField(c, "memoryMiB", g.memoryMiB, p);
      setField(c, "index", g.index, p);
      if (g.mig === "Enabled") setField(c, "mig", "Enabled", p);
    }
  }
  const infoRe = /^proc\/driver\/nvidia\/gpus\/[^/]+\/information$/;
  for (const p of [...files.keys()].filter((k) => infoRe.test(k)).sort()) {
    seen = true;
    const info = parseNvidiaProcInformation(files.get(p)!);
    if (!info.model && !info.uuid) {
      rec.msg(`${p}: no Model or GPU UUID`);
      continue;
    }
    const c = find(info.pciAddress) ?? add(info.pciAddress);
    setField(c, "pciAddress", info.pciAddress, p);
    setField(c, "model", info.model, p);
    setField(c, "uuid", info.uuid, p);
  }
  const dirs = new Set([...files.keys()].map((k) => /^proc\/driver\/nvidia\/gpus\/([^/]+)\//.exec(k)?.[1]).filter((x): x is string => !!x));
  const described = new Set(cands.map((c) => c.pci));
  const bare = [...dirs].filter((d) => !described.has(normalizePci(d)) && !files.has(`proc/driver/nvidia/gpus/${d}/information`)).sort();
  if (bare.length > 0) {
    seen = true;
    rec.msg(`proc/driver/nvidia/gpus: ${bare.length} NVIDIA GPUs (${bare.join(", ")}) without an information file or nvidia-smi output; left out (capture nvidia-smi -q)`);
  }
  for (const c of cands) {
    // nvidia-smi numbers GPUs as -q lists them; the table's index column says it directly.
    if (!c.fields.has("index") && c.fields.has("qIndex")) c.fields.set("index", c.fields.get("qIndex")!);
    if (c.fields.has("mig")) rec.msg(`nvidia GPU at ${c.pci ?? "?"}: MIG mode enabled; MIG instances are not listed, the GPU is counted as one device`);
  }
  return { cands, seen };
}

