# The hwflake NixOS module library: `imports = [ hwflake.nixosModules.default ]` or
# `imports = [ ./modules ]` brings in every option under services.hwflake.
{
  imports = [
    ./accelerators.nix
    ./build-sets.nix
    ./doctor.nix
    ./inference.nix
  ];
}
