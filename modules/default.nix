# The hwflake NixOS module library: `imports = [ hwflake.nixosModules.default ]` or
# `imports = [ ./modules ]` brings in every option under services.hwflake.
{
  imports = [
    ./accelerators.nix
    ./build-sets.nix
    ./cpu.nix
    ./doctor.nix
    ./driver.nix
    ./inference.nix
    ./ray.nix
    ./load-balancer.nix
    ./launcher.nix
  ];
}
