/** Human-readable plan output for `hwflake plan` and the end of `hwflake generate`. */
import { ENGINE_LABEL } from "../plan/index.js";
import type { BuildSet, Finding, FleetBuildSet, FleetPlan, NixValue, Plan } from "../plan/types.js";
import { nixAttrName, nixString } from "../render/nix.js";
import { forecastTotal, hoursText } from "../render/render.js";

/** A value printed the way the overlay will spell it, on one line. */
export function inlineNix(v: NixValue): string {
  if (v === null) return "null";
  if (typeof v === "string") return nixString(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return v.length ? `[ ${v.map(inlineNix).join(" ")} ]` : "[ ]";
  const entries = Object.entries(v as Record<string, NixValue>);
  return entries.length ? `{ ${entries.map(([k, x]) => `${nixAttrName(k)} = ${inlineNix(x)};`).join(" ")} }` : "{ }";
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  ").trimEnd());
}

/** Word-wrap `text` at `width`, prefixing continuation lines with `indent`. */
function wrap(text: string, indent: string, width = 100): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = "";
  for (const w of words) {
    if (line && line.length + 1 + w.length > width - indent.length) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.join(`\n${indent}`);
}

/** One finding, as `severity CODE subject: message` plus fix and source lines. */
export function formatFinding(f: Finding): string {
  const mark = f.severity === "error" ? "✘ error  " : f.severity === "warning" ? "⚠ warning" : "· info   ";
  const pad = " ".repeat(13);
  const lines = [`  ${mark}  ${f.code}  ${f.subject}`, `${pad}${wrap(f.message, pad)}`];
  if (f.fix) lines.push(`${pad}fix: ${wrap(f.fix, pad + "     ")}`);
  lines.push(`${pad}source: ${wrap(f.source, pad + "        ")}`);
  return lines.join("\n");
}

/** One build set: its config, what it builds for whom, and what that costs before anything runs. */
export function formatSet(set: BuildSet | FleetBuildSet): string[] {
  const who = "hosts" in set ? `${set.system}; hosts ${set.hosts.join(", ")}; ${set.instances.length} instance(s)` : set.instances.join(", ");
  const out = [`  hwflake.${set.name}  (${who})`, `    config: ${inlineNix(set.config.value)}`];
  if (set.rocmGpuTargets) out.push(`    ROCm scope: clr localGpuTargets = ${inlineNix(set.rocmGpuTargets.value)}`);
  if (set.allowUnfreeLicenses) out.push(`    unfree allowed: ${set.allowUnfreeLicenses.value.join(", ")} (this set only)`);
  out.push(`    ${wrap(set.config.reason, "    ")}`);
  for (const p of set.packages) {
    out.push(`    ${p.engine} = ${p.base}.override ${inlineNix(p.args)}`);
    if (Object.keys(p.env).length) out.push(`      env: ${Object.entries(p.env).map(([k, v]) => `${k}=${v}`).join(" ")}`);
    out.push(`      ${wrap(p.reason, "      ")}`);
  }
  const f = set.forecast;
  if (f.compiles.length === 0) out.push(`    ${wrap(`forecast: nothing heavy compiles; ${f.cache}`, "      ")}`);
  else {
    out.push(`    ${wrap(`forecast (compiling before the first start): ${forecastTotal(set)}; ${f.cache}`, "      ")}`);
    for (const c of f.compiles)
      out.push(
        `      - ${wrap(`${c.what}: ${hoursText(c.hours)}${c.diskGB === null ? "" : `, ~${c.diskGB} GB`} (${[c.assumes, ...c.sources.map((s) => s.ref)].join("; ")})`, "        ")}`,
      );
  }
  return out;
}

/** The whole plan as text: what runs where and why, what gets built, and the findings. */
export function formatPlan(plan: Plan, profileModel?: string): string {
  const out: string[] = [];
  out.push(`hwflake plan for host "${plan.host}" (${plan.system})`);
  const level = plan.cpu.x86Level ? `x86-64-v${plan.cpu.x86Level}` : null;
  const cpuBits = [profileModel, level, plan.cpu.gccArch].filter(Boolean).join(", ");
  const has = (f: string) => plan.cpu.relevantFlags.includes(f);
  const isa =
    plan.system === "x86_64-linux" && plan.cpu.relevantFlags.length
      ? `; AVX2 ${has("avx2") ? "yes" : "no"}, AVX-512 ${has("avx512f") ? "yes" : "no"}, AMX ${has("amx_tile") ? "yes" : "no"}`
      : "";
  out.push(`CPU: ${cpuBits || "unknown"}${isa}`);
  out.push("");

  if (plan.instances.length) {
    out.push("Instances");
    const rows = [["  NAME", "ENGINE", "ON", "LISTEN", "PACKAGE"]];
    for (const i of plan.instances)
      rows.push([`  ${i.name}`, ENGINE_LABEL[i.engine], i.on.length ? i.on.join(",") : "cpu", `${i.listen}:${i.port}`, `pkgs.hwflake.${i.buildSet}.${i.engine}`]);
    out.push(...table(rows));
    for (const i of plan.instances) {
      out.push("");
      out.push(`  ${i.name} → ${ENGINE_LABEL[i.engine]} (${i.backend})`);
      out.push(`    why:     ${wrap(i.engineDecision.reason, "             ")}`);
      const model =
        i.model.kind === "hf" ? i.model.id : i.model.kind === "gguf-file" ? i.model.path : i.model.kind === "gguf-repo" ? `${i.model.repo} (-hf)` : i.model.tag;
      out.push(`    model:   ${model}`);
      if (i.pinning) {
        const env = Object.entries(i.pinning.value).map(([k, v]) => `${k}=${v}`).join(" ");
        out.push(`    pin:     ${env}`);
        out.push(`             ${wrap(i.pinning.reason, "             ")}`);
      }
      if (i.extraArgs.length) out.push(`    args:    ${i.extraArgs.join(" ")}`);
      // CPU instances: every binding and tuning number with its arithmetic.
      for (const d of i.cpu?.decisions ?? []) out.push(`    cpu:     ${wrap(`${d.value}: ${d.reason}`, "             ")}`);
      if (i.requiredCpuFeatures) out.push(`    checks:  ${wrap(`${i.requiredCpuFeatures.value.join(", ")} in /proc/cpuinfo at every start (${i.requiredCpuFeatures.reason})`, "             ")}`);
      if (i.apiKeyFile) out.push(`    api key: read from ${i.apiKeyFile} as a systemd credential`);
      out.push(`    sources: ${wrap(i.engineDecision.sources.map((s) => s.ref).join("; "), "             ")}`);
    }
    out.push("");
  } else {
    out.push("Instances: none planned");
    out.push("");
  }

  if (plan.loadBalancers?.length) {
    out.push("Load balancers (nginx, modules/load-balancer.nix)");
    for (const b of plan.loadBalancers) {
      out.push(`  ${b.name}  ${b.listen}:${b.port} → ${b.backends.join(", ")}`);
      out.push(`    why:     ${wrap(b.decision.reason, "             ")}`);
    }
    out.push("");
  }

  if (plan.buildSets.length) {
    out.push("Build sets (build-sets.nix: one package set per hardware class; the host's own packages stay stock)");
    for (const set of plan.buildSets) out.push(...formatSet(set));
    out.push("");
  }

  if (plan.findings.length) {
    out.push("Findings");
    out.push(...plan.findings.map(formatFinding));
    out.push("");
  }
  out.push(
    plan.refused
      ? "Refused: fix the errors above (or accept them explicitly where the fix says so); nothing was generated."
      : "OK: nothing in this plan is known to fail on this hardware.",
  );
  return `${out.join("\n")}\n`;
}

/** A fleet as text: each host in one line, each build set once with its forecast, the problems. */
export function formatFleet(fleet: FleetPlan): string {
  const out: string[] = [`hwflake plan for the ${fleet.name} fleet (${fleet.hosts.length} hosts)`, "", "Hosts"];
  const rows = [["  HOST", "SYSTEM", "INSTANCES", "BUILD SETS", "PLAN"]];
  for (const h of fleet.hosts)
    rows.push([
      `  ${h.host}`,
      h.system,
      h.instances.map((i) => i.name).join(",") || "-",
      [...new Set(h.instances.map((i) => i.buildSet))].join(",") || "-",
      h.refused ? "refused" : "ok",
    ]);
  out.push(...table(rows), "");
  if (fleet.services.length) {
    out.push("Services across hosts (fleet.yaml)");
    for (const svc of fleet.services) {
      out.push(`  ${svc.name} → vLLM on Ray, ${svc.instance.model.kind === "hf" ? svc.instance.model.id : ""}, ${svc.instance.listen}:${svc.instance.port} on ${svc.members[0]!.host}`);
      out.push(`    why:     ${wrap(svc.decision.reason, "             ")}`);
      for (const m of svc.members) out.push(`    ${m.role.padEnd(7)}  ${m.host} (${m.address}) ${Object.entries(m.environment).map(([k, v]) => `${k}=${v}`).join(" ")}`);
      out.push(`    args:    ${svc.instance.extraArgs.join(" ")}`);
      out.push(`    package: pkgs.hwflake.${svc.buildSet}.vllm; Ray nodes run pkgs.hwflake.${svc.buildSet}.ray-env`);
      out.push(`    sources: ${wrap(svc.decision.sources.map((x) => x.ref).join("; "), "             ")}`);
    }
    out.push("");
  }
  if (fleet.buildSets.length) {
    out.push("Build sets (build-sets.nix: one package set per system and hardware class, built once for the fleet)");
    for (const set of fleet.buildSets) out.push(...formatSet(set));
    out.push("");
  }
  const problems = [
    ...fleet.findings.filter((f) => f.severity !== "info").map((f) => ({ host: "fleet.yaml", f })),
    ...fleet.hosts.flatMap((h) => h.findings.filter((f) => f.severity !== "info").map((f) => ({ host: h.host, f }))),
  ];
  if (problems.length) {
    out.push("Findings (errors and warnings; `hwflake plan --profile` shows a host's in full)");
    for (const { host, f } of problems) out.push(`  ${host}:`, formatFinding(f));
    out.push("");
  }
  out.push(
    fleet.refused
      ? "Refused: fix the errors above (or accept them explicitly where the fix says so); nothing was generated."
      : "OK: nothing in this plan is known to fail on this hardware.",
  );
  return `${out.join("\n")}\n`;
}
