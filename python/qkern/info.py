"""What this qkern build and this machine offer: `qkern info` and `python -m qkern`."""
from __future__ import annotations

import platform
from typing import Any, Dict

import torch

from . import _C, _ext


def cuda_info() -> Dict[str, Any]:
    """CUDA part of the build: archs in the binary and whether a device is usable."""
    mod = _ext.optional_module("_C_cuda")
    info: Dict[str, Any] = {"built": mod is not None}
    if mod is None:
        info["reason"] = _ext.load_error("_C_cuda") or "not built"
        return info
    info["archs"] = list(getattr(mod, "compiled_archs", lambda: [])())
    info["features"] = dict(getattr(mod, "features", {}))
    # usable: torch sees a GPU and the module's own runtime finds a driver and a device
    info["device_usable"] = bool(torch.cuda.is_available()) and mod.device_count() > 0
    if info["device_usable"]:
        info["device"] = torch.cuda.get_device_name()
    return info


def collect() -> Dict[str, Any]:
    sim = _ext.optional_module("_C_sim")
    cuda = cuda_info()
    backends = ["cpu"]
    if cuda["built"] and cuda.get("device_usable"):
        backends.append("cuda")
    if sim is not None:
        backends.append("sim")
    return {
        "qkern": _C.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "backends": backends,
        "cpu_features": dict(_C.cpu_features()),
        "cpu_isa": {"compiled": list(_C.compiled_isas()), "active": _C.get_isa()},
        "cpu_threads": _C.get_num_threads(),
        "cpu_thread_runtime": _C.thread_runtime(),
        "cuda": cuda,
    }


def format_info(info: Dict[str, Any]) -> str:
    feats = " ".join(f"{k}={'yes' if v else 'no'}" for k, v in info["cpu_features"].items())
    cuda = info["cuda"]
    if cuda["built"]:
        archs = ", ".join(cuda["archs"]) or "none"
        device = cuda.get("device", "no usable device")
        cuda_line = f"built for {archs}; device: {device}"
    else:
        cuda_line = f"not available ({cuda['reason']})"
    lines = [
        f"qkern {info['qkern']}  (torch {info['torch']}, python {info['python']}, {info['machine']})",
        f"backends:     {', '.join(info['backends'])}",
        f"cpu features: {feats}",
        f"cpu kernels:  {info['cpu_isa']['active']} (compiled: {', '.join(info['cpu_isa']['compiled'])}),"
        f" {info['cpu_threads']} threads on {info['cpu_thread_runtime']}",
        f"cuda:         {cuda_line}",
    ]
    return "\n".join(lines)
