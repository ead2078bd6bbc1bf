/** services.hwflake.ray: Ray nodes as units, the head before the server, and peer-only firewall rules. */
import { describe, expect, it } from "vitest";
import { skipNix } from "../helpers/nix.js";
import { evalHost, evalHostError } from "./support/eval.js";
import { argv } from "./support/systemd.js";

const node = (role: "head" | "worker", extra = "") => `{
  services.hwflake.ray.big = {
    role = "${role}";
    nodeAddress = "${role === "head" ? "10.0.0.1" : "10.0.0.2"}";
    headAddress = "10.0.0.1";
    peers = [ "${role === "head" ? "10.0.0.2" : "10.0.0.1"}" "fd00::9" ];
    package = pkgs.vllm;
    gpu = "nvidia";
    environment.CUDA_VISIBLE_DEVICES = "0,1";
  };
  ${extra}
}`;

type Unit = { ExecStart: string; environment: Record<string, string>; after: string[]; requires: string[]; DeviceAllow: string[] };
const select = `{
  units = lib.mapAttrs (_: s: { inherit (s) environment after requires; inherit (s.serviceConfig) ExecStart; DeviceAllow = s.serviceConfig.DeviceAllow or [ ]; }) c.systemd.services;
  iptables = c.networking.firewall.extraCommands;
  nft = c.networking.firewall.extraInputRules;
  failed = failedAssertions;
}`;

describe.skipIf(skipNix)("services.hwflake.ray", () => {
  it("the head runs `ray start --block --head` on its address and port, with the GPUs pinned", () => {
    const r = evalHost<{ units: Record<string, Unit>; failed: string[] }>(node("head"), select);
    expect(r.failed).toEqual([]);
    const u = r.units["hwflake-ray-big"]!;
    expect(argv(u.ExecStart).slice(1)).toEqual(["start", "--block", "--node-ip-address=10.0.0.1", "--include-dashboard=false", "--head", "--port=6379"]);
    expect(u.environment).toMatchObject({ CUDA_VISIBLE_DEVICES: "0,1", RAY_TMPDIR: "/var/cache/hwflake-ray-big" });
    expect(u.DeviceAllow).toContain("char-nvidia-uvm");
  });
  it("a worker joins the head's address", () => {
    const r = evalHost<{ units: Record<string, Unit> }>(node("worker"), select);
    expect(argv(r.units["hwflake-ray-big"]!.ExecStart)).toContain("--address=10.0.0.1:6379");
  });
  it("on the head, the vLLM server starts after and with the Ray head", () => {
    const r = evalHost<{ units: Record<string, Unit> }>(
      node("head", `services.hwflake.instances.big = { engine = "vllm"; model = "m/m"; host = "0.0.0.0"; port = 9000; network = "host"; };`),
      select,
    );
    expect(r.units["hwflake-big"]).toMatchObject({ after: expect.arrayContaining(["hwflake-ray-big.service"]), requires: expect.arrayContaining(["hwflake-ray-big.service"]) });
    // It reaches the cluster: no private network namespace, no loopback-only NCCL, no proxy.
    expect(r.units["hwflake-big"]!.environment).not.toHaveProperty("NCCL_SOCKET_IFNAME");
    expect(r.units["hwflake-big-proxy"]).toBeUndefined();
  });
  it("the iptables firewall accepts TCP from the peers only", () => {
    const r = evalHost<{ iptables: string; nft: string }>(node("head"), select);
    expect(r.iptables.split("\n")).toEqual(["iptables -A nixos-fw -p tcp -s 10.0.0.2 -j nixos-fw-accept", "ip6tables -A nixos-fw -p tcp -s fd00::9 -j nixos-fw-accept"]);
    expect(r.nft).toBe("");
  });
  it("with nftables, the same as input-allow rules", () => {
    const r = evalHost<{ iptables: string; nft: string }>(node("head", "networking.nftables.enable = true;"), select);
    expect(r.nft.split("\n")).toEqual([
      'ip saddr 10.0.0.2 meta l4proto tcp accept comment "hwflake-ray-big"',
      'ip6 saddr fd00::9 meta l4proto tcp accept comment "hwflake-ray-big"',
    ]);
    expect(r.iptables).toBe("");
  });
  it("a head whose address is not the head address fails with the two addresses", () => {
    const r = evalHost<{ failed: string[] }>(node("head").replace('headAddress = "10.0.0.1"', 'headAddress = "10.0.0.7"'), select);
    expect(r.failed.join("\n")).toContain("services.hwflake.ray.big: the head's nodeAddress (10.0.0.1) must be its headAddress (10.0.0.7)");
  });
  it("an unknown role is a type error naming the option", () => {
    expect(evalHostError(node("head").replace('role = "head"', 'role = "boss"'), select)).toMatch(/services\.hwflake\.ray\.big\.role/);
  });
});
