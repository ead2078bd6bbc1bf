# Stand-in for nixpkgs pkgs/development/python-modules/ray/default.nix @ bee96984 (ray 2.40.0,
# from wheels, x86_64-linux only). hwflake never overrides Ray, it only puts it in a Python
# environment next to vLLM, so this takes just what building the stand-in needs.
{ buildPythonPackage }:
buildPythonPackage {
  pname = "ray";
  args = { };
}
