"""Host overhead per call: qkern's ops on tiny inputs, where the kernel's own work is a few
nanoseconds and what is left is Python, torch.library dispatch, argument checks and the
binding, next to a trivial torch op as the floor every op pays.

Measured as the host's wall clock over back-to-back calls (on CUDA the launches are
queued and the GPU's share overlaps), without cache flushes: this is the per-call cost a
model pays for each small op, which matters for decode with small batches.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import torch

from .. import ops
from ..formats import INT4, MXFP4
from .cases.base import Context, missing_note
from .timing import TimerConfig, measure

CALLS_PER_REP = 100  # a single call is a few microseconds: time them in batches


def _items(ctx: Context) -> List[Tuple[str, str, Tuple[str, ...], Callable[[], Any]]]:
    """(name, shape, qkern ops needed, fn) of each measured call."""
    dev, dt = ctx.device, ctx.dtype
    x = torch.randn(1, 32, device=dev).to(dt)
    mx = MXFP4()
    q = ops.quantize(x, mx)
    w = ops.quantize(torch.randn(32, 128, device=dev).to(dt), INT4(128))
    x128 = torch.randn(1, 128, device=dev).to(dt)
    packed = {}

    def w4a16():
        if "w" not in packed:  # prepack once, in the (untimed) first call
            packed["w"] = ops.prepack(w, dev)
        return ops.w4a16_linear(x128, packed["w"])

    return [
        ("torch.add (trivial op)", "1x32", (), lambda: torch.add(x, 1.0)),
        ("torch.ops.qkern.quantize mxfp4", "1x32", (), lambda: torch.ops.qkern.quantize(x, mx.spec)),
        ("qkern.ops.quantize mxfp4", "1x32", (), lambda: ops.quantize(x, mx)),
        ("qkern.ops.dequantize mxfp4", "1x32", (), lambda: ops.dequantize(q, dt)),
        ("qkern.ops.hadamard", "1x32", ("hadamard",), lambda: ops.hadamard(x)),
        ("qkern.ops.w4a16_linear int4:g128", "1x128 @ 32x128", ("prepack", "w4a16_linear"), w4a16),
    ]


def host_overhead(ctx: Context, timer: TimerConfig) -> List[Dict[str, Any]]:
    out = []
    for name, shape, needs, fn in _items(ctx):
        rec: Dict[str, Any] = {"op": name, "shape": shape, "status": "ok", "note": missing_note(*needs),
                               "us_per_call": None, "iqr_us": None}
        if rec["note"]:
            rec["status"] = "unavailable"
        else:
            try:
                timing, _ = measure(fn, torch.device("cpu"), timer, inner=CALLS_PER_REP)
            except Exception as e:  # a broken op is reported, the suite goes on
                rec.update(status="error", note=f"{type(e).__name__}: {e}")
            else:
                q1, q3 = timing.quartiles
                rec.update(us_per_call=timing.median * 1e6, iqr_us=(q3 - q1) * 1e6)
        out.append(rec)
    if ctx.device.type == "cuda":
        torch.cuda.synchronize()
    return out
