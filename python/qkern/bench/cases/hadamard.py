"""hadamard (y = x H / sqrt(n) over the last dim) and hadamard_quantize (fused rotation +
activation quantization), on 64 rows of each model's hidden and intermediate size.

Memory-bound: the roofline is the bytes read and written over the measured memory
bandwidth (the transform's n log2 n additions are far below the compute peak). Baselines:
``x @ H`` with a dense Hadamard matrix (scipy.linalg.hadamard; n a power of two), qkern.reference's
hadamard when the build has one, and on CUDA the ``fast_hadamard_transform`` package.
hadamard_quantize is compared with its two steps run one after the other.
"""
from __future__ import annotations

import importlib
import math
from typing import List, Optional, Tuple

import torch

from ... import ops, reference
from ...formats import MXFP4, NVFP4
from .base import Case, Context, Impl, nbytes, needs_ops, tolerance

ROWS = 64  # activation rows: a batch of decode tokens
QUANT_FORMATS = (MXFP4(), NVFP4())  # activation formats of W4A4 models
# Fused and unfused rotation + quantization may round the rotated values differently; an
# element then lands on the neighbouring 4-bit code. In fp32 a few such flips stay far below
# 2% relative L2 error of the dequantized result. The fused op never rounds the rotation to
# x's dtype while the unfused paths do, so half-precision x flips many more: 64 x 4096,
# MXFP4 and NVFP4, measured 3.4e-2 (bf16, 8 mantissa bits) and 1.0e-2 (fp16). A wrong
# rotation or scale is far above either bound (an error of order 1).
def quantized_tolerance(dtype: torch.dtype) -> float:
    return 6e-2 if dtype == torch.bfloat16 else 2e-2


def _dense_matrix(n: int, ctx: Context) -> Tuple[torch.Tensor, bool, str]:
    """(H / sqrt(n) in ctx.dtype, whether it is the true H, note). For sizes that are not
    powers of two a random matrix stands in: a dense product costs the same whatever the
    entries, so the timing holds while the result is not compared."""
    if n & (n - 1) == 0:
        try:
            from scipy.linalg import hadamard
        except ImportError:
            note = "scipy not installed (pip install qkern[bench]): random stand-in for H"
        else:
            h = torch.from_numpy(hadamard(n)).to(device=ctx.device, dtype=torch.float32)
            return (h / math.sqrt(n)).to(ctx.dtype), True, ""
    else:
        note = f"n={n} is not a power of two: a random n x n matrix stands in for H (same cost)"
    return torch.randn(n, n, device=ctx.device).to(ctx.dtype), False, note


def _peer() -> Tuple[Optional[object], str]:
    try:
        return importlib.import_module("fast_hadamard_transform"), ""
    except ImportError as e:
        return None, f"fast_hadamard_transform not importable ({e})"


def _hadamard_build(ctx: Context, n: int):
    def build() -> List[Impl]:
        x = torch.randn(ROWS, n, device=ctx.device).to(ctx.dtype)
        io = 2 * x.nbytes
        h, exact, note = _dense_matrix(n, ctx)
        impls = [needs_ops(["hadamard"], "qkern", lambda: ops.hadamard(x), io, role="qkern"),
                 Impl("dense x@H", lambda: x @ h, nbytes(x, h, x), 2.0 * ROWS * n * n,
                      checked=exact, note=note, peak_evidence=True)]
        ref = getattr(reference, "hadamard", None)
        if ref is not None:
            impls.append(Impl("reference", lambda: ref(x), io))
        if ctx.device.type == "cuda":
            fht, why = _peer()
            if fht is not None and n & (n - 1) == 0:
                impls.append(Impl("fast-hadamard-transform",
                                  lambda: fht.hadamard_transform(x, scale=n ** -0.5), io))
            else:
                impls.append(Impl("fast-hadamard-transform", None,
                                  note=why or f"n={n}: only powers of two are wired up"))
        return impls
    return build


def _hadamard_quantize_build(ctx: Context, n: int, fmt):
    def build() -> List[Impl]:
        x = torch.randn(ROWS, n, device=ctx.device).to(ctx.dtype)
        h, exact, note = _dense_matrix(n, ctx)
        q = ops.quantize(x, fmt)  # same sizes as the rotated x's
        # The unfused paths write the rotated x and read it back to quantize it.
        return [needs_ops(["hadamard_quantize"], "qkern", lambda: ops.hadamard_quantize(x, fmt),
                          nbytes(x, q), role="qkern"),
                needs_ops(["hadamard"], "qkern hadamard, quantize",
                          lambda: ops.quantize(ops.hadamard(x), fmt), nbytes(x, x, x, q)),
                Impl("dense x@H, quantize", lambda: ops.quantize(x @ h, fmt), nbytes(x, h, x, x, q),
                     2.0 * ROWS * n * n, checked=exact, note=note)]
    return build


def hadamard_cases(ctx: Context) -> List[Case]:
    sizes = ctx.shapes.row_sizes()
    if ctx.quick and not ctx.shapes.custom:
        sizes = sizes[:1]
    out = []
    for n in sizes:
        dims = {"m": ROWS, "n": n}
        pow2 = n & (n - 1) == 0
        truth = "dense x@H" if pow2 else ("reference" if hasattr(reference, "hadamard") else None)
        out.append(Case("hadamard", "hadamard", "", f"{ROWS}x{n}", dims, _hadamard_build(ctx, n),
                        truth=truth, tol=tolerance(ctx.dtype)))
        truth = "dense x@H, quantize" if pow2 else "qkern hadamard, quantize"
        out += [Case("hadamard", "hadamard_quantize", fmt.spec, f"{ROWS}x{n}", dims,
                     _hadamard_quantize_build(ctx, n, fmt), truth=truth,
                     tol=quantized_tolerance(ctx.dtype))
                for fmt in QUANT_FORMATS]
    return out
