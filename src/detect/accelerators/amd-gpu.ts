/**
 * AMD GPUs: KFD topology in sysfs, rocminfo and rocm-smi. Knowledge about what runs on them is
 * in ../../knowledge/accelerators/amd-gpu.ts.
 */
import { parseKfdMemBank, parseKfdProperties, parseRocminfo, parseRocmSmi, type RocmSmiGpu } from "../parsers/amd.js";
import { kibToMiB } from "../parsers/meminfo.js";
import { toolFiles, type Files, type Recorder } from "../recorder.js";
import { newCand, setField, type Cand } from "./candidate.js";

/** AMD GPU candidates from the capture; `seen` is true when any AMD source was present. */
export function detectAmd(files: Files, rec: Recorder): { cands: Cand[]; seen: boolean } {
  const cands: Cand[] = [];
  let seen = false;
  const byNode = new Map<number, Cand>();
  // Canonical node numbers only ("007" or a number past 2^53 would not name the file again).
  const kfdRe = /^sys\/class\/kfd\/kfd\/topology\/nodes\/(0|[1-9][0-9]{0,5})\/properties$/;
  const nodeIds = [...files.keys()].map((k) => kfdRe.exec(k)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1]));
  for (const id of nodeIds.sort((a, b) => a - b)) {
    seen = true;
    const path = `sys/class/kfd/kfd/topology/nodes/${id}/properties`;
    const node = parseKfdProperties(files.get(path)!);
    if (Object.keys(node.props).length === 0) {
      rec.msg(`${path}: no properties`);
      continue;
    }
    if (!node.isGpu) continue;
    const c = newCand("amd", cands.length, node.pciAddress);
    setField(c, "arch", node.gfx, path);
    setField(c, "pciAddress", node.pciAddress, path);
    setField(c, "uuid", node.uuid, path);
    setField(c, "numXcc", node.numXcc, path);
    let vram = 0;
    const bankFrom: string[] = [];
    for (const k of files.keys()) {
      const m = new RegExp(`^sys/class/kfd/kfd/topology/nodes/${id}/mem_banks/\\d+/properties$`).exec(k);
      if (!m) continue;
      const b = parseKfdMemBank(files.get(k)!);
      if (b !== undefined) {
        vram += b;
        bankFrom.push(k);
      }
    }
    if (vram > 0) {
      const mib = Math.floor(vram / 1048576);
      c.fields.set("memoryMiB", { value: mib, from: bankFrom.sort() });
    }
    byNode.set(id, c);
    cands.push(c);
  }

  const riPath = toolFiles(files, "rocminfo")[0];
  if (riPath) {
    seen = true;
    const ri = parseRocminfo(files.get(riPath)!);
    for (const p of ri.problems) rec.msg(`${riPath}: ${p}`);
    const gpus = ri.agents.filter((a) => a.deviceType === "GPU");
    const truncated = ri.agents.length > 0 && !/\*\*\* Done \*\*\*/.test(files.get(riPath)!);
    if (truncated) rec.msg(`${riPath}: truncated (no "*** Done ***" line); agents after the cut are missing`);
    for (const a of gpus) {
      let c = a.node !== undefined ? byNode.get(a.node) : undefined;
      if (!c && a.pciAddress) c = cands.find((x) => x.pci === a.pciAddress);
      if (!c) {
        c = { vendor: "amd", order: cands.length, fields: new Map(), parts: 1, notes: [] };
        if (a.pciAddress) c.pci = a.pciAddress;
        cands.push(c);
        if (a.node !== undefined) byNode.set(a.node, c);
      }
      setField(c, "arch", a.gfx, riPath);
      setField(c, "uuid", a.uuid, riPath);
      setField(c, "model", a.marketingName, riPath);
      setField(c, "pciAddress", a.pciAddress, riPath);
      if (a.vramKiB !== undefined && a.vramKiB > 0) setField(c, "memoryMiB", kibToMiB(a.vramKiB), riPath);
      if (!c.pci && a.pciAddress) c.pci = a.pciAddress;
    }
  }

  const smiPaths = toolFiles(files, "rocm-smi");
  const smi = new Map<number, RocmSmiGpu & { from: string[] }>();
  for (const p of smiPaths) {
    seen = true;
    const r = parseRocmSmi(files.get(p)!);
    for (const g of r.gpus) {
      const cur = smi.get(g.index);
      if (!cur) smi.set(g.index, { ...g, from: [p] });
      else {
        for (const [k, v] of Object.entries(g.fields)) if (!(k in cur.fields)) cur.fields[k] = v;
        cur.pciAddress ??= g.pciAddress;
        cur.vramBytes ??= g.vramBytes;
        cur.gfx ??= g.gfx;
        cur.model ??= g.model;
        cur.from.push(p);
      }
    }
  }
  if (smi.size > 0) {
    const list = [...smi.values()].sort((a, b) => a.index - b.index);
    const anyPci = list.some((g) => g.pciAddress) && cands.some((c) => c.pci);
    const sameCount = list.length === cands.length;
    list.forEach((g, i) => {
      let c = anyPci ? cands.find((x) => x.pci === g.pciAddress) : sameCount ? cands[i] : undefined;
      if (!c && cands.length === 0) {
        c = { vendor: "amd", order: i, fields: new Map(), parts: 1, notes: [] };
        if (g.pciAddress) c.pci = g.pciAddress;
        cands.push(c);
      }
      if (!c) return;
      const from = g.from[0]!;
      setField(c, "arch", g.gfx, from);
      setField(c, "pciAddress", g.pciAddress, from);
      setField(c, "model", g.model, from);
      if (g.vramBytes) setField(c, "deviceMemoryMiB", Math.floor(g.vramBytes / 1048576), from);
      if (g.computePartition && g.computePartition !== "SPX") {
        rec.msg(`amd GPU ${g.index} (${from}): compute partition mode ${g.computePartition}; each partition shows as its own agent`);
      }
    });
  }
  return { cands: mergePartitions(cands, rec), seen };
}

