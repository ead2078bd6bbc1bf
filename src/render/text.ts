/** Small text helpers shared by the renderers: citations, forecasts and one-line Nix. */
import type { BuildSet, FleetBuildSet, Instance, Plan, Source } from "../plan/types.js";
import { compareCodePoints, nixAttrName, nixString, type NixInput } from "./nix.js";

/** Comment lines for a decision: the reason, then one line per source. */
export function why(reason: string, sources: readonly Source[]): string[] {
  return [reason, ...sources.map((s) => `Source: ${sourceText(s)}`)];
}

/** A source as one line: ref, then the note in parentheses. */
export function sourceText(s: Source): string {
  return s.note ? `${s.ref} (${s.note})` : s.ref;
}

/** Sources joined for a table cell; "-" for none. */
export function sourcesText(sources: readonly Source[]): string {
  return sources.length === 0 ? "-" : sources.map(sourceText).join("; ");
}

/** The forecast in one sentence: what compiles and roughly how long, or that nothing does. */
export function forecastLine(s: BuildSet | FleetBuildSet): string {
  const f = s.forecast;
  if (f.compiles.length === 0) return `Nothing heavy compiles: ${f.cache}.`;
  return `Compiles from source: ${f.compiles.map((c) => c.what).join("; ")} (${forecastTotal(s)}); ${f.cache}.`;
}

/**
 * The cost of a set's compiles: "roughly 1.5–3 h, up to ~35 GB of disk", then the items no
 * source gives a figure for ("no recorded figure for llama.cpp (HIP)").
 */
export function forecastTotal(s: BuildSet | FleetBuildSet): string {
  const f = s.forecast;
  const parts: string[] = [];
  if (f.hours[1] > 0) parts.push(`roughly ${hoursText(f.hours)}`);
  if (f.diskGB > 0) parts.push(`up to ~${f.diskGB} GB of disk`);
  if (f.unmeasured.length) parts.push(parts.length ? `no recorded figure for ${f.unmeasured.join(", ")}` : "no recorded build time");
  return parts.join(", ");
}

/** "2–6 h" or "30–60 min" for a range in hours; "no recorded figure" for null. */
export function hoursText(range: readonly [number, number] | null): string {
  if (!range) return "no recorded figure";
  const [lo, hi] = range;
  const min = (x: number) => `${Math.round(x * 60)} min`;
  const h = (x: number) => `${Math.round(x * 10) / 10} h`;
  if (lo === hi) return hi < 1 ? min(hi) : h(hi);
  if (hi < 1) return `${Math.round(lo * 60)}–${min(hi)}`;
  return lo < 1 ? `${min(lo)}–${h(hi)}` : `${Math.round(lo * 10) / 10}–${h(hi)}`;
}

/** Instances sorted by name (code-point order), as every generated file lists them. */
export function byName(instances: readonly Instance[]): Instance[] {
  return [...instances].sort((a, b) => compareCodePoints(a.name, b.name));
}

/** "rocm (mi50)" or "cpu". */
export function deviceText(i: Instance): string {
  return i.on.length === 0 ? i.backend : `${i.backend} (${i.on.join(", ")})`;
}

/** What the instance loads, as the user wrote it. */
export function modelText(i: Instance): string {
  switch (i.model.kind) {
    case "hf":
      return i.model.id;
    case "gguf-file":
      return i.model.path;
    case "gguf-repo":
      return i.model.repo;
    case "ollama":
      return i.model.tag;
  }
}

/** A Nix value on one line, for README tables (the .nix files use the multi-line printer). */
export function oneLineNix(v: NixInput): string {
  if (v === null || typeof v !== "object") return typeof v === "string" ? nixString(v) : String(v);
  if (Array.isArray(v)) return v.length === 0 ? "[ ]" : `[ ${(v as readonly NixInput[]).map(oneLineNix).join(" ")} ]`;
  const rec = v as { readonly [k: string]: NixInput };
  const keys = Object.keys(rec).sort(compareCodePoints);
  return keys.length === 0 ? "{ }" : `{ ${keys.map((k) => `${nixAttrName(k)} = ${oneLineNix(rec[k] as NixInput)};`).join(" ")} }`;
}

/** The flake output name of a set's engine package ("llama-cpp-rocm-gfx906"). */
export function outputName(set: string, engine: string): string {
  return `${engine}-${set}`;
}

/** `nix run .#<app>` name of an instance. */
export function appName(host: string, instance: string, oneHost: boolean): string {
  return oneHost ? instance : `${host}-${instance}`;
}

/** True unless the profile says the host runs NixOS: an unknown OS gets both paths. */
export function needsSystemManager(plan: Plan): boolean {
  return plan.os?.id !== "nixos";
}
