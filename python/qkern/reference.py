"""Pure-PyTorch reference of every qkern op, written from the specs (NUMERICS.md).

It is the definition the kernels are tested against (bit for bit for quantize and
dequantize), and the fallback on devices without a qkern kernel. It runs on any device
and favours plain, readable tensor code over speed. The scale rules are the same as
cpp/include/qkern/recipes.h, step for step in fp32.
"""
from __future__ import annotations

from typing import List, Optional

import torch

from .formats import FP8, INT4, INT8, MXFP4, NVFP4, Format, qdata_dtype
from .tensor import QuantizedTensor

E2M1_VALUES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
E4M3_MAX = 448.0
E2M1_MAX = 6.0


# ----------------------------------------------------------------------------- codecs

def exp2i(e: torch.Tensor) -> torch.Tensor:
    """Exact 2**e in fp32 for integer e in [-149, 127] (built from the bits)."""
    e = e.to(torch.int32)
    normal = (e + 127).clamp(min=0) << 23
    subnormal = torch.ones_like(e) << (e + 149).clamp(min=0, max=22)
    return torch.where(e >= -126, normal, subnormal).view(torch.float32)


def f32_to_e2m1(x: torch.Tensor) -> torch.Tensor:
    """E2M1 codes (uint8, 0..15) of fp32 values: round to nearest even, saturate at +-6,
    keep the sign (tiny negatives become -0, code 8). Each term is one rounding boundary;
    ties go to the even code: 0.25->0, 0.75->1, 1.25->1, 1.75->2, 2.5->2, 3.5->4, 5->4."""
    a = x.abs()
    code = ((a > 0.25).to(torch.uint8) + (a >= 0.75) + (a > 1.25) + (a >= 1.75) + (a > 2.5)
            + (a >= 3.5) + (a > 5.0))
    return code | (torch.signbit(x).to(torch.uint8) << 3)


def e2m1_to_f32(code: torch.Tensor) -> torch.Tensor:
    table = torch.tensor(E2M1_VALUES + tuple(-v for v in E2M1_VALUES), device=code.device)
    return table[code.long()]


def f32_to_e4m3(x: torch.Tensor) -> torch.Tensor:
    """E4M3 (fn) codes (uint8): round to nearest even, saturate at +-448."""
    return x.clamp(-E4M3_MAX, E4M3_MAX).to(torch.float8_e4m3fn).view(torch.uint8)


def e4m3_to_f32(code: torch.Tensor) -> torch.Tensor:
    return code.view(torch.float8_e4m3fn).float()


def e8m0_to_f32(code: torch.Tensor) -> torch.Tensor:
    e = code.to(torch.int32) - 127
    return torch.where(code == 0xFF, torch.nan, exp2i(e))


def pack_nibbles(codes: torch.Tensor) -> torch.Tensor:
    """[..., 2n] codes 0..15 -> [..., n] bytes, element 2j in the low nibble."""
    return codes[..., 0::2] | (codes[..., 1::2] << 4)


def unpack_nibbles(packed: torch.Tensor) -> torch.Tensor:
    """Inverse of pack_nibbles."""
    return torch.stack((packed & 0xF, packed >> 4), dim=-1).flatten(-2)


# ----------------------------------------------------------------------------- scale rules

def mx_scale_floor(amax: torch.Tensor) -> torch.Tensor:
    """OCP MX: floor(log2(amax)) - 2 from the fp32 exponent field, clamped, biased."""
    field = (amax.float().view(torch.int32) >> 23) & 0xFF
    return ((field - 127 - 2).clamp(-127, 127) + 127).to(torch.uint8)


def mx_scale_rceil(amax: torch.Tensor) -> torch.Tensor:
    """ceil(log2(amax / 6)), exactly, from the bits of amax / 6."""
    b = (amax.float() / E2M1_MAX).view(torch.int32)
    field = (b >> 23) & 0xFF
    e = (field - 127 + ((b & 0x7FFFFF) != 0).to(torch.int32)).clamp(max=127) + 127
    subnormal = (b > 0x00400000).to(torch.int32)
    return torch.where(field == 0, subnormal, e).to(torch.uint8)


