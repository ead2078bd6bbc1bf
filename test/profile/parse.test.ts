import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ProfileError } from "../../src/errors.js";
import { parseProfileText, validateProfile } from "../../src/profile/index.js";
import { closest } from "../../src/profile/suggest.js";

const base = { version: 1, host: "h", system: "x86_64-linux" };

function issuesOf(input: unknown): string[] {
  try {
    validateProfile(input, "p.yaml");
  } catch (e) {
    if (e instanceof ProfileError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}

describe("example profiles", () => {
  const dir = join(import.meta.dirname, "..", "..", "examples");
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  it("there are at least three", () => expect(files.length).toBeGreaterThanOrEqual(3));
  it.each(files)("%s validates and carries the yaml-language-server header", (f) => {
    const text = readFileSync(join(dir, f), "utf8");
    expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=../schema/profile.schema.json");
    expect(() => parseProfileText(text, f)).not.toThrow();
  });
});

describe("defaults", () => {
  it("fills engine, on, listen and acceptUnsupported", () => {
    const p = validateProfile({ ...base, serve: [{ name: "a", model: "m", port: 8000 }] });
    expect(p.serve[0]).toMatchObject({ engine: "auto", on: [], listen: "127.0.0.1", acceptUnsupported: false });
    expect(p.cpu).toEqual({});
    expect(p.accelerators).toEqual([]);
  });
  it("JSON is accepted as YAML", () => {
    expect(parseProfileText(JSON.stringify(base), "p.json").host).toBe("h");
  });
});

describe("errors name the path and the fix", () => {
  it.each([
    ["misspelled top-level key", { ...base, acclerators: [] }, 'acclerators: unknown key "acclerators"; did you mean "accelerators"?'],
    ["misspelled serve key", { ...base, serve: [{ name: "a", model: "m", port: 1, engnie: "vllm" }] }, 'serve[0].engnie: unknown key "engnie"; did you mean "engine"?'],
    ["misspelled accelerator key uses the entry's own keys", { ...base, accelerators: [{ id: "g", kind: "gpu", vendor: "amd", arch: "gfx906", uiid: "x" }] }, 'accelerators[0].uiid: unknown key "uiid"; did you mean "uuid"?'],
    ["engine typo", { ...base, serve: [{ name: "a", model: "m", port: 1, engine: "vlm" }] }, 'serve[0].engine: must be one of "auto", "vllm", "llama-cpp", "ollama"; did you mean "vllm"?'],
    ["system typo", { ...base, system: "x86-64-linux" }, 'system: must be one of "x86_64-linux", "aarch64-linux", "powerpc64le-linux"; did you mean "x86_64-linux"?'],
    ["unknown gfx target", { ...base, accelerators: [{ id: "g", kind: "gpu", vendor: "amd", arch: "gfx0906" }] }, 'accelerators[0].arch: unknown AMD gfx target "gfx0906"; did you mean "gfx906"?'],
    ["malformed gfx target", { ...base, accelerators: [{ id: "g", kind: "gpu", vendor: "amd", arch: "MI50" }] }, 'accelerators[0].arch: AMD arch is an LLVM gfx target such as "gfx906" or "gfx1102"'],
    ["unknown CUDA capability", { ...base, accelerators: [{ id: "g", kind: "gpu", vendor: "nvidia", arch: "8.8" }] }, 'accelerators[0].arch: unknown CUDA compute capability "8.8"'],
    ["unknown vendor", { ...base, accelerators: [{ id: "g", kind: "gpu", vendor: "intel", arch: "x" }] }, 'accelerators[0].vendor: must be one of "amd", "nvidia"'],
    ["unknown kind", { ...base, accelerators: [{ id: "g", kind: "fpga" }] }, 'accelerators[0].kind: must be one of "gpu", "tpu", "spyre"'],
    ["misspelled ISA flag", { ...base, cpu: { flags: ["avx2", "avx512bf16"] } }, 'cpu.flags[1]: unknown CPU flag "avx512bf16"; did you mean "avx512_bf16"?'],
    ["missing port", { ...base, serve: [{ name: "a", model: "m" }] }, "serve[0].port: is required (number)"],
    ["dangling accelerator reference", { ...base, accelerators: [{ id: "mi50", kind: "gpu", vendor: "amd", arch: "gfx906" }], serve: [{ name: "a", model: "m", port: 1, on: ["mi5o"] }] }, 'serve[0].on[0]: no accelerator with id "mi5o"; did you mean "mi50"?'],
    ["duplicate port", { ...base, serve: [{ name: "a", model: "m", port: 8000 }, { name: "b", model: "m", port: 8000, listen: "0.0.0.0" }] }, 'serve[1].port: port 8000 is already used by serve[0] ("a"); pick another port'],
    ["duplicate accelerator id", { ...base, accelerators: [{ id: "g", kind: "gpu", vendor: "amd", arch: "gfx906" }, { id: "g", kind: "gpu", vendor: "amd", arch: "gfx90a" }] }, 'accelerators[1].id: accelerator id "g" is used by accelerators [0] and [1]; give each a distinct id'],
    ["mixed vendors in one instance", { ...base, accelerators: [{ id: "a", kind: "gpu", vendor: "amd", arch: "gfx906" }, { id: "n", kind: "gpu", vendor: "nvidia", arch: "8.6" }], serve: [{ name: "x", model: "m", port: 1, on: ["a", "n"] }] }, "serve[0].on: mixes gpu/amd and gpu/nvidia; one server process runs on one kind of device: split it into two serve entries"],
    ["relative apiKeyFile", { ...base, serve: [{ name: "a", model: "m", port: 1, apiKeyFile: "key.txt" }] }, 'serve[0].apiKeyFile: apiKeyFile is an absolute path on the target host, e.g. "/run/secrets/coder-key"'],
    ["wrong version", { ...base, version: 2 }, "version: must be 1"],
  ])("%s", (_name, input, expected) => {
    // Messages may go on (a list of known values, a hint); they must start with the expectation.
    const issues = issuesOf(input);
    expect(issues.some((i) => i.startsWith(expected)), issues.join("\n")).toBe(true);
  });

  it("a document that is not a mapping", () => {
    expect(issuesOf([1, 2])[0]).toMatch(/a profile is a mapping/);
  });
  it("broken YAML names the file", () => {
    expect(() => parseProfileText("version: [1\n", "bad.yaml")).toThrow(/bad\.yaml: invalid profile[\s\S]*not valid YAML/);
  });
  it("duplicate YAML keys are rejected, not silently merged", () => {
    expect(() => parseProfileText("version: 1\nhost: a\nhost: b\n", "dup.yaml")).toThrow(/not valid YAML/);
    expect(() => parseProfileText("version: 1\nhost: a\nserve:\n  - {name: a, port: 1, port: 2}\n", "dup.yaml")).toThrow(
      "serve[0].port: not valid YAML/JSON: this key appears twice in one mapping (again at line 4, column 24); keep one",
    );
  });
  it("flags outside the checked ISA families pass through", () => {
    expect(issuesOf({ ...base, cpu: { flags: ["mce", "svm", "adx", "xsaves", "fpu"] } })).toEqual([]);
  });
});

describe("closest", () => {
  it.each([
    ["acclerators", ["accelerators", "serve"], "accelerators"],
    ["zzz", ["accelerators", "serve"], null],
    ["GFX906", ["gfx906"], "gfx906"],
  ])("%s → %s", (w, c, want) => expect(closest(w, c)).toBe(want));
});
