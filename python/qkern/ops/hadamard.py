"""hadamard / hadamard_ / hadamard_quantize: online Walsh-Hadamard rotations (QuaRot,
SpinQuant) over the last dim, optionally fused with quantization.

Schemas:
  hadamard(Tensor x, float? scale, Tensor? signs, bool transpose) -> Tensor
  hadamard_(Tensor(a!) x, float? scale, Tensor? signs, bool transpose) -> ()
  hadamard_quantize(Tensor x, str fmt, Tensor? signs, bool swizzle_scales,
                    float? global_scale=None) -> Tensor[]

The transform, sizes and the randomized variant are defined in qkern.hadamard. The fused
op rotates each row in fp32 exactly as hadamard() does for an fp32 input and quantizes
that fp32 row: hadamard_quantize(x, f) == quantize(hadamard(x.float()), f) bit for bit,
except that INT4 scales are stored in x's dtype (as quantize(x, f) stores them).

Backends: CPU tensors run cpp/hadamard (qkern._C), CUDA tensors cuda/hadamard (qkern._C_cuda,
bit-identical to the CPU kernels; docs/hadamard.md), every other device the reference.
run_hadamard / run_hadamard_quantize call any backend module the same way (the emulator
tests pass qkern._C_sim).
"""
from __future__ import annotations

import math
import weakref
from typing import List, Optional, Union

import torch

from .. import _C, hadamard as _had, reference
from .._checks import FLOAT_DTYPES, check_tensor
from .._ext import data_ptr, dtype_code
from ..formats import MXFP4, NVFP4, Format, parse
from ..tensor import QuantizedTensor
from ._registry import cuda_impl, direct_cpu, register
from ._scratch import cpu_scratch
from .formats import _check_block_shape

__all__ = ["hadamard", "hadamard_", "hadamard_quantize"]

# ----------------------------------------------------------------------------- checks


def _check_common(x, scale, signs) -> int:
    """Checks shared by the three ops; returns n."""
    check_tensor("x", x, dtypes=FLOAT_DTYPES, contiguous=False)
    n = x.shape[-1]
    _had.decompose(n)
    if scale is not None and not math.isfinite(scale):
        raise ValueError(f"scale: expected a finite number or None, got {scale}")
    if signs is not None:
        check_tensor("signs", signs, device=x.device, contiguous=False)
        if signs.dim() != 1 or signs.shape[0] != n:
            raise ValueError(f"signs: expected a 1-D tensor of length {n} (the last dim of x), "
                             f"got shape {tuple(signs.shape)}")
        if signs.dtype == torch.bool or signs.is_complex():
            raise TypeError(f"signs: expected a real tensor of +1 and -1, got {signs.dtype}")
    return n


def _check_swizzle(fmt: Format, swizzle_scales: bool) -> None:
    if swizzle_scales and not isinstance(fmt, (MXFP4, NVFP4)):
        raise ValueError(f"swizzle_scales: the 128x4 block-scale layout exists for MXFP4 and NVFP4, "
                         f"not {fmt.spec}")


def _scale_value(scale: Optional[float], n: int) -> float:
    return 1.0 / math.sqrt(n) if scale is None else float(scale)


# id(signs) -> (weak reference, version counter, validated contiguous fp32 copy). Checking
# the values costs a few small torch ops and a sync (~40 us) per call, while signs are
# normally a fixed buffer. The version counter (shared by all views of a storage) changes
# on any in-place write; the weak reference drops the entry with the tensor, so a reused
# id cannot hit a stale entry.
_checked_signs: dict = {}


