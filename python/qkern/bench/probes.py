"""Measured peaks of this machine: every kernel result is reported as a fraction of them.

- copy: ``dst.copy_(src)`` over a buffer several times the last-level cache, counted as
  2 x buffer bytes per call (one read, one write: the STREAM "copy" convention; the
  write-allocate read some CPUs add is not counted, for the kernels as for the probe).
- read: ``src.sum()`` over the same buffer, 1 x buffer bytes. Streams that only read (a
  GEMV's weight) can beat the copy rate, which pays for its writes; the memory peak is
  the higher of the two, so that no kernel's fraction exceeds 1 for that reason.
- matmul: a square dense ``torch.matmul`` per dtype, 2 n^3 FLOP per call.

A peak is the best repetition, not the median: it is the most this machine was seen to
do. The runner probes before and after the kernels and keeps the higher value, and counts
the best repetitions of torch's own dense kernels among the baselines as measurements too,
so that a busy neighbour during a probe does not make every fraction look better than it
is (on a shared machine, contention can halve a probe).
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List

import torch

from .timing import TimerConfig, measure

# Matmul probe sizes: large enough to reach the dense peak, small enough to stay a few
# seconds on a small CPU (n = 2048 fp32 is ~17 GFLOP) and well under a second on a GPU.
_MATMUL_N = {"cpu": 2048, "cuda": 8192}


def dtype_name(dtype: torch.dtype) -> str:
    """"float32" for torch.float32: the key of a dtype in results and peaks."""
    return str(dtype).removeprefix("torch.")


def bandwidth_buffer_bytes(device: torch.device, cache_bytes: int) -> int:
    """Four times the cache the probe must not fit in, and at least 64 MiB (CPU) /
    1 GiB (GPU, whose memory system needs a large transfer to reach its peak)."""
    floor = (1 << 30) if device.type == "cuda" else (64 << 20)
    return max(4 * cache_bytes, floor)


def _bandwidth_probe(name: str, device: torch.device, nbytes: int, cfg: TimerConfig) -> Dict[str, Any]:
    src = torch.ones(nbytes // 4, dtype=torch.float32, device=device)  # pages touched
    if name == "copy":
        dst = torch.zeros_like(src)
        fn, moved = (lambda: dst.copy_(src)), 2 * src.nbytes
    else:
        fn, moved = (lambda: src.sum()), src.nbytes
    timing, _ = measure(fn, device, cfg)
    return {"name": name, "unit": "GB/s", "dtype": None, "size": f"{src.nbytes} bytes",
            "bytes_per_call": moved, "best": moved / min(timing.times) / 1e9,
            "median": moved / timing.median / 1e9, "time": timing.to_json()}


def copy_probe(device: torch.device, nbytes: int, cfg: TimerConfig) -> Dict[str, Any]:
    return _bandwidth_probe("copy", device, nbytes, cfg)


def read_probe(device: torch.device, nbytes: int, cfg: TimerConfig) -> Dict[str, Any]:
    return _bandwidth_probe("read", device, nbytes, cfg)


def matmul_probe(device: torch.device, dtype: torch.dtype, cfg: TimerConfig) -> Dict[str, Any]:
    n = _MATMUL_N[device.type]
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    timing, _ = measure(lambda: torch.matmul(a, b), device, cfg)
    flops = 2.0 * n ** 3
    return {"name": "matmul", "unit": "TFLOP/s", "dtype": dtype_name(dtype),
            "size": f"{n}x{n}x{n}", "flops_per_call": flops, "best": flops / min(timing.times) / 1e12,
            "median": flops / timing.median / 1e12, "time": timing.to_json()}


def run_probes(device: torch.device, cache_bytes: int, cfg: TimerConfig,
               matmul_dtypes: Iterable[torch.dtype]) -> List[Dict[str, Any]]:
    nbytes = bandwidth_buffer_bytes(device, cache_bytes)
    probes = [copy_probe(device, nbytes, cfg), read_probe(device, nbytes, cfg)]
    probes += [matmul_probe(device, dtype, cfg) for dtype in matmul_dtypes]
    return probes


def peaks(probes: Iterable[Dict[str, Any]], evidence: Iterable[Dict[str, Any]] = ()) -> Dict[str, Any]:
    """The peaks every fraction is taken of: the best of all probe runs and of ``evidence``
    (the best repetitions of torch's dense kernels among the baselines, as
    {"name": "memory" | "matmul", "dtype", "best", "source"}), each with its source.

    Returns {"copy_gbps", "read_gbps", "memory_gbps", "matmul_tflops": {dtype: TFLOP/s},
    "sources": {"memory" | "matmul <dtype>": what measured it}}.
    """
    out: Dict[str, Any] = {"copy_gbps": 0.0, "read_gbps": 0.0, "memory_gbps": 0.0,
                           "matmul_tflops": {}, "sources": {}}

    def offer(slot: str, value: float, source: str) -> None:
        """slot: "memory" or "matmul <dtype>"."""
        if slot == "memory":
            table, key = out, "memory_gbps"
        else:
            table, key = out["matmul_tflops"], slot.split()[1]
        if value > table.get(key, 0.0):
            table[key] = value
            out["sources"][slot] = source

    for p in probes:
        if p["name"] == "matmul":
            offer(f"matmul {p['dtype']}", p["best"], f"matmul probe {p['size']}")
        else:
            out[f"{p['name']}_gbps"] = max(out[f"{p['name']}_gbps"], p["best"])
            offer("memory", p["best"], f"{p['name']} probe")
    for e in evidence:
        if e["name"] == "matmul" and e["dtype"] in out["matmul_tflops"]:
            offer(f"matmul {e['dtype']}", e["best"], e["source"])
        elif e["name"] == "memory":
            offer("memory", e["best"], e["source"])
    return out
