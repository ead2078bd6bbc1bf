# Typed stand-ins for the NixOS options a NixOS test node sets besides the module library's
# own (nixos/modules/system/etc/etc.nix, nixos/modules/config/system-path.nix,
# nixos/modules/virtualisation/qemu-vm.nix).
{ lib, ... }:
{
  options = {
    environment.etc = lib.mkOption {
      type = lib.types.attrsOf (
        lib.types.submodule {
          options.text = lib.mkOption { type = lib.types.lines; };
        }
      );
      default = { };
    };
    environment.systemPackages = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = [ ];
    };
    virtualisation = {
      memorySize = lib.mkOption { type = lib.types.ints.positive; };
      cores = lib.mkOption { type = lib.types.ints.positive; };
      diskSize = lib.mkOption { type = lib.types.ints.positive; };
    };
  };
}