def _kernel_signs(signs: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """signs as the kernels take them (contiguous fp32), after checking the values."""
    if signs is None:
        return None
    cacheable = not signs.is_inference()  # inference tensors have no version counter
    key = id(signs)
    if cacheable:
        hit = _checked_signs.get(key)
        if hit is not None and hit[0]() is signs and hit[1] == signs._version:
            return hit[2]
    _had.check_signs(signs)
    f32 = signs.to(torch.float32).contiguous()
    if cacheable:
        ref = weakref.ref(signs, lambda _, key=key, cache=_checked_signs: cache.pop(key, None))
        _checked_signs[key] = (ref, signs._version, f32)
    return f32


def _rows_view(x: torch.Tensor) -> Optional[torch.Tensor]:
    """x as a [rows, n] view of the same memory with a contiguous last dim and rows at
    least n apart, or None when its strides do not allow one."""
    n = x.shape[-1]
    if x.dim() == 2 and x.is_contiguous():
        return x
    if x.dim() == 0 or (x.stride(-1) != 1 and n > 1):
        return None
    try:
        rows = x.view(-1, n)
    except RuntimeError:
        return None
    return rows if rows.shape[0] <= 1 or rows.stride(0) >= n else None


def _kernel_args(x2: torch.Tensor, n: int, scale, signs, transpose: bool) -> tuple:
    """The 8 leading arguments of every backend's hadamard and hadamard_quantize binding, in
    order (cpp/bindings/hadamard_bindings.h): rows, n, x, x_row_stride, x_dtype, mix_codes,
    signs, scale."""
    k, _ = _had.decompose(n)
    codes = _had.mix_codes(k, transpose, x2.device) if k > 1 else None
    return (x2.shape[0], n, x2.data_ptr(), x2.stride(0), dtype_code(x2.dtype), data_ptr(codes),
            data_ptr(signs), _scale_value(scale, n))


# ----------------------------------------------------------------------------- hadamard


def _hadamard_fake(x, scale, signs, transpose):
    _check_common(x, scale, signs)
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _hadamard_reference(x, scale, signs, transpose):
    _check_common(x, scale, signs)
    return _had.transform(x, scale, signs, transpose)


def _workspace(module, rows: int, n: int, device, workspace_rows: Optional[int]):
    """(fp32 workspace, its rows) for the CUDA kernels: rows too long for shared memory
    go through a global buffer (cuda/hadamard/hadamard.h); ``workspace_rows`` forces one
    (tests; the CPU's hadamard_quantize asks for one through it, see run_hadamard_quantize)."""
    if workspace_rows is None:
        query = getattr(module, "hadamard_workspace_rows", None)
        workspace_rows = query(rows, n) if query is not None else 0
    if not workspace_rows:
        return None, 0
    return torch.empty(workspace_rows * n, dtype=torch.float32, device=device), workspace_rows


def run_hadamard(module, x2: torch.Tensor, out2: torch.Tensor, scale, signs, transpose: bool,
                 stream: int = 0, workspace_rows: Optional[int] = None) -> None:
    """out2 = the rotation of the validated [rows, n] view x2 with ``module.hadamard``
    (qkern._C, _C_cuda or _C_sim: the same pointer-style entry point); signs as
    _kernel_signs returns them. out2 may be x2 (in place)."""
    rows, n = x2.shape
    if x2.numel():
        ws, ws_rows = _workspace(module, rows, n, x2.device, workspace_rows)
        # then out, out_row_stride, out_dtype, signs_after, workspace, workspace_rows, stream
        module.hadamard(*_kernel_args(x2, n, scale, signs, transpose), out2.data_ptr(), out2.stride(0),
                        dtype_code(out2.dtype), transpose, data_ptr(ws), ws_rows, stream)


def _hadamard_cpu(x, scale, signs, transpose):
    _check_common(x, scale, signs)
    return _hadamard_with(_C, x, scale, signs, transpose)


def _check_inplace(x, scale, signs) -> int:
    # hadamard_ has no autograd formula: without this check, a tensor that requires grad
    # would keep its previous grad_fn and get a silently wrong gradient
    if torch.is_grad_enabled() and x.requires_grad:
        raise RuntimeError("x: hadamard_ (in place) is not differentiable and x requires grad; "
                           "use hadamard() or run under torch.no_grad()")
    return _check_common(x, scale, signs)


def _hadamard_inplace_fake(x, scale, signs, transpose):
    _check_inplace(x, scale, signs)


def _hadamard_inplace_reference(x, scale, signs, transpose):
    _check_inplace(x, scale, signs)
    x.copy_(_had.transform(x, scale, signs, transpose))


def _hadamard_with(module, x, scale, signs, transpose, stream=0, workspace_rows=None):
    """hadamard() of a checked x on any backend module."""
    n = x.shape[-1]
    signs = _kernel_signs(signs)
    x2 = _rows_view(x)
    if x2 is None:
        x2 = x.contiguous().view(-1, n)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    run_hadamard(module, x2, out if out.dim() == 2 else out.view(-1, n), scale, signs, transpose,
                 stream, workspace_rows)
    return out


def _hadamard_inplace_with(module, x, scale, signs, transpose, stream=0, workspace_rows=None):
    """hadamard_() of a checked x on any backend module."""
    signs = _kernel_signs(signs)
    x2 = _rows_view(x)
    if x2 is None:
        raise ValueError(f"x: hadamard_ (in place) needs a contiguous last dim and rows with one "
                         f"stride; got shape {tuple(x.shape)} with strides {x.stride()}; use "
                         f"hadamard() or call .contiguous() first")
    run_hadamard(module, x2, x2, scale, signs, transpose, stream, workspace_rows)


def _hadamard_inplace_cpu(x, scale, signs, transpose):
    _check_inplace(x, scale, signs)
    _hadamard_inplace_with(_C, x, scale, signs, transpose)


def _hadamard_body(mod, stream, x, scale, signs, transpose):
    _check_common(x, scale, signs)
    return _hadamard_with(mod, x, scale, signs, transpose, stream)


def _hadamard_inplace_body(mod, stream, x, scale, signs, transpose):
    _check_inplace(x, scale, signs)
    _hadamard_inplace_with(mod, x, scale, signs, transpose, stream)


_hadamard_cuda = cuda_impl("hadamard", _hadamard_reference, _hadamard_body)
_hadamard_inplace_cuda = cuda_impl("hadamard_", _hadamard_inplace_reference, _hadamard_inplace_body)


def _hadamard_setup_context(ctx, inputs, output):
    _, scale, signs, transpose = inputs
    ctx.scale, ctx.transpose = scale, transpose
    ctx.save_for_backward(signs)


def _hadamard_backward(ctx, grad):
    # y = x M with M = diag(s) H * scale (or its transpose): dx = dy M^T, the other variant.
    (signs,) = ctx.saved_tensors
    return torch.ops.qkern.hadamard(grad, ctx.scale, signs, not ctx.transpose), None, None, None


register("hadamard", "(Tensor x, float? scale, Tensor? signs, bool transpose) -> Tensor",
         fake=_hadamard_fake, cpu=_hadamard_cpu, reference=_hadamard_reference, cuda=_hadamard_cuda)
torch.library.register_autograd("qkern::hadamard", _hadamard_backward,
                                setup_context=_hadamard_setup_context)
register("hadamard_", "(Tensor(a!) x, float? scale, Tensor? signs, bool transpose) -> ()",
         fake=_hadamard_inplace_fake, cpu=_hadamard_inplace_cpu,
         reference=_hadamard_inplace_reference, cuda=_hadamard_inplace_cuda)

# ----------------------------------------------------------------------------- hadamard_quantize


def _empty_outputs(x: torch.Tensor, f: Format, swizzle_scales: bool) -> List[torch.Tensor]:
    out = reference.empty_quantized(x.shape, x.dtype, f, x.device)
    if swizzle_scales:  # flat, zero-padded 128x4 atoms (the kernel leaves the padding alone)
        rows, cols = x.numel() // x.shape[-1], out[1].shape[-1]
        size = (-(-rows // 128) * 128) * (-(-cols // 4) * 4)
        out[1] = torch.zeros(size, dtype=out[1].dtype, device=x.device)
    return out


# Smallest static NVFP4 decode scale: qkern/recipes.h's nvfp4_global_scale keeps d >= 2^-120
# so that the element factors (1/d) / s_b stay finite.
_MIN_GLOBAL_SCALE = 2.0 ** -120
_MAX_GLOBAL_SCALE = torch.finfo(torch.float32).max  # the kernels store it as fp32


def _check_hadamard_quantize(x, f: Format, signs, swizzle_scales: bool, global_scale) -> None:
    _check_common(x, None, signs)
    _check_block_shape(x.shape, f)  # quantize()'s rules (x itself may be strided here)
    _check_swizzle(f, swizzle_scales)
    if global_scale is not None:
        if not f.has_global_scale:
            raise ValueError(f"global_scale: a static global scale exists for two-level NVFP4 "
                             f"('nvfp4'), not {f.spec}")
        if not _MIN_GLOBAL_SCALE <= global_scale <= _MAX_GLOBAL_SCALE:  # False for NaN
            raise ValueError(f"global_scale: expected a finite decode scale >= 2^-120 (amax / "
                             f"(448 * 6) of calibrated activations), got {global_scale}")


def _hadamard_quantize_fake(x, fmt: str, signs, swizzle_scales: bool, global_scale=None):
    f = parse(fmt)
    _check_hadamard_quantize(x, f, signs, swizzle_scales, global_scale)
    return _empty_outputs(x, f, swizzle_scales)


def _hadamard_quantize_reference(x, fmt: str, signs, swizzle_scales: bool, global_scale=None):
    f = parse(fmt)
    _check_hadamard_quantize(x, f, signs, swizzle_scales, global_scale)
    out = reference.quantize(_had.transform(x.float(), None, signs, False), f, global_scale)
    if swizzle_scales:
        out[1] = _had.swizzle_block_scales(out[1].reshape(-1, out[1].shape[-1]))
    return out


def run_hadamard_quantize(module, x, f: Format, signs, swizzle_scales: bool, stream: int = 0,
                          workspace_rows: Optional[int] = None,
                          global_scale: Optional[float] = None) -> List[torch.Tensor]:
    """hadamard_quantize of a checked x with ``module.hadamard_quantize`` (any backend
    module) into freshly allocated outputs on x's device. ``global_scale``: a static NVFP4
    decode scale (stored, then used by the kernel instead of an amax pass)."""
    signs = _kernel_signs(signs)
    n = x.shape[-1]
    x2 = _rows_view(x)
    if x2 is None:
        x2 = x.contiguous().view(-1, n)
    out = _empty_outputs(x, f, swizzle_scales)
    static = global_scale is not None
    if static:
        out[-1].fill_(global_scale)
    if x.numel():
        query = getattr(module, "hadamard_quantize_workspace_rows", None)
        if query is not None:  # the CPU: NVFP4 two-level keeps its rotated rows
            ws_rows = query(x2.shape[0], n, f.has_global_scale and not static)
            if workspace_rows is not None:
                ws_rows = min(ws_rows, workspace_rows)
            ws = cpu_scratch("hadamard_kept_rows", ws_rows * n) if ws_rows else None
        else:
            ws, ws_rows = _workspace(module, x2.shape[0], n, x.device, workspace_rows)
        # then kind, block, symmetric, rceil, global_scale, qdata, scale_out, scale_dtype, zero,
        # global_scale_out, swizzled_scales, workspace, workspace_rows, stream, static_global_scale
        module.hadamard_quantize(*_kernel_args(x2, n, None, signs, False), f.kind, f.block_size(n),
                                 *f.kernel_flags().values(), out[0].data_ptr(), out[1].data_ptr(),
                                 dtype_code(out[1].dtype), data_ptr(out[2] if f.has_zero else None),
                                 data_ptr(out[-1] if f.has_global_scale else None), swizzle_scales,
                                 data_ptr(ws), ws_rows, stream, static)
    return out


def _hadamard_quantize_body(mod, stream, x, fmt: str, signs, swizzle_scales: bool, global_scale=None):
    f = parse(fmt)
    _check_hadamard_quantize(x, f, signs, swizzle_scales, global_scale)
    return run_hadamard_quantize(mod, x, f, signs, swizzle_scales, stream, global_scale=global_scale)


def _hadamard_quantize_cpu(x, fmt: str, signs, swizzle_scales: bool, global_scale=None):
    return _hadamard_quantize_body(_C, 0, x, fmt, signs, swizzle_scales, global_scale)


_hadamard_quantize_cuda = cuda_impl("hadamard_quantize", _hadamard_quantize_reference, _hadamard_quantize_body)


register("hadamard_quantize",
         "(Tensor x, str fmt, Tensor? signs, bool swizzle_scales, float? global_scale=None) -> Tensor[]",
         fake=_hadamard_quantize_fake, cpu=_hadamard_quantize_cpu,
         reference=_hadamard_quantize_reference, cuda=_hadamard_quantize_cuda)

# ----------------------------------------------------------------------------- public API


def hadamard(x: torch.Tensor, scale: Optional[float] = None, *, signs: Optional[torch.Tensor] = None,
             transpose: bool = False) -> torch.Tensor:
    """y = x H * scale over the last dim (scale = 1/sqrt(n) by default), n = K * 2^p as in
    qkern.hadamard; fp32/fp16/bf16 in and out (computed in fp32, rounded once).

    ``signs`` (+-1, length n) makes it the randomized Hadamard y = x diag(signs) H * scale;
    ``transpose`` applies the transpose y = x H^T diag(signs) * scale, which inverts the
    normalised forward. Differentiable (the backward is the transpose).
    """
    op = _hadamard_cpu if direct_cpu(x, signs) else torch.ops.qkern.hadamard
    return op(x, scale, signs, transpose)


def hadamard_(x: torch.Tensor, scale: Optional[float] = None, *, signs: Optional[torch.Tensor] = None,
              transpose: bool = False) -> torch.Tensor:
    """In-place ``hadamard``: overwrites x (contiguous last dim, uniform row stride) and
    returns it. Not differentiable."""
    op = _hadamard_inplace_cpu if direct_cpu(x, signs) else torch.ops.qkern.hadamard_
    op(x, scale, signs, transpose)
    return x


def hadamard_quantize(x: torch.Tensor, fmt: Union[Format, str], *, signs: Optional[torch.Tensor] = None,
                      swizzle_scales: bool = False, global_scale: Optional[float] = None) -> QuantizedTensor:
    """Rotation (normalised, optionally randomized) and quantization in one pass; equal bit
    for bit to quantize(hadamard(x.float(), signs=signs), fmt), with INT4 scales stored in
    x's dtype as quantize(x, fmt) stores them. The rotated row is never rounded to x's
    dtype, so a bf16 input loses less than quantize(hadamard(x), fmt).

    ``swizzle_scales`` (MXFP4, NVFP4): the block scales come out flat in the 128x4-atom
    layout of block-scaled GEMMs (qkern.hadamard.swizzle_block_scales; rows are all the
    leading dims), zero-padded. Such a QuantizedTensor feeds a GEMM; dequantize() refuses
    it (the scale shape is not the canonical one).

    ``global_scale`` (two-level NVFP4): a static decode scale d (amax / (448 * 6) of
    calibrated rotated activations, as NVFP4 serving stacks use) instead of the amax of
    this tensor: no amax pass; values beyond 448 * 6 * d saturate. The result equals
    quantize with that d (qkern.reference.quantize(..., global_scale=d)).
    """
    f = parse(fmt)
    if global_scale is not None:
        global_scale = float(global_scale)
    op = _hadamard_quantize_cpu if direct_cpu(x, signs) else torch.ops.qkern.hadamard_quantize
    out = op(x, f.spec, signs, swizzle_scales, global_scale)
    zero = out[2] if f.has_zero else None
    gscale = out[-1] if f.has_global_scale else None
    return QuantizedTensor(qdata=out[0], scale=out[1], fmt=f, zero=zero, global_scale=gscale)