/**
 * Nodes/agents that share one card id (KFD unique_id, rocminfo Uuid) or, without one, one PCI
 * function are partitions of one physical card (MI300 DPX/QPX/CPX): the card is reported once,
 * with its partition count and mode. In the ROCm device plugin's MI300X CPX capture each of the
 * 8 partitions has its own PCI function (location_id) but all share the unique_id.
 */
function mergePartitions(cands: Cand[], rec: Recorder): Cand[] {
  const out: Cand[] = [];
  const byKey = new Map<string, Cand>();
  const keyOf = (c: Cand) => (c.fields.get("uuid")?.value as string | undefined) ?? c.pci;
  for (const c of cands) {
    const key = keyOf(c);
    const head = key ? byKey.get(key) : undefined;
    if (!head) {
      out.push(c);
      if (key) byKey.set(key, c);
      continue;
    }
    head.parts += c.parts;
    const u = c.fields.get("uuid")?.value;
    if (u !== undefined && u !== head.fields.get("uuid")?.value) head.notes.push("uuidsDiffer");
    // Per-partition memory is a share of the device; only a device-level figure is kept.
    const mem = c.fields.get("memoryMiB");
    const headMem = head.fields.get("memoryMiB");
    if (mem && headMem) head.fields.set("memoryMiB", { value: (headMem.value as number) + (mem.value as number), from: [...new Set([...headMem.from, ...mem.from])] });
    for (const [k, v] of c.fields) {
      if (!head.fields.has(k)) head.fields.set(k, v);
      else if (head.fields.get(k)!.value === v.value) head.fields.get(k)!.from = [...new Set([...head.fields.get(k)!.from, ...v.from])].sort();
    }
  }
  for (const c of out) {
    if (c.parts < 2) continue;
    c.notes.push("partitioned");
    const mode = partitionMode(c.parts, c.fields.get("numXcc")?.value as number | undefined);
    rec.msg(
      `amd GPU at ${c.pci ?? "?"}: ${c.parts} partitions${mode ? ` (${mode} mode)` : ""} of one card, reported once` +
        (mode ? "" : "; partition mode unknown (no num_xcc in the capture)"),
    );
    if (mode) c.fields.set("partitionMode", { value: mode, from: c.fields.get("numXcc")!.from });
  }
  // Cards of one model in one mode show the same count; fewer means a partition is missing.
  const split = out.filter((c) => c.parts > 1);
  const most = Math.max(0, ...split.map((c) => c.parts));
  for (const c of split.filter((x) => x.parts < most && x.fields.get("arch")?.value === split.find((y) => y.parts === most)?.fields.get("arch")?.value)) {
    rec.msg(`amd GPU at ${c.pci ?? "?"}: shows ${c.parts} partitions where other cards show ${most}; a partition is missing from the capture (or failed to initialise)`);
  }
  return out;
}

/**
 * The amdgpu compute partition mode from the partition count and the XCCs per partition: CPX is
 * one partition per XCC (whatever the card's XCC count: 8 on MI300X, 4 on MI308X), otherwise
 * DPX/TPX/QPX by count (Linux drivers/gpu/drm/amd/amdgpu/amdgpu_gfx.c xcp_desc, aqua_vanjaram.c).
 * Without num_xcc the mode is not derivable: 4 partitions may be QPX or a 4-XCC card's CPX.
 */
export function partitionMode(parts: number, xccPerPartition: number | undefined): "DPX" | "TPX" | "QPX" | "CPX" | undefined {
  if (xccPerPartition === undefined || parts < 2) return undefined;
  if (xccPerPartition === 1) return "CPX";
  return parts === 2 ? "DPX" : parts === 3 ? "TPX" : parts === 4 ? "QPX" : undefined;
}
