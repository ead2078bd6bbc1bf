# services.hwflake.loadBalancers.<name>: one address in front of several inference servers of
# this host (the per-NUMA-node servers of a data-parallel CPU instance, seed 004), run by
# nixpkgs' services.nginx: an upstream of the backends with least connections and passive
# health checks, and a virtual host on `host`:`port` that streams responses unbuffered.
# Option names as in nixpkgs nixos/modules/services/web-servers/nginx/default.nix @ 000007c1
# (upstreams.<name>.servers / extraConfig) and vhost-options.nix @ 0050271e (listen,
# locations.<path>.proxyPass / extraConfig).
#
# The API key stays with the engines: nginx passes the Authorization header through unchanged,
# so each backend checks it as it would without nginx, and the key never reaches nginx's
# configuration (which is in the world-readable store).
{ config, lib, options, ... }:

let
  inherit (lib)
    attrNames
    concatStringsSep
    filterAttrs
    listToAttrs
    mapAttrs'
    mapAttrsToList
    mkIf
    mkOption
    nameValuePair
    types
    ;

  cfg = config.services.hwflake;
  hwlib = import ./lib { inherit lib; };
  enabled = filterAttrs (_: lb: lb.enable) cfg.loadBalancers;
  instances = filterAttrs (_: inst: inst.enable) cfg.instances;

  upstreamName = name: "hwflake-${name}";
  # nginx wants IPv6 literals in brackets, in `listen` and in upstream `server` lines alike.
  backendAddress = b: hwlib.hostPort (hwlib.clientHost instances.${b}.host) instances.${b}.port;
  listenAddress =
    host:
    let
      bare = lib.removeSuffix "]" (lib.removePrefix "[" host);
    in
    if host == "" then "0.0.0.0" else if lib.hasInfix ":" bare then "[${bare}]" else host;
  isLoopback = host: builtins.elem host [ "127.0.0.1" "::1" "[::1]" "localhost" ];

  lbOptions = {
    options = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Whether to run this load balancer.";
      };
      host = mkOption {
        type = types.str;
        default = "127.0.0.1";
        description = "Address nginx listens on for this load balancer.";
      };
      port = mkOption {
        type = types.port;
        description = "Port nginx listens on; clients use it as they would one server's.";
      };
      backends = mkOption {
        type = types.listOf types.str;
        example = [
          "chat-node0"
          "chat-node1"
        ];
        description = "Names of services.hwflake.instances that serve the requests; they should listen on loopback.";
      };
      openFirewall = mkOption {
        type = types.bool;
        default = false;
        description = "Whether to open `port` in the firewall.";
      };
    };
  };

  prefix = name: "services.hwflake.loadBalancers.${name}: ";

  lbAssertions =
    name: lb:
    let
      unknown = builtins.filter (b: !(instances ? ${b})) lb.backends;
      exposed = builtins.filter (b: instances ? ${b} && !isLoopback instances.${b}.host) lb.backends;
      clashes = attrNames (filterAttrs (_: inst: hwlib.listenersClash lb inst) instances);
    in
    [
      {
        assertion = lb.backends != [ ];
        message = "${prefix name}no backends; list the instances it balances.";
      }
      {
        assertion = unknown == [ ];
        message = "${prefix name}backends ${concatStringsSep ", " unknown} are not enabled services.hwflake.instances.";
      }
      {
        assertion = exposed == [ ];
        message = "${prefix name}backends ${concatStringsSep ", " exposed} listen beyond loopback; let them listen on 127.0.0.1 so clients go through nginx.";
      }
      {
        assertion = clashes == [ ];
        message = "${prefix name}${hwlib.hostPort lb.host lb.port} is also used by instance ${concatStringsSep ", " clashes}; give the load balancer its own port.";
      }
    ];

  # NixOS has services.nginx; system-manager (hosts that are not NixOS) has not.
  hasNginx = options ? services.nginx;
in
{
  _class = "nixos";

  # The per-node servers behind one load balancer answer to their entry's model name, so a
  # client asks for the same model whichever backend nginx picks (vLLM --served-model-name,
  # llama-server --alias; read by ./engines.nix).
  options.services.hwflake.instances = mkOption {
    type = types.attrsOf (
      types.submodule (
        { name, ... }:
        {
          options.servedModelName = mkOption {
            type = types.str;
            default = name;
            defaultText = lib.literalExpression "<instance name>";
            description = "Model name the server answers to (vLLM `--served-model-name`, llama-server `--alias`).";
          };
        }
      )
    );
  };

  options.services.hwflake.loadBalancers = mkOption {
    type = types.attrsOf (types.submodule lbOptions);
    default = { };
    description = "nginx load balancers in front of several instances, e.g. one inference server per NUMA node.";
  };

  config = mkIf (enabled != { }) ({
    assertions = lib.concatLists (mapAttrsToList lbAssertions enabled) ++ [
      {
        # system-manager (hosts that are not NixOS) has no services.nginx.
        assertion = hasNginx;
        message = "services.hwflake.loadBalancers (${lib.concatStringsSep ", " (lib.attrNames enabled)}) need NixOS's services.nginx, which this system has not; serve each entry with parallel = \"tensor\" (one server) or run nginx yourself in front of the per-node servers.";
      }
    ];
  } // lib.optionalAttrs hasNginx {
    services.nginx = {
      enable = true;
      upstreams = mapAttrs' (
        name: lb:
        nameValuePair (upstreamName name) {
          # Passive health checks: after 2 failed attempts a server gets no requests for 30 s.
          servers = listToAttrs (
            map (b: nameValuePair (backendAddress b) {
              max_fails = 2;
              fail_timeout = "30s";
            }) (builtins.filter (b: instances ? ${b}) lb.backends)
          );
          # Requests take seconds to minutes, so the server with the fewest in flight gets the
          # next one; idle connections to the backends are kept open.
          extraConfig = ''
            least_conn;
            keepalive 16;
          '';
        }
      ) enabled;

      virtualHosts = mapAttrs' (
        name: lb:
        nameValuePair (upstreamName name) {
          listen = [
            {
              addr = listenAddress lb.host;
              inherit (lb) port;
            }
          ];
          locations."/" = {
            proxyPass = "http://${upstreamName name}";
            # Streamed completions (server-sent events) go out token by token, and one long
            # generation can take many minutes: no buffering, one-hour timeouts, large prompts.
            extraConfig = ''
              proxy_http_version 1.1;
              proxy_set_header Connection "";
              proxy_buffering off;
              proxy_request_buffering off;
              proxy_read_timeout 1h;
              proxy_send_timeout 1h;
              client_max_body_size 64m;
            '';
          };
        }
      ) enabled;
    };
  } // {
    networking.firewall.allowedTCPPorts = mapAttrsToList (_: lb: lb.port) (filterAttrs (_: lb: lb.openFirewall) enabled);
  });
}
