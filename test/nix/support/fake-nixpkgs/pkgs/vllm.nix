# Stand-in for nixpkgs pkgs/development/python-modules/vllm/default.nix
# @ 00fa62a8a25a98990e2389bd8ab7d0b91e3cb352 (vLLM 0.19.0; nixpkgs-facts.md section 1).
# Every formal argument of that file is here under its own name. The GPU switches default
# to the torch it receives, as in the original; build-only inputs and Python dependencies
# default to null because nothing is built.
{
  lib,
  stdenv,
  python ? null,
  buildPythonPackage,
  fetchFromGitHub ? null,
  fetchpatch ? null,
  symlinkJoin ? null,
  autoAddDriverRunpath ? null,

  which ? null,

  cmake ? null,
  grpcio-tools ? null,
  jinja2 ? null,
  ninja ? null,
  packaging ? null,
  setuptools ? null,
  setuptools-scm ? null,

  onednn ? null,
  numactl ? null,
  llvmPackages ? null,

  aioprometheus ? null,
  amd-aiter ? null,
  amd-quark ? null,
  amdsmi ? null,
  anthropic ? null,
  bitsandbytes ? null,
  blake3 ? null,
  cachetools ? null,
  cbor2 ? null,
  compressed-tensors ? null,
  datasets ? null,
  depyf ? null,
  einops ? null,
  fastapi ? null,
  gguf ? null,
  grpcio ? null,
  grpcio-reflection ? null,
  ijson ? null,
  importlib-metadata ? null,
  kaldi-native-fbank ? null,
  llguidance ? null,
  lm-format-enforcer ? null,
  mcp ? null,
  mistral-common ? null,
  model-hosting-container-standards ? null,
  msgspec ? null,
  numba ? null,
  numpy ? null,
  openai ? null,
  openai-harmony ? null,
  opencv-python-headless ? null,
  opentelemetry-api ? null,
  opentelemetry-exporter-otlp ? null,
  opentelemetry-sdk ? null,
  opentelemetry-semantic-conventions-ai ? null,
  outlines ? null,
  pandas ? null,
  partial-json-parser ? null,
  peft ? null,
  prometheus-fastapi-instrumentator ? null,
  py-cpuinfo ? null,
  pyarrow ? null,
  pybase64 ? null,
  pydantic ? null,
  python-json-logger ? null,
  python-multipart ? null,
  pyzmq ? null,
  ray ? null,
  sentencepiece ? null,
  setproctitle ? null,
  tiktoken ? null,
  timm ? null,
  tokenizers ? null,
  torch,
  torchaudio ? null,
  torchvision ? null,
  transformers ? null,
  uvicorn ? null,
  xformers ? null,
  xgrammar ? null,
  psutil ? null,
  py-libnuma ? null,
  cupy ? null,
  flashinfer ? null,
  nvidia-ml-py ? null,
  pybind11 ? null,
  bash ? null,

  librosa ? null,
  soundfile ? null,

  vllm-flash-attn ? null,

  cudaSupport ? torch.cudaSupport,
  cudaPackages ? { },
  rocmSupport ? torch.rocmSupport,
  rocmPackages ? { },
  gpuTargets ? [ ],
}:
let
  cpuSupport = !cudaSupport && !rocmSupport;
in
buildPythonPackage {
  pname = "vllm";
  # The torch this vLLM was built against, so the test can see which one it got.
  inherit torch;
  args = {
    inherit
      cudaSupport
      rocmSupport
      gpuTargets
      vllm-flash-attn
      ;
  };
  # The original's env: one VLLM_TARGET_DEVICE per backend (other entries left out).
  env =
    lib.optionalAttrs cudaSupport { VLLM_TARGET_DEVICE = "cuda"; }
    // lib.optionalAttrs rocmSupport { VLLM_TARGET_DEVICE = "rocm"; }
    // lib.optionalAttrs cpuSupport { VLLM_TARGET_DEVICE = "cpu"; };
}
