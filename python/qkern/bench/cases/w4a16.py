"""w4a16: y = x @ W^T with a 4-bit weight (prepacked once) and 16/32-bit activations, on
the models' linear layers at M = 1, 16, 256, 2048 tokens.

Roofline: max(bytes / memory bandwidth, FLOPs / dense matmul peak) per implementation,
so decode (small M) is judged by how fast it streams the weight and prefill (large M) by
its FLOP rate. Baselines:
- dense: torch's matmul on the dequantized weight (fp32 on CPU, bf16 on CUDA); the same
  values, so its result is checked too;
- torch int4 (CPU, INT4 formats): torch's own int4 CPU GEMM (calling convention below),
  with bf16 activations, its fast path;
- reference: qkern.reference.dequantize then matmul, every call.

torch int4 CPU kernel, as of torch 2.13:
  packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes, inner_k_tiles)
      codes: int32 [N, K], unsigned 0..15, one per element, N a multiple of 16;
      inner_k_tiles is not used by the CPU layout (any value); returns uint8 [N, K/2].
  y = torch.ops.aten._weight_int4pack_mm_for_cpu(x, packed, group_size, scales_and_zeros)
      x: [M, K] fp32/bf16/fp16; group_size 32, 64, 128 or 256;
      scales_and_zeros: [K/G, N, 2] in x's dtype, (scale, zero) per group, transposed
      against qkern's [N, K/G]; computes with w = (q - 8) * scale + zero.
  qkern INT4 is w = (q - z) * scale (z = 8 symmetric), so zero = (8 - z) * scale.
"""
from __future__ import annotations

from typing import List

import torch
import torch.nn.functional as F

from ... import ops, reference
from ...formats import INT4, MXFP4, NVFP4
from .base import Case, Context, Impl, nbytes, needs_ops, random_weight, tolerance

QUICK_FORMATS = (INT4(128),)
FORMATS = (INT4(128), MXFP4(), NVFP4())
OPS = ("prepack", "w4a16_linear")


def torch_int4_pack(q, dtype: torch.dtype):
    """(packed weight, scales_and_zeros) of torch's int4 CPU GEMM holding the same values
    as the qkern INT4 weight ``q``; the convention is in the module docstring."""
    codes = reference.unpack_nibbles(q.qdata).to(torch.int32)
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes, 1)
    scale = q.scale.float()
    zero = q.zero.float() if q.zero is not None else torch.full_like(scale, 8.0)
    sz = torch.stack([scale.t(), ((8.0 - zero) * scale).t()], dim=-1)
    return packed, sz.to(dtype).contiguous()


def _torch_int4_note(ctx: Context, fmt, n: int) -> str:
    if ctx.device.type != "cpu":
        return "torch's int4 CUDA kernel (tinygemm) is not wired up as a baseline"
    if not isinstance(fmt, INT4) or fmt.group_size is None:
        return f"torch's int4 kernel has no {fmt.spec} weights"
    if n % 16:
        return f"torch's int4 CPU kernel needs N % 16 == 0, N = {n}"
    return ""


def _build(ctx: Context, n: int, k: int, m: int, fmt):
    def build() -> List[Impl]:
        q = ops.quantize(random_weight(n, k, ctx.device).to(ctx.dtype), fmt)
        x = torch.randn(m, k, device=ctx.device).to(ctx.dtype)
        w = ops.dequantize(q, ctx.dtype)
        y_bytes = m * n * ctx.dtype.itemsize
        flops = 2.0 * m * n * k
        qkern = needs_ops(OPS, "qkern", lambda: ops.w4a16_linear(x, weight), nbytes(x, q) + y_bytes,
                          flops, role="qkern")
        weight = ops.prepack(q, ctx.device) if qkern.fn is not None else None  # once, untimed
        impls = [qkern]
        x16 = x.to(torch.bfloat16)
        if ctx.dtype != torch.bfloat16 and qkern.fn is not None:
            # the same dtype as the torch int4 baseline below, for a like-for-like ratio
            impls.append(Impl("qkern bf16 x", lambda: ops.w4a16_linear(x16, weight),
                              nbytes(x16, q) + m * n * 2, flops, role="qkern", dtype=torch.bfloat16))
        impls.append(Impl("dense", lambda: F.linear(x, w), nbytes(x, w) + y_bytes, flops,
                          share_key=("dense", m, n, k, ctx.dtype), peak_evidence=True))
        note = _torch_int4_note(ctx, fmt, n)
        if note:
            impls.append(Impl("torch int4", None, note=note))
        else:
            # bf16 activations: torch's fast path (its fp32 path is scalar, ~50x slower at M=256)
            packed, sz = torch_int4_pack(q, torch.bfloat16)
            group = fmt.group_size
            impls.append(Impl("torch int4",
                              lambda: torch.ops.aten._weight_int4pack_mm_for_cpu(x16, packed, group, sz),
                              nbytes(x16, packed, sz) + m * n * 2, flops, dtype=torch.bfloat16))
        # reads q, writes and reads back the dense weight, then the product
        impls.append(Impl("reference", lambda: F.linear(x, reference.dequantize(
            q.qdata, q.scale, q.zero, q.global_scale, fmt, ctx.dtype)),
            nbytes(x, q, w, w) + y_bytes, flops))
        return impls
    return build


def w4a16_cases(ctx: Context) -> List[Case]:
    formats = QUICK_FORMATS if ctx.quick else FORMATS
    return [Case("w4a16", "w4a16_linear", fmt.spec, f"{w}, M={m}", {"m": m, "n": w.n, "k": w.k},
                 _build(ctx, w.n, w.k, m, fmt), truth="reference", tol=tolerance(ctx.dtype),
                 kernel_op="w4a16_linear_prepacked")  # qkern's impl passes a PrepackedWeight
            for w in ctx.shapes.weights(quick=ctx.quick) for m in ctx.m_values for fmt in formats]
