/**
 * The CPU: Nix system, vendor, model, ISA flags and gcc arch, from /proc/cpuinfo and lscpu.
 * Counts and NUMA come from cpu-topology.ts and numa.ts.
 */
import type { ProfileInput } from "../profile/schema.js";
import {
  gccArchArm,
  gccArchPower,
  gccArchX86,
  ARCH_MIN_LEVEL,
  ARM_IMPLEMENTERS,
  POWER_ISA,
  levelAtLeast,
  missingForLevel,
  x86Level,
} from "../knowledge/identify.js";
import { parseCpuinfo, type Cpuinfo } from "./parsers/cpuinfo.js";
import { parseLscpu, parseLscpuJson, type Lscpu } from "./parsers/lscpu.js";
import { cleanText } from "./parsers/text.js";
import { detectCpuTopology, num } from "./cpu-topology.js";
import { detectNuma } from "./numa.js";
import { detectSiblings } from "./siblings.js";
import { toolFiles, type Cpu, type Files, type Recorder } from "./recorder.js";

const FLAG_RE = /^[a-z0-9_.]+$/;

/** The parsed CPU sources of a capture and the files they came from. */
export interface CpuSources {
  ci?: Cpuinfo;
  ciPath: string;
  ls?: Lscpu;
  lsPaths: string[];
}

function mergeLscpu(parts: Lscpu[]): Lscpu {
  const out: Lscpu = { fields: {}, modelNames: [], problems: [] };
  for (const p of parts) {
    for (const [k, v] of Object.entries(p.fields)) if (!(k in out.fields)) out.fields[k] = v;
    if (out.modelNames.length === 0) out.modelNames.push(...p.modelNames);
  }
  return out;
}

function readCpuSources(files: Files, rec: Recorder): CpuSources {
  const src: CpuSources = { ciPath: "proc/cpuinfo", lsPaths: [] };
  const ciText = files.get("proc/cpuinfo");
  if (ciText !== undefined) {
    const ci = parseCpuinfo(ciText);
    for (const p of ci.problems) rec.msg(`proc/cpuinfo: ${p}`);
    if (ci.processors.length > 0) src.ci = ci;
  }
  // Plain first, then JSON, then --hex: the first source that has a field wins.
  const paths = toolFiles(files, "lscpu").sort((a, b) => rankLscpu(a) - rankLscpu(b));
  const parsed: Lscpu[] = [];
  for (const p of paths) {
    const text = files.get(p)!;
    const l = cleanText(text).trimStart().startsWith("{") ? parseLscpuJson(text) : parseLscpu(text);
    for (const pr of l.problems) rec.msg(`${p}: ${pr}`);
    if (Object.keys(l.fields).length > 0) {
      parsed.push(l);
      src.lsPaths.push(p);
    }
  }
  if (parsed.length > 0) src.ls = mergeLscpu(parsed);
  return src;
}

function rankLscpu(p: string): number {
  if (p === "commands/lscpu.txt") return 0;
  if (/-J|json/i.test(p)) return 1;
  return 2;
}

