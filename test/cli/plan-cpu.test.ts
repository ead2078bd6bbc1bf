/** `hwflake plan` text for CPU serving: every binding and number with its reason, and the load balancers. */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatPlan } from "../../src/cli/format.js";
import { parseProfileText } from "../../src/profile/index.js";
import { planHost } from "../../src/plan/index.js";

const plan = (name: string) => {
  const file = join(import.meta.dirname, "..", "..", "examples", `${name}.yaml`);
  return planHost(parseProfileText(readFileSync(file, "utf8"), file));
};

describe("hwflake plan, CPU serving", () => {
  const text = formatPlan(plan("cpu-xeon-2s")).replace(/\n\s{13}/g, " ");
  it("prints each per-node server's binding, threads, KV cache with its arithmetic, and start-up check", () => {
    expect(text).toContain("cpu:     CPUAffinity=0-13,41: node 0: 14 physical cores;");
    expect(text).toContain("cpu:     VLLM_CPU_OMP_THREADS_BIND=0-13|14-25:");
    expect(text).toMatch(/VLLM_CPU_KVCACHE_SPACE=42: each rank's node .* − 72\.5 GiB of weights = 42\.7 GiB, rounded down to 42 GiB/);
    expect(text).toContain("checks:  avx2 in /proc/cpuinfo at every start");
  });
  it("lists the load balancers with their backends and why", () => {
    expect(text).toContain("Load balancers (nginx, modules/load-balancer.nix)");
    expect(text).toContain("chat  127.0.0.1:8000 → chat-node0, chat-node1");
    expect(text).toContain("least_conn");
  });
});
