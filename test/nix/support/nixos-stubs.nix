# Typed stand-ins for the NixOS options the hwflake module library sets, so the library can
# be evaluated with lib.evalModules alone (no nixpkgs checkout in tests). Types follow
# NixOS closely enough that a wrong kind of value (a derivation where a string belongs, an
# attrset in a list of strings) fails here too.
{ lib, ... }:

let
  inherit (lib) mkOption types;

  # NixOS unitOption accepts bools, ints, strings and lists of them, and merges like
  # nixos/lib/systemd-unit-options.nix `unitOption`: when any definition is a list, all of them
  # are concatenated (so several modules can each add an ExecStartPre= line); otherwise the
  # definitions must agree.
  unitValue =
    let
      checked = types.oneOf [
        types.bool
        types.int
        types.str
        (types.listOf types.str)
      ];
    in
    lib.mkOptionType {
      name = "systemd option";
      inherit (checked) check;
      merge =
        loc: defs:
        if lib.any (def: lib.isList def.value) defs then
          lib.concatMap (def: lib.toList def.value) defs
        else
          lib.mergeEqualOption loc defs;
    };

  unitNames = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };

  serviceModule = {
    options = {
      description = mkOption {
        type = types.str;
        default = "";
      };
      wantedBy = unitNames;
      after = unitNames;
      wants = unitNames;
      requires = unitNames;
      bindsTo = unitNames;
      partOf = unitNames;
      environment = mkOption {
        type = types.attrsOf types.str;
        default = { };
      };
      serviceConfig = mkOption {
        type = types.attrsOf unitValue;
        default = { };
      };
      unitConfig = mkOption {
        type = types.attrsOf unitValue;
        default = { };
      };
    };
  };
  # nixos/lib/systemd-unit-options.nix socketOptions: listenStreams and socketConfig.
  socketModule = {
    options = {
      description = mkOption {
        type = types.str;
        default = "";
      };
      wantedBy = unitNames;
      listenStreams = unitNames;
      socketConfig = mkOption {
        type = types.attrsOf unitValue;
        default = { };
      };
      unitConfig = mkOption {
        type = types.attrsOf unitValue;
        default = { };
      };
    };
  };
in
{
  options = {
    assertions = mkOption {
      type = types.listOf (
        types.submodule {
          options = {
            assertion = mkOption { type = types.bool; };
            message = mkOption { type = types.str; };
          };
        }
      );
      default = [ ];
    };

    # nixpkgs nixos/modules/system/activation/activation-script.nix `scriptType` (read through
    # the code index from copies of that file with supportsDryActivation; the NixOS/nixpkgs
    # snapshots stored there, 04da25cd and 12424157, are older and type it attrsOf unspecified).
    system.activationScripts = mkOption {
      type = types.attrsOf (
        types.either types.str (
          types.submodule {
            options = {
              deps = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              text = mkOption { type = types.lines; };
              supportsDryActivation = mkOption {
                type = types.bool;
                default = false;
              };
            };
          }
        )
      );
      default = { };
    };

    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };

    systemd.services = mkOption {
      type = types.attrsOf (types.submodule serviceModule);
      default = { };
    };

    # nixos/modules/services/networking/firewall-iptables.nix @ db59d033 (extraCommands) and
    # firewall-nftables.nix @ ed163c87 (extraInputRules); nftables.enable from
    # nixos/modules/services/networking/nftables.nix. Both rule options are `lines`.
    networking.nftables.enable = mkOption {
      type = types.bool;
      default = false;
    };
    networking.firewall.extraCommands = mkOption {
      type = types.lines;
      default = "";
    };
    networking.firewall.extraInputRules = mkOption {
      type = types.lines;
      default = "";
    };

    # nixpkgs nixos/modules/services/web-servers/nginx/default.nix @ 000007c1 (enable,
    # upstreams.<name>.servers with freeform server parameters and `backup`, extraConfig) and
    # vhost-options.nix @ 0050271e (listen, locations); location options as mkLocations in
    # default.nix reads them (proxyPass, extraConfig). Only the options hwflake sets.
    services.nginx = {
      enable = mkOption {
        type = types.bool;
        default = false;
      };
      upstreams = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = {
              servers = mkOption {
                type = types.attrsOf (
                  types.submodule {
                    freeformType = types.attrsOf (
                      types.oneOf [
                        types.bool
                        types.int
                        types.str
                      ]
                    );
                    options.backup = mkOption {
                      type = types.bool;
                      default = false;
                    };
                  }
                );
                default = { };
              };
              extraConfig = mkOption {
                type = types.lines;
                default = "";
              };
            };
          }
        );
        default = { };
      };
      virtualHosts = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = {
              listen = mkOption {
                type = types.listOf (
                  types.submodule {
                    options = {
                      addr = mkOption { type = types.str; };
                      port = mkOption {
                        type = types.nullOr types.port;
                        default = null;
                      };
                      ssl = mkOption {
                        type = types.bool;
                        default = false;
                      };
                      proxyProtocol = mkOption {
                        type = types.bool;
                        default = false;
                      };
                      extraParameters = mkOption {
                        type = types.listOf types.str;
                        default = [ ];
                      };
                    };
                  }
                );
                default = [ ];
              };
              locations = mkOption {
                type = types.attrsOf (
                  types.submodule {
                    options = {
                      proxyPass = mkOption {
                        type = types.nullOr types.str;
                        default = null;
                      };
                      extraConfig = mkOption {
                        type = types.lines;
                        default = "";
                      };
                    };
                  }
                );
                default = { };
              };
              extraConfig = mkOption {
                type = types.lines;
                default = "";
              };
            };
          }
        );
        default = { };
      };
    };

    systemd.sockets = mkOption {
      type = types.attrsOf (types.submodule socketModule);
      default = { };
    };

    networking.firewall.allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
    };

    nixpkgs.overlays = mkOption {
      type = types.listOf (
        types.mkOptionType {
          name = "nixpkgs-overlay";
          check = lib.isFunction;
          merge = lib.mergeOneOption;
        }
      );
      default = [ ];
    };

    # nixpkgs evaluates `config` as a module (pkgs/top-level/config.nix), so priorities such
    # as mkDefault inside it take effect there; a freeform submodule models that.
    nixpkgs.config = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf types.anything;
        options = {
          cudaCapabilities = mkOption {
            type = types.listOf types.str;
            default = [ ];
          };
          cudaForwardCompat = mkOption {
            type = types.bool;
            default = true;
          };
        };
      };
      default = { };
    };
  };
}
