/**
 * The fleet README: hosts with the same plan (apart from their names and device IDs) are one
 * group, described once, so the README of a thousand twins is as long as that of one host plus
 * their names, while the per-host files stay one per host.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planFleet } from "../../src/plan/index.js";
import { parseProfileText } from "../../src/profile/index.js";
import { renderFleet } from "../../src/render/render.js";
import { REPO_ROOT } from "../helpers/nix.js";
import { RENDER_OPTS } from "./fixtures.js";

const example = (name: string) => readFileSync(join(REPO_ROOT, "examples", name), "utf8");

/** The example as host `host`, its GPU UUIDs made the host's own (as on real twins). */
function twin(text: string, host: string, n: number) {
  const out = text
    .replace(/^host: .*$/m, `host: ${host}`)
    .replace(/uuid: GPU-[0-9a-f]{16}$/gm, (_m) => `uuid: GPU-${n.toString(16).padStart(16, "0")}`);
  return { file: `${host}.yaml`, profile: parseProfileText(out, `${host}.yaml`) };
}

function readme(hosts: ReturnType<typeof twin>[]): string {
  return renderFleet(planFleet("lab", hosts), RENDER_OPTS).find((f) => f.path === "README.md")!.contents;
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe("fleet README groups", () => {
  const mi50 = example("mi50-desktop.yaml");
  const xeon = example("cpu-xeon-2s.yaml");

  it("twins are one group: their names in the hosts table, their plan once", () => {
    const md = readme([twin(mi50, "a1", 1), twin(mi50, "a2", 2), twin(mi50, "a3", 3), twin(xeon, "x1", 4)]);
    expect(md).toContain("4 hosts in 2 groups");
    expect(md).toContain("| `a1`, `a2`, `a3` | `x86_64-linux` | coder | rocm-gfx906 | ok |");
    expect(md).toContain("### Host `a1` and 2 more with the same plan");
    expect(md).toContain("### Host `x1`\n");
    // The MI50's decision row appears once, not once per twin.
    expect(count(md, "| `coder` | llama-cpp | rocm (mi50) |")).toBe(1);
    // Findings name the group; set tables name groups rather than every host.
    expect(md).toMatch(/\| a1 and 2 more like it \| info \| `ACCELERATOR_UNUSED` \|/);
    expect(md).toMatch(/\| `rocm-gfx906` \| `x86_64-linux` \| rocm \|[^\n]*\| a1 and 2 more like it \|/);
    // Commands are shown for the group's first host.
    expect(md).toContain("nix run .#a1-coder");
    expect(md).not.toContain("nix run .#a2-coder");
  });

  it("a host whose plan differs in anything shown is a group of its own", () => {
    const other = twin(mi50.replace(/port: 8000/, "port: 8100"), "b", 9);
    const md = readme([twin(mi50, "a1", 1), twin(mi50, "a2", 2), other]);
    expect(md).toContain("3 hosts in 2 groups");
    expect(md).toContain("### Host `a1` and 1 more with the same plan");
    expect(md).toContain("### Host `b`\n");
    expect(count(md, "| `coder` | llama-cpp | rocm (mi50) |")).toBe(2);
  });

  it("CPU twins whose placement differs (less memory on a node: a smaller KV cache) are two groups", () => {
    const small = twin(xeon.replace("memoryMiB: 131072", "memoryMiB: 65536"), "x3", 3);
    const md = readme([twin(xeon, "x1", 1), twin(xeon, "x2", 2), small]);
    expect(md).toContain("3 hosts in 2 groups");
    expect(md).toContain("### Host `x3`\n");
    expect(count(md, "#### CPU placement")).toBe(2);
  });

  it("with no twins there are no groups to explain, one section per host", () => {
    const md = readme([twin(mi50, "a", 1), twin(xeon, "x", 2)]);
    expect(md).not.toMatch(/hosts in \d+ groups/);
    expect(md).toContain("### Host `a`\n");
    expect(md).toContain("### Host `x`\n");
  });

  it("grows by host names only: 400 twins cost a few KB more than 4", () => {
    const of = (n: number) => readme(Array.from({ length: n }, (_, i) => twin(xeon, `h${String(i).padStart(4, "0")}`, i)));
    const small = of(4);
    const big = of(400);
    expect(big).toContain("400 hosts in 1 groups");
    // Every extra host adds its name to the hosts table, the set table stays one group: ~8 bytes each.
    expect(big.length - small.length).toBeLessThan(396 * 12);
    expect(count(big, "#### CPU placement")).toBe(1);
  });
});