/** Fill profile.system and profile.cpu from the capture. */
export function detectCpu(files: Files, rec: Recorder, profile: ProfileInput): void {
  const { ci, ciPath, ls, lsPaths } = readCpuSources(files, rec);
  const cpu: Cpu = {};
  const lsArch = ls?.fields["Architecture"];

  // Nix system double.
  let system: ProfileInput["system"];
  let systemFrom: string[] = [];
  if (lsArch === "x86_64") system = "x86_64-linux";
  else if (lsArch === "aarch64") system = "aarch64-linux";
  else if (lsArch === "ppc64le") system = "powerpc64le-linux";
  else if (lsArch === "ppc64") rec.msg(`${lsPaths[0]}: big-endian ppc64 is not a system hwflake plans for`);
  if (system) systemFrom = lsPaths;
  else if (ci?.kind === "x86" && ci.flags) {
    // "lm" (long mode) is how the kernel says the CPU runs 64-bit code.
    if (ci.flags.includes("lm")) system = "x86_64-linux";
    else rec.msg("proc/cpuinfo: x86 CPU without the lm flag (32-bit); no supported system");
    systemFrom = [ciPath];
  } else if (ci?.kind === "arm" && ci.flags?.includes("asimd")) {
    // "asimd" is an arm64 hwcap name; a 32-bit ARM kernel reports "neon" instead.
    system = "aarch64-linux";
    systemFrom = [ciPath];
  } else if (ci?.kind === "power") {
    rec.msg("proc/cpuinfo: POWER CPU, but cpuinfo does not show the byte order; capture lscpu to tell ppc64le from ppc64");
  }
  if (system) {
    profile.system = system;
    rec.fact("system", system, systemFrom);
  }

  // Vendor.
  const kind: Cpuinfo["kind"] =
    ci?.kind && ci.kind !== "unknown"
      ? ci.kind
      : lsArch === "x86_64" || lsArch === "i686"
        ? "x86"
        : lsArch === "aarch64"
          ? "arm"
          : lsArch?.startsWith("ppc")
            ? "power"
            : "unknown";
  const vendorId = ci?.vendorId ?? (kind === "x86" ? ls?.fields["Vendor ID"] : undefined);
  const vendorFrom = ci?.kind === kind && kind !== "unknown" ? [ciPath] : lsPaths;
  if (kind === "x86" && vendorId) {
    cpu.vendor = vendorId === "GenuineIntel" ? "intel" : vendorId === "AuthenticAMD" ? "amd" : "other";
  } else if (kind === "arm") {
    const v = armVendor(ci, ls);
    if (v) {
      cpu.vendor = v.vendor;
      rec.fact("cpu.vendor", v.vendor, v.from === "cpuinfo" ? [ciPath] : lsPaths);
    } else rec.msg("cpu.vendor: Arm implementer not in the capture (no CPU implementer line, no lscpu Vendor ID)");
  } else if (kind === "power") cpu.vendor = "ibm";
  if (cpu.vendor && kind !== "arm") rec.fact("cpu.vendor", cpu.vendor, vendorFrom);

  // Model name.
  let model: string | undefined;
  let modelFrom: string[] = [];
  if (kind === "arm") {
    // Arm kernels rarely print a model name; lscpu names the core from its part number.
    if (ls && ls.modelNames.length > 0) {
      model = ls.modelNames[0];
      modelFrom = lsPaths;
      if (new Set(ls.modelNames).size > 1) rec.msg(`${lsPaths[0]}: several core types (${[...new Set(ls.modelNames)].join(", ")}); model is the first`);
    } else if (ci?.modelName) {
      model = ci.modelName;
      modelFrom = [ciPath];
    }
  } else if (ci?.modelName) {
    model = ci.modelName;
    modelFrom = [ciPath];
  } else if (ls && ls.modelNames.length > 0) {
    model = ls.modelNames[0];
    modelFrom = lsPaths;
  }
  if (model && model !== "-") {
    cpu.model = model;
    rec.fact("cpu.model", model, modelFrom);
    if (/Eng(ineering)? Sample|\b0000%|\bES\b|Genuine Intel\(R\) CPU\s+(0000|\$0000)/i.test(model)) {
      rec.msg(`cpu.model: "${model}" looks like an engineering sample; cpu.arch comes from family/model, not the name`);
    }
  }

  // Flags, normalised to /proc/cpuinfo spelling (lower case). POWER shows none; derive them.
  let flags: string[] | undefined;
  let flagsFrom: string[] = [];
  if (ci?.flags) {
    flags = ci.flags;
    flagsFrom = [ciPath];
    if (ci.flagsDiffer) rec.msg("proc/cpuinfo: CPUs report different flags; using those common to all");
  } else if (ls?.fields["Flags"]) {
    flags = ls.fields["Flags"].split(/\s+/).filter(Boolean);
    flagsFrom = lsPaths;
  }
  // POWER cpuinfo prints no flags line: AltiVec is stated on the cpu line, VSX and the ISA level
  // follow from the generation (POWER_ISA), and the report marks them as derived.
  let flagsDerived: string | undefined;
  if (kind === "power" && ci?.powerGeneration !== undefined) {
    const derived: string[] = [];
    if (ci.altivec) derived.push("altivec");
    if (ci.powerGeneration >= 7) derived.push("vsx");
    flags = [...(flags ?? []), ...derived];
    flagsFrom = [...flagsFrom, ciPath];
    flagsDerived = `${derived.join(", ") || "none"} from "${ci.modelName}": altivec as the cpu line states it, vsx for POWER7 and later (Power ISA 2.06+)`;
    const isa = POWER_ISA[ci.powerGeneration];
    if (isa) {
      cpu.powerIsa = isa;
      rec.fact("cpu.powerIsa", isa, [ciPath], `POWER${ci.powerGeneration} implements Power ISA ${isa}`);
    }
  }
  if (flags) {
    const lower = flags.map((f) => f.toLowerCase());
    const bad = lower.filter((f) => !FLAG_RE.test(f));
    if (bad.length > 0) rec.msg(`${flagsFrom[0]}: dropped unreadable flags: ${bad.slice(0, 5).join(" ")}`);
    flags = [...new Set(lower.filter((f) => FLAG_RE.test(f)))].sort();
    cpu.flags = flags;
    rec.fact("cpu.flags", flags, flagsFrom, flagsDerived);
  }

  // gcc arch.
  let arch: string | undefined;
  let archFrom: string[] = [];
  if (kind === "x86") {
    const family = ci?.family ?? num(ls?.fields["CPU family"]);
    const mdl = ci?.model ?? num(ls?.fields["Model"]);
    const famFrom = ci?.family !== undefined ? [ciPath] : lsPaths;
    if ((cpu.vendor === "amd" || cpu.vendor === "intel") && family !== undefined && mdl !== undefined) {
      arch = gccArchX86(cpu.vendor, family, mdl, flags);
      archFrom = famFrom;
    }
    if (flags) {
      const level = x86Level(flags);
      const need = arch ? ARCH_MIN_LEVEL[arch] : undefined;
      if (arch && need && !levelAtLeast(level, need)) {
        rec.msg(
          `cpu.arch: family ${family} model ${mdl} is ${arch}, but the flags lack ${missingForLevel(flags, need).join(" ")} ` +
            `(a VM masking them, or a kernel too old to report them); using ${level}`,
        );
        arch = level;
        archFrom = flagsFrom;
      } else if (!arch) {
        arch = level;
        archFrom = flagsFrom;
      } else archFrom = [...archFrom, ...flagsFrom];
    }
  } else if (kind === "arm" && ci) {
    if (ci.armImplementer !== undefined && ci.armPart !== undefined) {
      arch = gccArchArm(ci.armImplementer, ci.armPart);
      if (arch) archFrom = [ciPath];
      else rec.msg(`proc/cpuinfo: Arm core implementer 0x${ci.armImplementer.toString(16)} part 0x${ci.armPart.toString(16)} has no known gcc name; set cpu.arch by hand`);
    } else if ((ci.armParts?.length ?? 0) > 1) {
      rec.msg("proc/cpuinfo: several Arm core types (big.LITTLE); cpu.arch left unknown");
    }
  } else if (kind === "power" && ci?.powerGeneration !== undefined) {
    arch = gccArchPower(ci.powerGeneration);
    if (arch) archFrom = [ciPath];
  }
  if (arch) {
    cpu.arch = arch;
    rec.fact("cpu.arch", arch, archFrom);
  }

  detectCpuTopology(files, rec, cpu, { ci, ciPath, ls, lsPaths });

  const numa = detectNuma(files, rec, ls, lsPaths);
  if (numa) {
    cpu.numa = numa.nodes;
    rec.fact("cpu.numa", numa.nodes, numa.from);
    detectSiblings(files, rec, cpu, ci, ciPath);
  }

  profile.cpu = cpu;
}

/**
 * The Arm vendor: the implementer all cores share in cpuinfo, else lscpu's Vendor ID (the name
 * lscpu-arm.c gives the implementer). An implementer hwflake has no name for is "other".
 */
function armVendor(ci: Cpuinfo | undefined, ls: Lscpu | undefined): { vendor: Cpu["vendor"]; from: "cpuinfo" | "lscpu" } | undefined {
  const imps = new Set((ci?.armParts ?? []).map((p) => p.implementer));
  if (imps.size === 1) {
    const name = ARM_IMPLEMENTERS[[...imps][0]!];
    return { vendor: (name ?? "other") as Cpu["vendor"], from: "cpuinfo" };
  }
  const lv = ls?.fields["Vendor ID"]?.toLowerCase();
  if (lv) {
    const known = Object.values(ARM_IMPLEMENTERS);
    return { vendor: (known.includes(lv) ? lv : "other") as Cpu["vendor"], from: "lscpu" };
  }
  return undefined;
}
