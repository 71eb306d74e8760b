"""quantize / dequantize: torch.ops.qkern.quantize and torch.ops.qkern.dequantize.

Schemas (the format travels as its spec string, see qkern.formats):
  quantize(Tensor x, str fmt) -> Tensor[]          the reference.quantize tensor list
  dequantize(Tensor qdata, Tensor scale, Tensor? zero, Tensor? global_scale, str fmt,
             ScalarType dtype) -> Tensor
  dequantize_into(Tensor qdata, Tensor scale, Tensor? zero, Tensor? global_scale, str fmt,
                  Tensor(a!) out) -> ()                 writes into a caller's buffer
"""
from __future__ import annotations

from typing import List, Optional, Union

import torch

from .. import _C, reference
from .._checks import FLOAT_DTYPES, check_float_dtype, check_shape, check_tensor
from .._ext import data_ptr, dtype_code
from ..formats import Format, parse, qdata_dtype
from ..tensor import QuantizedTensor
from ._registry import cuda_impl, direct_cpu, register

# ----------------------------------------------------------------------------- checks


def _check_quantize(x: torch.Tensor, fmt: Format) -> None:
    check_tensor("x", x, dtypes=FLOAT_DTYPES)
    _check_block_shape(x.shape, fmt)


def _check_block_shape(shape, fmt: Format) -> None:
    """The block-size rules of quantize on the shape of x (whose last dim is quantized)."""
    cols = shape[-1]
    block = fmt.block_size(cols)
    if cols == 0 or cols % block or (fmt.bits == 4 and cols % 2):
        raise ValueError(f"x: the last dim ({cols}) must be a positive multiple of the {fmt.spec} "
                         f"block size ({block}){' and even' if fmt.bits == 4 else ''}; "
                         f"got shape {tuple(shape)}")