def nvfp4_global_scale(x: torch.Tensor) -> torch.Tensor:
    """d = amax / (448 * 6) over the finite elements; 1 when d < 2**-120 (zero tensors)."""
    amax = torch.where(torch.isfinite(x), x.abs(), 0).amax().float()
    d = amax / (E4M3_MAX * E2M1_MAX)
    return torch.where(d >= 2.0 ** -120, d, torch.ones_like(d))


# ----------------------------------------------------------------------------- quantize

def quantize(x: torch.Tensor, fmt: Format, global_scale: Optional[float] = None) -> List[torch.Tensor]:
    """Quantize x[..., K] over its last dim. Returns the op's tensor list:
    INT4 sym [qdata, scale], INT4 asym [qdata, scale, zero], MXFP4 [qdata, scale],
    NVFP4 [qdata, scale, global_scale] or [qdata, scale] (single level), INT8/FP8
    [qdata, scale]. Layouts in qkern.tensor. ``global_scale``: two-level NVFP4 with this
    static decode scale d (rounded to fp32) instead of the one from x's amax."""
    *lead, cols = x.shape
    block = fmt.block_size(cols)
    xb = x.float().reshape(*lead, cols // block, block)
    finite = torch.isfinite(xb).all(-1)
    amax = xb.abs().amax(-1)
    blockwise = lambda t: t.unsqueeze(-1)  # noqa: E731  per-block value against elements

    if isinstance(fmt, INT4):
        sdtype = fmt.scale_dtype(x.dtype)
        if fmt.symmetric:
            scale = (2.0 * (amax / 15.0)).to(sdtype).float()
            zero = torch.full_like(scale, 8.0)
        else:
            lo = xb.amin(-1).clamp(max=0.0)
            hi = xb.amax(-1).clamp(min=0.0)
            scale = ((hi - lo) / 15.0).to(sdtype).float()
            zero = torch.where(scale == 0, 0.0, torch.round(-lo / scale).clamp(0, 15))
        q = torch.round(xb / blockwise(scale)) + blockwise(zero)
        q = torch.where(blockwise(scale == 0), blockwise(zero), q.clamp(0, 15))
        q = torch.where(blockwise(finite), q, 0).to(torch.uint8)
        scale = torch.where(finite, scale, torch.nan).to(sdtype)
        out = [pack_nibbles(q).reshape(*lead, cols // 2), scale]
        if not fmt.symmetric:
            out.append(torch.where(finite, zero, 0).to(torch.uint8))
        return out

    if isinstance(fmt, MXFP4):
        code = mx_scale_rceil(amax) if fmt.scale_rule == "rceil" else mx_scale_floor(amax)
        code = torch.where(finite, code, 0xFF).to(torch.uint8)
        factor = exp2i(127 - code.to(torch.int32))
        q = torch.where(blockwise(finite), f32_to_e2m1(xb * blockwise(factor)), 0)
        return [pack_nibbles(q.to(torch.uint8)).reshape(*lead, cols // 2), code]

    if isinstance(fmt, NVFP4):
        if fmt.global_scale:
            d = (nvfp4_global_scale(x) if global_scale is None
                 else torch.tensor(global_scale, dtype=torch.float32, device=x.device))
            s = f32_to_e4m3(((amax / E2M1_MAX) / d).clamp(2.0 ** -6, E4M3_MAX))
            factor = (1.0 / d) / e4m3_to_f32(s)
        else:
            s = f32_to_e4m3((amax / E2M1_MAX).clamp(2.0 ** -6, E4M3_MAX))
            factor = 1.0 / e4m3_to_f32(s)
        q = torch.where(blockwise(finite), f32_to_e2m1(xb * blockwise(factor)), 0)
        s = torch.where(finite, s, 0x7F).to(torch.uint8)
        out = [pack_nibbles(q.to(torch.uint8)).reshape(*lead, cols // 2), s]
        if fmt.global_scale:
            out.append(d)
        return out

    if isinstance(fmt, INT8):
        scale = amax / 127.0
        q = torch.round(xb / blockwise(scale)).clamp(-127, 127)
        q = torch.where(blockwise((scale == 0) | ~finite), 0, q)
        return [q.to(torch.int8).reshape(*lead, cols), torch.where(finite, scale, torch.nan)]

    if isinstance(fmt, FP8):
        scale = amax / E4M3_MAX
        q = f32_to_e4m3(xb / blockwise(scale))
        q = torch.where(blockwise((scale == 0) | ~finite), 0, q).to(torch.uint8)
        return [q.reshape(*lead, cols), torch.where(finite, scale, torch.nan)]

    raise TypeError(f"fmt: unsupported format {fmt!r}")


# ----------------------------------------------------------------------------- dequantize

def dequantize(qdata: torch.Tensor, scale: torch.Tensor, zero: Optional[torch.Tensor],
               global_scale: Optional[torch.Tensor], fmt: Format,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Values of a quantized tensor, computed in fp32 and rounded once to ``dtype``:
    INT4 (q - z) * s; MXFP4 e2m1 * 2^(e-127); NVFP4 e2m1 * (s_b * d); INT8/FP8 q * s."""
    *lead, _ = qdata.shape
    nblocks = scale.shape[-1]
    if fmt.bits == 4:
        codes = unpack_nibbles(qdata)
    else:
        codes = qdata
    codes = codes.reshape(*lead, nblocks, -1)

    if isinstance(fmt, INT4):
        z = zero.float() if zero is not None else torch.full(scale.shape, 8.0, device=scale.device)
        values = (codes.float() - z.unsqueeze(-1)) * scale.float().unsqueeze(-1)
    elif isinstance(fmt, MXFP4):
        values = e2m1_to_f32(codes) * e8m0_to_f32(scale).unsqueeze(-1)
    elif isinstance(fmt, NVFP4):
        s = e4m3_to_f32(scale)
        if fmt.global_scale:
            s = s * global_scale.float()
        values = e2m1_to_f32(codes) * s.unsqueeze(-1)
    elif isinstance(fmt, INT8):
        values = codes.float() * scale.float().unsqueeze(-1)
    elif isinstance(fmt, FP8):
        values = e4m3_to_f32(codes) * scale.float().unsqueeze(-1)
    else:
        raise TypeError(f"fmt: unsupported format {fmt!r}")
    return values.reshape(*lead, -1).to(dtype)


def empty_quantized(x_shape, x_dtype: torch.dtype, fmt: Format, device) -> List[torch.Tensor]:
    """Uninitialised outputs of quantize(x, fmt) (shapes and dtypes of the tensor list)."""
    *lead, cols = x_shape
    block = fmt.block_size(cols) if cols else 1
    qdata = torch.empty(*lead, fmt.packed_cols(cols), dtype=qdata_dtype(fmt), device=device)
    scale = torch.empty(*lead, cols // block, dtype=fmt.scale_dtype(x_dtype), device=device)
    out = [qdata, scale]
    if fmt.has_zero:
        out.append(torch.empty(*lead, cols // block, dtype=torch.uint8, device=device))
    if fmt.has_global_scale:
        out.append(torch.empty((), dtype=torch.float32, device=device))
    return out


# ----------------------------------------------------------------------------- W4A16

def dequantize_weight(weight: QuantizedTensor, g_idx: Optional[torch.Tensor] = None,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """W [N, K] of a canonical weight, with act-order groups: column k uses group g_idx[k]
    (GPTQ), else k // block."""
    q = weight
    if g_idx is None:
        return dequantize(q.qdata, q.scale, q.zero, q.global_scale, q.fmt, dtype)
    # Columns sorted by group are an ordinary grouped weight; dequantize that, put them back.
    perm = torch.argsort(g_idx, stable=True)
    sorted_q = pack_nibbles(unpack_nibbles(q.qdata)[:, perm])
    w_sorted = dequantize(sorted_q, q.scale, q.zero, q.global_scale, q.fmt, dtype)
    return torch.empty_like(w_sorted).index_copy_(1, perm, w_sorted)


def linear_reference(x: torch.Tensor, weight: QuantizedTensor, bias: Optional[torch.Tensor] = None,
                     g_idx: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The W4A16 result the kernels approximate: fp32 dequantized weight, fp32 products and
    sums, bias added in fp32, one rounding to x's dtype."""
    w = dequantize_weight(weight, g_idx)
    y = x.float() @ w.t()
    if bias is not None:
        y = y + bias.float()
    return y.to(x.dtype)
