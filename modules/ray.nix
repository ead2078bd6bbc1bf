# services.hwflake.ray: the Ray nodes of a model served across hosts (vLLM's multi-node
# backend). NixOS has no Ray module, so hwflake runs `ray start --block` as its own unit: the
# head on the first host, workers on the others, each from a Python that imports the build
# set's vLLM (Ray starts vLLM's workers with the node's own interpreter). The members accept
# every TCP connection from each other and nothing else for Ray: NCCL connects ranks on
# ephemeral ports that cannot be pinned (NVIDIA/nccl#388).
{
  config,
  lib,
  options,
  ...
}:

let
  inherit (lib)
    concatMapStringsSep
    concatStringsSep
    filterAttrs
    mapAttrs'
    mapAttrsToList
    mkIf
    mkMerge
    mkOption
    nameValuePair
    types
    ;

  cfg = config.services.hwflake.ray;
  hwlib = import ./lib { inherit lib; };
  inherit (import ./lib/hardening.nix { inherit lib; }) hardening;

  isIPv6 = lib.hasInfix ":";

  nodeModule = {
    options = {
      role = mkOption {
        type = types.enum [
          "head"
          "worker"
        ];
        description = "The head runs Ray's GCS (and, by hwflake's convention, the vLLM server); workers join it.";
      };
      nodeAddress = mkOption {
        type = types.str;
        example = "10.0.0.11";
        description = "This node's address as the other members reach it (Ray's --node-ip-address, vLLM's VLLM_HOST_IP).";
      };
      headAddress = mkOption {
        type = types.str;
        example = "10.0.0.11";
        description = "The head's address.";
      };
      port = mkOption {
        type = types.port;
        default = 6379;
        description = "The head's GCS port (ray start --port).";
      };
      peers = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "The other members' addresses: the firewall accepts TCP from them, and only them.";
      };
      package = mkOption {
        type = types.package;
        description = "A Python environment with Ray and the build set's vLLM (pkgs.hwflake.<set>.ray-env).";
      };
      gpu = mkOption {
        type = types.enum [
          "none"
          "amd"
          "nvidia"
        ];
        default = "none";
        description = "GPU vendor the node may access.";
      };
      environment = mkOption {
        type = types.attrsOf types.str;
        default = { };
        description = "Device pinning and engine settings; Ray's workers inherit them.";
      };
    };
  };

  hostPort = addr: port: if isIPv6 addr then "[${addr}]:${toString port}" else "${addr}:${toString port}";

  rayArgs =
    node:
    [
      "start"
      # Foreground: systemd supervises it; Ray exits when one of its processes dies.
      "--block"
      "--node-ip-address=${node.nodeAddress}"
      # The dashboard needs ray[default]'s extra dependencies and a port nobody asked for.
      "--include-dashboard=false"
    ]
    ++ (
      if node.role == "head" then
        [
          "--head"
          "--port=${toString node.port}"
        ]
      else
        [ "--address=${hostPort node.headAddress node.port}" ]
    );

  unitFor =
    name: node:
    nameValuePair "hwflake-ray-${name}" {
      description = "hwflake Ray ${node.role} for ${name}";
      wantedBy = [ "multi-user.target" ];
      after = [ "network-online.target" ];
      wants = [ "network-online.target" ];
      environment = {
        HOME = "/var/lib/hwflake-ray-${name}";
        # Ray keeps its session (sockets, logs, the object spill) under RAY_TMPDIR or /tmp.
        RAY_TMPDIR = "/var/cache/hwflake-ray-${name}";
      }
      // node.environment;
      serviceConfig = hardening node.gpu [ "@resources" ] // {
        Type = "simple";
        ExecStart = hwlib.execLine "${node.package}/bin/ray" (rayArgs node);
        DynamicUser = true;
        StateDirectory = "hwflake-ray-${name}";
        CacheDirectory = "hwflake-ray-${name}";
        WorkingDirectory = "/var/lib/hwflake-ray-${name}";
        # Raylet and the workers read /proc for resources and JIT-compile (torch, Triton).
        ProcSubset = "all";
        MemoryDenyWriteExecute = false;
        # Ray's own sockets and the vLLM workers' shared memory live in AF_UNIX/AF_NETLINK.
        RestrictAddressFamilies = [
          "AF_INET"
          "AF_INET6"
          "AF_UNIX"
          "AF_NETLINK"
        ];
        Restart = "on-failure";
        RestartSec = "30s";
      };
    };

  heads = filterAttrs (_: node: node.role == "head") cfg;

  # NixOS's firewall options; system-manager (hosts that are not NixOS) has none, and there the
  # host's own firewall must admit the peers (the generated README says so).
  hasFirewall = options ? networking.firewall.extraCommands;

  # Accept TCP from the members only; nftables or iptables, whichever the host's firewall uses.
  nftRules = concatStringsSep "\n" (
    mapAttrsToList (
      name: node:
      concatMapStringsSep "\n" (
        peer: "${if isIPv6 peer then "ip6" else "ip"} saddr ${peer} meta l4proto tcp accept comment \"hwflake-ray-${name}\""
      ) node.peers
    ) cfg
  );
  iptablesRules = concatStringsSep "\n" (
    mapAttrsToList (
      _: node:
      concatMapStringsSep "\n" (
        peer: "${if isIPv6 peer then "ip6tables" else "iptables"} -A nixos-fw -p tcp -s ${peer} -j nixos-fw-accept"
      ) node.peers
    ) cfg
  );
in
{
  options.services.hwflake.ray = mkOption {
    type = types.attrsOf (types.submodule nodeModule);
    default = { };
    description = ''
      Ray nodes of services served across hosts, keyed by service name; each becomes the unit
      `hwflake-ray-<name>`. On the head, the instance `<name>` (the vLLM server) starts after it.
    '';
  };

  config = mkIf (cfg != { }) (mkMerge [
    {
      assertions = mapAttrsToList (name: node: {
        assertion = node.role == "worker" || node.nodeAddress == node.headAddress;
        message = "services.hwflake.ray.${name}: the head's nodeAddress (${node.nodeAddress}) must be its headAddress (${node.headAddress}).";
      }) cfg;
      systemd.services =
        mapAttrs' unitFor cfg
        # The vLLM server joins the cluster through RAY_ADDRESS once the head is up.
        // mapAttrs' (
          name: _:
          nameValuePair "hwflake-${name}" {
            after = [ "hwflake-ray-${name}.service" ];
            requires = [ "hwflake-ray-${name}.service" ];
          }
        ) (filterAttrs (name: _: config.services.hwflake.instances ? ${name}) heads);
    }
    (lib.optionalAttrs hasFirewall {
      networking.firewall.extraInputRules = mkIf config.networking.nftables.enable nftRules;
      networking.firewall.extraCommands = mkIf (!config.networking.nftables.enable) iptablesRules;
    })
  ]);
}