def _check_dequantize(qdata, scale, zero, global_scale, fmt: Format, dtype) -> None:
    check_tensor("qdata", qdata, dtypes=(qdata_dtype(fmt),))
    device = qdata.device
    *lead, packed = qdata.shape
    cols = packed * 2 if fmt.bits == 4 else packed
    if cols == 0:
        raise ValueError(f"qdata: the last dim must be positive, got shape {tuple(qdata.shape)}")
    block = fmt.block_size(cols)
    if cols % block:
        raise ValueError(f"qdata: {cols} logical columns are not a multiple of the {fmt.spec} "
                         f"block size ({block})")
    scale_dtypes = FLOAT_DTYPES if fmt.name == "int4" else (fmt.scale_dtype(torch.float32),)
    check_tensor("scale", scale, dtypes=scale_dtypes, device=device)
    check_shape("scale", scale, (*lead, cols // block))
    if fmt.has_zero:
        if zero is None:
            raise ValueError(f"zero: required for {fmt.spec}, got None")
        check_tensor("zero", zero, dtypes=(torch.uint8,), device=device)
        check_shape("zero", zero, scale.shape)
    elif zero is not None:
        raise ValueError(f"zero: {fmt.spec} has no zero point, got a tensor")
    if fmt.has_global_scale:
        if global_scale is None:
            raise ValueError(f"global_scale: required for {fmt.spec}, got None")
        check_tensor("global_scale", global_scale, dtypes=(torch.float32,), device=device, min_dim=0)
        if global_scale.numel() != 1:
            raise ValueError(f"global_scale: expected one element, got shape {tuple(global_scale.shape)}")
    elif global_scale is not None:
        raise ValueError(f"global_scale: {fmt.spec} has no global scale, got a tensor")
    check_float_dtype("dtype", dtype)


def _logical_shape(qdata: torch.Tensor, fmt: Format):
    *lead, packed = qdata.shape
    return (*lead, packed * 2 if fmt.bits == 4 else packed)


# ----------------------------------------------------------------------------- impls


def _quantize_fake(x: torch.Tensor, fmt: str) -> List[torch.Tensor]:
    f = parse(fmt)
    _check_quantize(x, f)
    return reference.empty_quantized(x.shape, x.dtype, f, x.device)


def _quantize_reference(x: torch.Tensor, fmt: str) -> List[torch.Tensor]:
    f = parse(fmt)
    _check_quantize(x, f)
    return reference.quantize(x, f)


def run_quantize(module, x: torch.Tensor, f: Format, stream: int = 0) -> List[torch.Tensor]:
    """Quantize a validated x with ``module.quantize`` (qkern._C, _C_cuda or _C_sim: the same
    pointer-style entry point) into freshly allocated outputs on x's device."""
    out = reference.empty_quantized(x.shape, x.dtype, f, x.device)
    cols = x.shape[-1]
    if x.numel():
        zero = out[2] if f.has_zero else None
        gscale = out[-1] if f.has_global_scale else None
        # by position, in the binding's order (cpp/bindings/format_bindings.h): keyword
        # matching costs ~2 us a call
        module.quantize(f.kind, f.block_size(cols), *f.kernel_flags().values(), x.numel() // cols, cols,
                        x.data_ptr(), dtype_code(x.dtype), out[0].data_ptr(), out[1].data_ptr(),
                        dtype_code(out[1].dtype), data_ptr(zero), data_ptr(gscale), stream)
    return out


def _quantize_cpu(x: torch.Tensor, fmt: str) -> List[torch.Tensor]:
    f = parse(fmt)
    _check_quantize(x, f)
    return run_quantize(_C, x, f)


def _quantize_cuda_body(mod, stream, x: torch.Tensor, fmt: str) -> List[torch.Tensor]:
    f = parse(fmt)
    _check_quantize(x, f)
    return run_quantize(mod, x, f, stream=stream)


def _dequantize_fake(qdata, scale, zero, global_scale, fmt: str, dtype):
    f = parse(fmt)
    _check_dequantize(qdata, scale, zero, global_scale, f, dtype)
    return qdata.new_empty(_logical_shape(qdata, f), dtype=dtype)


def _dequantize_reference(qdata, scale, zero, global_scale, fmt: str, dtype):
    f = parse(fmt)
    _check_dequantize(qdata, scale, zero, global_scale, f, dtype)
    return reference.dequantize(qdata, scale, zero, global_scale, f, dtype)


def run_dequantize(module, qdata, scale, zero, global_scale, f: Format, dtype, stream: int = 0,
                   out: Optional[torch.Tensor] = None):
    """Dequantize validated tensors with ``module.dequantize`` (any backend module) into
    ``out`` (validated) or a fresh tensor."""
    shape = _logical_shape(qdata, f)
    if out is None:
        out = qdata.new_empty(shape, dtype=dtype)
    if out.numel():
        cols = shape[-1]
        module.dequantize(f.kind, f.block_size(cols), *f.kernel_flags().values(), out.numel() // cols, cols,
                          qdata.data_ptr(), scale.data_ptr(), dtype_code(scale.dtype), data_ptr(zero),
                          data_ptr(global_scale), out.data_ptr(), dtype_code(dtype), stream)
    return out


def _dequantize_cpu(qdata, scale, zero, global_scale, fmt: str, dtype):
    f = parse(fmt)
    _check_dequantize(qdata, scale, zero, global_scale, f, dtype)
    return run_dequantize(_C, qdata, scale, zero, global_scale, f, dtype)


def _dequantize_cuda_body(mod, stream, qdata, scale, zero, global_scale, fmt: str, dtype):
    f = parse(fmt)
    _check_dequantize(qdata, scale, zero, global_scale, f, dtype)
    return run_dequantize(mod, qdata, scale, zero, global_scale, f, dtype, stream=stream)


def _check_out(qdata, f: Format, out) -> None:
    check_tensor("out", out, dtypes=FLOAT_DTYPES, device=qdata.device)
    check_shape("out", out, _logical_shape(qdata, f))


def _dequantize_into_fake(qdata, scale, zero, global_scale, fmt: str, out) -> None:
    f = parse(fmt)
    _check_dequantize(qdata, scale, zero, global_scale, f, torch.float32)  # out's dtype: below
    _check_out(qdata, f, out)


def _dequantize_into_reference(qdata, scale, zero, global_scale, fmt: str, out) -> None:
    _dequantize_into_fake(qdata, scale, zero, global_scale, fmt, out)
    out.copy_(reference.dequantize(qdata, scale, zero, global_scale, parse(fmt), out.dtype))


def _dequantize_into_cpu(qdata, scale, zero, global_scale, fmt: str, out) -> None:
    _dequantize_into_fake(qdata, scale, zero, global_scale, fmt, out)
    run_dequantize(_C, qdata, scale, zero, global_scale, parse(fmt), out.dtype, out=out)


def _dequantize_into_cuda_body(mod, stream, qdata, scale, zero, global_scale, fmt: str, out) -> None:
    _dequantize_into_fake(qdata, scale, zero, global_scale, fmt, out)
    run_dequantize(mod, qdata, scale, zero, global_scale, parse(fmt), out.dtype, stream=stream, out=out)


register("quantize", "(Tensor x, str fmt) -> Tensor[]",
         fake=_quantize_fake, cpu=_quantize_cpu, reference=_quantize_reference,
         cuda=cuda_impl("quantize", _quantize_reference, _quantize_cuda_body))
register("dequantize",
         "(Tensor qdata, Tensor scale, Tensor? zero, Tensor? global_scale, str fmt, "
         "ScalarType dtype) -> Tensor",
         fake=_dequantize_fake, cpu=_dequantize_cpu, reference=_dequantize_reference,
         cuda=cuda_impl("dequantize", _dequantize_reference, _dequantize_cuda_body))
register("dequantize_into",
         "(Tensor qdata, Tensor scale, Tensor? zero, Tensor? global_scale, str fmt, "
         "Tensor(a!) out) -> ()",
         fake=_dequantize_into_fake, cpu=_dequantize_into_cpu,
         reference=_dequantize_into_reference,
         cuda=cuda_impl("dequantize_into", _dequantize_into_reference, _dequantize_into_cuda_body))

# ----------------------------------------------------------------------------- public API


def quantize(x: torch.Tensor, fmt: Union[Format, str]) -> QuantizedTensor:
    """Quantize x[..., K] over its last dim into ``fmt`` (a qkern.formats.Format or spec)."""
    f = parse(fmt)
    if not isinstance(x, torch.Tensor):  # before the dispatcher, which would say "list"
        raise TypeError(f"x: expected a torch.Tensor, got {type(x).__name__}")
    op = _quantize_cpu if direct_cpu(x) else torch.ops.qkern.quantize
    out = op(x, f.spec)
    zero = out[2] if f.has_zero else None
    gscale = out[-1] if f.has_global_scale else None
    return QuantizedTensor(qdata=out[0], scale=out[1], fmt=f, zero=zero, global_scale=gscale)


def dequantize(q: QuantizedTensor, dtype: Optional[torch.dtype] = None, *,
               out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The values of ``q`` in ``dtype`` (fp32, fp16 or bf16; default fp32, or out's dtype).

    With ``out`` (a contiguous tensor of q's logical shape on q's device) the values are
    written there and ``out`` is returned: reusing a buffer avoids allocating, and on the CPU
    the first-touch page faults of a fresh large tensor can cost more than the kernel."""
    if not isinstance(q, QuantizedTensor):
        raise TypeError(f"q: expected a qkern.QuantizedTensor, got {type(q).__name__}")
    direct = direct_cpu(q.qdata, q.scale, q.global_scale, out)  # out: None, or checked as the rest
    if out is None:
        op = _dequantize_cpu if direct else torch.ops.qkern.dequantize
        return op(q.qdata, q.scale, q.zero, q.global_scale, q.fmt.spec, dtype or torch.float32)
    if dtype is not None and isinstance(out, torch.Tensor) and dtype != out.dtype:
        raise ValueError(f"dtype: {dtype} differs from out's dtype {out.dtype}; pass one of them")
    op = _dequantize_into_cpu if direct else torch.ops.qkern.dequantize_into
    op(q.qdata, q.scale, q.zero, q.global_scale, q.fmt.spec, out)
    return out
