# Pure helpers for the host's GPU driver (./driver.nix and ./launcher.nix use them): the
# preflight check a unit and a launcher run before the server, and the script that makes a
# non-NixOS host's driver libraries visible where Nix-built programs look for them.
{ lib }:

let
  inherit (lib) concatMapStringsSep escapeShellArg escapeShellArgs;
in
rec {
  # Nix-built CUDA programs find libcuda through the RUNPATH entry /run/opengl-driver/lib
  # that addDriverRunpath adds ("Named \"opengl-driver\" for legacy reasons, but it is the
  # path to hardware drivers installed by NixOS": NixOS/nixpkgs
  # pkgs/build-support/add-driver-runpath/default.nix @ a735bbea). NixOS fills it from
  # hardware.graphics; other distributions have nothing there.
  driverLink = "/run/opengl-driver";

  # The host driver's libraries a CUDA program loads: libcuda and its helpers (PTX JIT,
  # NVVM, NVML, the debugger), as numtide/nix-gl-host collects them from the host
  # (src/nixglhost.py CUDA_DSO_PATTERNS and the libnvidia-* entries of NVIDIA_DSO_PATTERNS @
  # 091905f5).
  nvidiaLibraries = [
    "libcuda.so*"
    "libcudadebugger.so*"
    "libnvidia-*.so*"
  ];

  # Where Debian and Ubuntu install them (multiarch triplets; the nvidia-driver packages put
  # libcuda.so.1 in /usr/lib/<triplet>).
  debianLibraryDirs = system: {
    "x86_64-linux" = [ "/usr/lib/x86_64-linux-gnu" ];
    "aarch64-linux" = [ "/usr/lib/aarch64-linux-gnu" ];
    "powerpc64le-linux" = [ "/usr/lib/powerpc64le-linux-gnu" ];
  }.${system} or [ ];

  # Shell text that exits 1 with one clear line when the GPU driver `gpu` needs is missing.
  # `who` names the unit or launcher in the message.
  preflight =
    who: gpu:
    let
      fail = msg: ''echo ${escapeShellArg "${who}: ${msg}"} >&2; exit 1'';
    in
    {
      none = "";
      # ROCm's user space comes from the build set; only the kernel side (amdgpu's KFD) is the
      # host's.
      amd = ''
        if [ ! -e /dev/kfd ]; then
          ${fail "/dev/kfd is missing: the amdgpu kernel driver (with its KFD interface) is not loaded, so ROCm cannot reach the GPU."}
        fi
      '';
      nvidia = ''
        if [ ! -e /dev/nvidiactl ]; then
          ${fail "/dev/nvidiactl is missing: the NVIDIA kernel driver is not loaded (install and load the distribution's nvidia driver)."}
        fi
        if [ ! -e ${driverLink}/lib/libcuda.so.1 ]; then
          ${fail "${driverLink}/lib/libcuda.so.1 is missing, and Nix-built CUDA programs load the driver only from there. On NixOS set hardware.graphics.enable = true and services.xserver.videoDrivers = [ \"nvidia\" ]; on another distribution set services.hwflake.hostDriver.enable = true (system-manager does that in the generated systemConfigs), or link the host's libcuda.so.1 and libnvidia-*.so* into ${driverLink}/lib."}
        fi
      '';
    }
    .${gpu};

  # Shell text that stops a unit with one clear line when a device node it needs is missing (a
  # TPU VM or Spyre host whose VFIO binding is not set up fails here, not deep inside libtpu or
  # the plug-in). `devices` as the instance's `devices` option: /dev paths are checked,
  # char-<class> names are not files.
  devicesPreflight =
    who: devices:
    concatMapStringsSep "\n" (d: ''
      if [ ! -e ${escapeShellArg d} ]; then
        echo ${escapeShellArg "${who}: not starting: ${d} is missing: the accelerator's driver (its VFIO binding) is not set up on this host"} >&2
        exit 1
      fi
    '') (builtins.filter (lib.hasPrefix "/dev/") devices);

  # Links the host's driver libraries into /run/opengl-driver/lib (a tmpfs: redone at every
  # boot). Existing links are replaced, so a driver upgrade is picked up at the next start.
  linkHostDriver =
    { libraryDirs, libraries }:
    ''
      set -eu
      mkdir -p ${driverLink}/lib
      found=0
      for dir in ${escapeShellArgs libraryDirs}; do
        for pattern in ${escapeShellArgs libraries}; do
          for f in "$dir"/$pattern; do
            [ -e "$f" ] || continue
            ln -sfn "$f" ${driverLink}/lib/
            found=1
          done
        done
      done
      if [ "$found" = 0 ]; then
        echo ${escapeShellArg "hwflake-host-driver: no driver library (${concatMapStringsSep ", " (x: x) libraries}) in ${concatMapStringsSep ", " (x: x) libraryDirs}; install the distribution's NVIDIA driver"} >&2
        exit 1
      fi
    '';
}
