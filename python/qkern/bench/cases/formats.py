"""quantize / dequantize of weights in INT4 g128, MXFP4 and NVFP4.

Memory-bound: the roofline is the bytes read and written over the measured memory
bandwidth.
Baseline: the pure-PyTorch reference (qkern.reference), which qkern must match bit for bit.
"""
from __future__ import annotations

from typing import List

from ... import ops, reference
from ...formats import INT4, MXFP4, NVFP4
from .base import Case, Context, Impl, nbytes, random_weight

FORMATS = (INT4(128), MXFP4(), NVFP4())


def _quantize_build(ctx: Context, n: int, k: int, fmt):
    def build() -> List[Impl]:
        x = random_weight(n, k, ctx.device).to(ctx.dtype)
        traffic = nbytes(x, ops.quantize(x, fmt))
        return [Impl("qkern", lambda: ops.quantize(x, fmt), traffic, role="qkern"),
                Impl("reference", lambda: reference.quantize(x, fmt), traffic)]
    return build


def _dequantize_build(ctx: Context, n: int, k: int, fmt):
    # "qkern" writes into a reused buffer, as the copy probe does; "qkern fresh out" also
    # allocates its output, whose first-touch page faults can dominate on a CPU.
    def build() -> List[Impl]:
        q = ops.quantize(random_weight(n, k, ctx.device).to(ctx.dtype), fmt)
        out = ops.dequantize(q, ctx.dtype)
        traffic = nbytes(q) + n * k * ctx.dtype.itemsize
        return [Impl("qkern", lambda: ops.dequantize(q, out=out), traffic, role="qkern"),
                Impl("qkern fresh out", lambda: ops.dequantize(q, ctx.dtype), traffic, role="qkern"),
                Impl("reference", lambda: reference.dequantize(q.qdata, q.scale, q.zero, q.global_scale,
                                                               fmt, ctx.dtype), traffic)]
    return build


def _cases(ctx: Context, op: str, make_build) -> List[Case]:
    return [Case(op, op, fmt.spec, str(w), {"n": w.n, "k": w.k}, make_build(ctx, w.n, w.k, fmt),
                 truth="reference", tol=0.0)
            for w in ctx.shapes.weights(quick=ctx.quick) for fmt in FORMATS]


def quantize_cases(ctx: Context) -> List[Case]:
    return _cases(ctx, "quantize", _quantize_build)


def dequantize_cases(ctx: Context) -> List[Case]:
    return _cases(ctx, "dequantize", _dequantize_build)
