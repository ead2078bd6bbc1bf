# The systemd sandbox every hwflake unit starts from, and the GPU device nodes and groups a
# unit on a GPU needs. Pure: needs only `lib`.
{ lib }:

let
  inherit (lib) optionalAttrs;

  # Device cgroup names from /proc/devices, as used by nixpkgs services.ollama
  # (nixpkgs-facts §5a). ROCm needs /dev/kfd and the DRM render nodes; CUDA needs the nvidia
  # control, UVM and capability nodes.
  gpuDevices = {
    none = [ ];
    amd = [
      "char-drm"
      "char-kfd"
    ];
    nvidia = [
      "char-nvidiactl"
      "char-nvidia-caps"
      "char-nvidia-frontend"
      "char-nvidia-uvm"
      "char-drm"
    ];
  };

  # /dev/kfd and /dev/dri/renderD* belong to group render, /dev/dri/card* to video; the
  # NVIDIA nodes are world-accessible on NixOS.
  gpuGroups = {
    none = [ ];
    amd = [
      "render"
      "video"
    ];
    nvidia = [ ];
  };

  # At least as strict as nixpkgs services.ollama (nixpkgs-facts §5a) plus PrivateMounts
  # (as nixpkgs services.llama-cpp, §5b); engines relax only MemoryDenyWriteExecute and
  # ProcSubset, and add syscall groups.
  hardening =
    gpu: extraSyscalls:
    {
      CapabilityBoundingSet = "";
      DevicePolicy = "closed";
      LockPersonality = true;
      NoNewPrivileges = true;
      # A private /dev hides the GPU nodes, so it can only be used without a GPU.
      PrivateDevices = gpu == "none";
      # As nixpkgs services.llama-cpp (nixpkgs-facts §5b).
      PrivateMounts = true;
      PrivateTmp = true;
      PrivateUsers = true;
      ProtectClock = true;
      ProtectControlGroups = true;
      ProtectHome = true;
      ProtectHostname = true;
      ProtectKernelLogs = true;
      ProtectKernelModules = true;
      ProtectKernelTunables = true;
      ProtectProc = "invisible";
      ProtectSystem = "strict";
      RemoveIPC = true;
      RestrictAddressFamilies = [
        "AF_INET"
        "AF_INET6"
        "AF_UNIX"
      ];
      RestrictNamespaces = true;
      RestrictRealtime = true;
      RestrictSUIDSGID = true;
      SystemCallArchitectures = "native";
      SystemCallFilter = [ "@system-service" ] ++ extraSyscalls ++ [ "~@privileged" ];
      UMask = "0077";
    }
    // optionalAttrs (gpuDevices.${gpu} != [ ]) { DeviceAllow = gpuDevices.${gpu}; }
    // optionalAttrs (gpuGroups.${gpu} != [ ]) { SupplementaryGroups = gpuGroups.${gpu}; };
in
{
  inherit gpuDevices gpuGroups hardening;
}
