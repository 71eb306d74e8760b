"""The CUDA W4A16 layout ``qkern.cuda.w4.m16n8k16.v1`` (prepack, shapes) and the call of the
CUDA kernel through a backend module (qkern._C_cuda on a GPU, qkern._C_sim in the emulator:
the same entry point, so tests run the kernel on CPU tensors).

Layout (derivation at the top of cuda/gemm/w4a16.cu; constants in qkern/gemm.h). With
S = Np/32 strips, C = Kp/32 K tiles, Gp = ceil(Kp/group) (Np, Kp: N, K rounded up to 32):

  packed  uint8   [S, C, 32, 16]  element (n = 32s + 8w + g, k = 32c + 16j + 8*i1 + 2t + i0)
                                  is nibble p & 1 of byte 4w + p // 2 of lane 4g + t, with
                                  p = 4*i0 + 2*j + i1 (see :func:`cuda_element_position`)
  scale   float32 [S, Gp, 4, 8]   scale of (column 32s + 8w + 2t + c2, group) at [s, grp, t, 2w + c2],
                                  decoded (NVFP4: times the global decode scale)
  zero    uint8   [S, Gp, 8, 4]   INT4 asymmetric zero point of column 32s + 8w + g at [s, grp, g, w]

Padding codes, scales and zero points are 0. Act-order weights also carry ``perm`` (int32
[K], as in the CPU layout); the op gathers x's columns through it before the kernel.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

from .. import reference
from .._ext import data_ptr, dtype_code
from ..formats import INT4, MXFP4, Format

CUDA_LAYOUT = "qkern.cuda.w4.m16n8k16.v1"
ALIGN_N = 32
ALIGN_K = 32

__all__ = ["CUDA_LAYOUT", "cuda_shapes", "cuda_prepack", "cuda_element_position", "run_w4a16"]


def _up(x: int, m: int) -> int:
    return (x + m - 1) // m * m


def cuda_shapes(n: int, k: int, block: int) -> dict:
    """Shapes of the prepacked tensors for an [n, k] weight with scale groups of ``block``."""
    np_, kp = _up(n, ALIGN_N), _up(k, ALIGN_K)
    s, c, gp = np_ // 32, kp // 32, -(-kp // block)
    return {"packed": (s, c, 32, 16), "scale": (s, gp, 4, 8), "zero": (s, gp, 8, 4), "n_pad": np_}


def cuda_element_position(n: torch.Tensor, k: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """(s, c, lane, byte, nibble) of weight element (n, k) in ``packed`` (the documented
    formula, used by the pure-index test)."""
    s, w, g = n // 32, (n % 32) // 8, n % 8
    c, j, i1, t, i0 = k // 32, (k % 32) // 16, (k % 16) // 8, (k % 8) // 2, k % 2
    p = 4 * i0 + 2 * j + i1
    return s, c, 4 * g + t, 4 * w + p // 2, p % 2


def check_cuda_weight(f: Format, k: int) -> int:
    """The kernel's limits on the weight; returns the group size."""
    block = f.block_size(k)
    if k % 16 or block % 16:
        raise ValueError(f"weight: the CUDA W4A16 kernel needs K and the scale group to be multiples "
                         f"of 16, got K = {k}, group = {block} ({f.spec})")
    return block


def cuda_prepack(qdata: torch.Tensor, scale: torch.Tensor, zero: Optional[torch.Tensor],
                 global_scale: Optional[torch.Tensor], f: Format, perm: Optional[torch.Tensor] = None):
    """Canonical (validated) weight -> (packed, scale, zero or None) in the CUDA layout, on
    the weight's device (plain torch: runs once per weight). ``perm`` (act-order, a stable
    argsort of g_idx): packed column k' is canonical column perm[k'], so every group is
    contiguous again and scales/zeros keep their canonical group order; the caller gathers
    x's columns through the same perm."""
    n, k = qdata.shape[0], qdata.shape[1] * 2
    block = check_cuda_weight(f, k)
    sh = cuda_shapes(n, k, block)
    np_, kp = sh["n_pad"], sh["packed"][1] * 32
    gp = sh["scale"][1]
    # codes [Np, Kp]: element 2j in the low nibble of byte j
    codes = torch.stack((qdata & 0xF, qdata >> 4), dim=-1).reshape(n, k)
    if perm is not None:
        codes = codes.index_select(1, perm.long())
    codes = torch.nn.functional.pad(codes, (0, kp - k, 0, np_ - n))
    # n = 32s + 8w + g; k = 32c + 16j + 8 i1 + 2t + i0  ->  [s, c, g, t, w, i0, j, i1]
    v = codes.reshape(np_ // 32, 4, 8, kp // 32, 2, 2, 4, 2).permute(0, 3, 2, 6, 1, 7, 4, 5)
    nib = v.reshape(np_ // 32, kp // 32, 32, 16, 2)  # lane, byte 4w + p // 2, nibble p % 2
    packed = (nib[..., 0] | (nib[..., 1] << 4)).contiguous()

    if isinstance(f, INT4):
        s32 = scale.float()
    elif isinstance(f, MXFP4):
        s32 = reference.e8m0_to_f32(scale)
    else:
        s32 = reference.e4m3_to_f32(scale)
        if global_scale is not None:
            s32 = s32 * global_scale.float()
    s32 = torch.nn.functional.pad(s32, (0, gp - s32.shape[1], 0, np_ - n))
    # column 32s + 8w + 2t + c2 -> [s, grp, t, 2w + c2]
    scale_p = s32.reshape(np_ // 32, 4, 4, 2, gp).permute(0, 4, 2, 1, 3).reshape(sh["scale"]).contiguous()
    zero_p = None
    if zero is not None:
        z = torch.nn.functional.pad(zero, (0, gp - zero.shape[1], 0, np_ - n))
        zero_p = z.reshape(np_ // 32, 4, 8, gp).permute(0, 3, 2, 1).contiguous()  # [s, grp, g, w]
    return packed, scale_p, zero_p


def run_w4a16(module, x2: torch.Tensor, packed, scale, zero, bias, f: Format, n: int, k: int,
              splits: int, stream: int = 0) -> torch.Tensor:
    """y [M, N] = x2 [M, K] W^T (+ bias) with ``module.w4a16_linear`` (_C_cuda or _C_sim) on
    validated tensors in the CUDA layout; allocates y and the fp32 split-K workspace."""
    if x2.dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(f"x: the CUDA W4A16 kernel takes float16 or bfloat16 activations, got {x2.dtype}")
    block = check_cuda_weight(f, k)
    if x2.stride(-1) != 1 or x2.stride(0) % 8 or x2.data_ptr() % 16:
        x2 = x2.contiguous()  # 16-byte aligned rows for cp.async
        if x2.data_ptr() % 16:
            x2 = x2.clone()
    m = x2.shape[0]
    y = torch.empty((m, n), dtype=x2.dtype, device=x2.device)
    if m == 0:
        return y
    ws = torch.empty(splits * m * _up(n, ALIGN_N), dtype=torch.float32, device=x2.device)
    module.w4a16_linear(f.kind, block, getattr(f, "symmetric", True), m, n, k, x2.data_ptr(),
                        x2.stride(0) if m > 1 else k, dtype_code(x2.dtype), packed.data_ptr(),
                        scale.data_ptr(), data_ptr(zero), data_ptr(bias), y.data_ptr(), n,
                        ws.data_ptr(), splits, stream)
    return y
