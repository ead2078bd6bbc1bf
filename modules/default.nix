# The hwflake NixOS module library: `imports = [ hwflake.nixosModules.default ]` or
# `imports = [ ./modules ]` brings in every option under services.hwflake.
{
  imports = [
    ./build-sets.nix
    ./doctor.nix
    ./driver.nix
    ./inference.nix
    ./launcher.nix
  ];
}
