"""W4A16 linear layers: y = x W^T (+ bias) with a 4-bit weight W (INT4, MXFP4, NVFP4) and
fp32/fp16/bf16 activations, fp32 accumulation, y in x's dtype.

Public API::

    y = qkern.ops.w4a16_linear(x, weight, bias=None, g_idx=None)
    p = qkern.ops.prepack(weight, device="cpu", g_idx=None)     # -> PrepackedWeight

``weight`` is a canonical :class:`qkern.QuantizedTensor` (prepacked on every call: a full
pass over the weight) or a :class:`PrepackedWeight` (the kernel layout, made once).

Ops (torch.ops.qkern.*):

  w4a16_linear(Tensor x, Tensor qdata, Tensor scale, Tensor? zero, Tensor? global_scale,
               Tensor? g_idx, Tensor? bias, str fmt) -> Tensor
      canonical weight; pure-PyTorch reference on devices without a kernel
  w4a16_prepack(Tensor qdata, Tensor scale, Tensor? zero, Tensor? global_scale, Tensor? perm,
                str fmt) -> Tensor[]
      canonical -> CPU layout: [packed, scale] (+ [zero] for INT4 asymmetric); the global
      scale is checked and kept as it is
  w4a16_linear_prepacked(Tensor x, Tensor packed, Tensor scale, Tensor? zero,
                         Tensor? global_scale, Tensor? perm, Tensor? bias, str fmt,
                         str layout, int n, int k) -> Tensor

Layout (cpp/include/qkern/gemm.h, docs/gemm.md): tag ``qkern.cpu.w4.n16k8.v3``; packed
uint8 [Np/16, Kp/8, 64] (16 output x 8 input channels per 64-byte tile, one 32-bit word per
channel), scale and zero [Np/16, groups, 16] in their canonical encodings (NVFP4 scales
unsigned, a negative scale's sign in its codes); act-order weights carry ``perm`` (int32 [K],
a stable argsort of g_idx): packed column k' is column perm[k'] of the canonical weight.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch

from .. import _C, _ext
from .._checks import FLOAT_DTYPES, check_shape, check_tensor
from .._ext import data_ptr, dtype_code
from ..formats import INT4, MXFP4, NVFP4, Format, parse
from ..tensor import QuantizedTensor
from ..reference import linear_reference
from ._registry import direct_cpu, register
from ._scratch import cpu_scratch
from .formats import _check_dequantize
from .gemm_cuda import CUDA_LAYOUT, check_cuda_weight, cuda_prepack, cuda_shapes, run_w4a16

__all__ = ["w4a16_linear", "prepack", "PrepackedWeight", "CPU_LAYOUT", "CUDA_LAYOUT"]

_LAYOUT = _C.w4a16_cpu_layout()
CPU_LAYOUT: str = _LAYOUT["tag"]
# Attribute of a PrepackedWeight holding the result of its CPU checks (_checked_cpu_weight).
_CHECKED = "_cpu_checked"
_TILE_N, _TILE_K, _TILE_BYTES = _LAYOUT["tile_n"], _LAYOUT["tile_k"], _LAYOUT["tile_bytes"]


def _layout_backend(layout: str) -> str:
    """'qkern.<backend>.<...>' -> backend ('cpu', 'cuda', ...)."""
    parts = layout.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "qkern" else "unknown"


# ----------------------------------------------------------------------------- the weight


@dataclass
class PrepackedWeight:
    """A 4-bit [N, K] weight in a kernel layout, made once by :func:`prepack`.

    All fields are plain tensors plus a layout tag naming the backend and layout version
    (``layout``), so :meth:`tensors` goes into a state_dict as is (the tag, format and
    shape travel as a uint8 ``meta`` tensor holding JSON) and :meth:`from_tensors` restores.
    The tensors are the layout's, not the canonical ones (the CPU layout's NVFP4 scales
    are unsigned, their signs in the codes): build one with :func:`prepack`, not by hand.
    """

    packed: torch.Tensor
    scale: torch.Tensor
    fmt: Format
    shape: Tuple[int, int]
    layout: str
    zero: Optional[torch.Tensor] = None
    global_scale: Optional[torch.Tensor] = None
    perm: Optional[torch.Tensor] = None

    def __setattr__(self, name, value) -> None:
        self.__dict__.pop(_CHECKED, None)  # a new field invalidates the kept checks
        super().__setattr__(name, value)

    @property
    def backend(self) -> str:
        return _layout_backend(self.layout)

    @property
    def device(self) -> torch.device:
        return self.packed.device

    def to(self, device) -> "PrepackedWeight":
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return replace(self, packed=move(self.packed), scale=move(self.scale), zero=move(self.zero),
                       global_scale=move(self.global_scale), perm=move(self.perm))

    def tensors(self) -> Dict[str, torch.Tensor]:
        meta = json.dumps({"layout": self.layout, "fmt": self.fmt.spec, "shape": list(self.shape)})
        out = {"packed": self.packed, "scale": self.scale,
               "meta": torch.frombuffer(bytearray(meta.encode()), dtype=torch.uint8).clone()}
        for name in ("zero", "global_scale", "perm"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    @classmethod
    def from_tensors(cls, tensors: Dict[str, torch.Tensor]) -> "PrepackedWeight":
        t = dict(tensors)
        meta = json.loads(bytes(t.pop("meta").cpu().tolist()).decode())
        w = cls(fmt=parse(meta["fmt"]), shape=tuple(meta["shape"]), layout=meta["layout"], **t)
        if (w.layout == CPU_LAYOUT and isinstance(w.fmt, NVFP4) and isinstance(w.scale, torch.Tensor)
                and w.scale.dtype == torch.uint8):  # other dtypes: the call's checks say so
            # once per load: signed (canonical) E4M3 bytes would be misread, not refused
            bad = (w.scale & 0x80).bool() & (w.scale != 0xFF)
            if bad.any():
                raise ValueError(f"scale: the {CPU_LAYOUT} layout stores NVFP4 scales unsigned "
                                 f"(0x00..0x7E, 0xFF for NaN), got byte {int(w.scale[bad][0])}; "
                                 "make the weight with qkern.ops.prepack")
        return w


# ----------------------------------------------------------------------------- checks


def _weight_format(fmt: str) -> Format:
    f = parse(fmt)
    if not isinstance(f, (INT4, MXFP4, NVFP4)):
        raise ValueError(f"weight: W4A16 takes INT4, MXFP4 or NVFP4 weights, got format {f.spec}")
    return f


def _check_canonical(qdata, scale, zero, global_scale, f: Format) -> Tuple[int, int, int]:
    """Checks a canonical weight (as qkern.ops.dequantize does) that is 2-D; returns
    (N, K, block)."""
    _check_dequantize(qdata, scale, zero, global_scale, f, torch.float32)
    if qdata.dim() != 2:
        raise ValueError(f"qdata: expected a 2-D [N, K/2] weight, got shape {tuple(qdata.shape)}")
    n, k = qdata.shape[0], qdata.shape[1] * 2
    return n, k, f.block_size(k)


def _check_zero(zero, f: Format, device, shape) -> None:
    if f.has_zero:
        if zero is None:
            raise ValueError(f"weight.zero: required for {f.spec}, got None")
        check_tensor("weight.zero", zero, dtypes=(torch.uint8,), device=device)
        check_shape("weight.zero", zero, shape)
    elif zero is not None:
        raise ValueError(f"weight.zero: {f.spec} has no zero point, got a tensor")


def _check_global(global_scale, f: Format, device) -> None:
    if f.has_global_scale:
        if global_scale is None:
            raise ValueError(f"weight.global_scale: required for {f.spec}, got None")
        check_tensor("weight.global_scale", global_scale, dtypes=(torch.float32,), device=device,
                     min_dim=0)
        if global_scale.numel() != 1:
            raise ValueError(f"weight.global_scale: expected one element, got shape "
                             f"{tuple(global_scale.shape)}")
    elif global_scale is not None:
        raise ValueError(f"weight.global_scale: {f.spec} has no global scale, got a tensor")


def _check_x_bias(x, bias, n: int, k: int) -> None:
    check_tensor("x", x, dtypes=FLOAT_DTYPES, contiguous=False)
    if x.shape[-1] != k:
        raise ValueError(f"x: the last dim must equal the weight's K = {k}, got shape {tuple(x.shape)}")
    if bias is not None:
        check_tensor("bias", bias, dtypes=(x.dtype,), device=x.device)
        check_shape("bias", bias, (n,))


def _perm_from_g_idx(g_idx, k: int, block: int, device) -> torch.Tensor:
    """Act-order: int32 perm = stable argsort of g_idx; every group must hold `block` columns."""
    check_tensor("g_idx", g_idx, dtypes=(torch.int32, torch.int64), device=device)
    check_shape("g_idx", g_idx, (k,))
    perm = torch.argsort(g_idx, stable=True)
    expected = torch.arange(k, device=g_idx.device) // block
    if not torch.equal(g_idx[perm].to(expected.dtype), expected):
        raise ValueError(f"g_idx: every group 0..{k // block - 1} must hold exactly {block} columns "
                         "(GPTQ act-order assigns them so); got other group sizes or indices")
    return perm.to(torch.int32)


def _check_perm(perm, k: int, device) -> None:
    if perm is not None:
        check_tensor("weight.perm", perm, dtypes=(torch.int32,), device=device)
        check_shape("weight.perm", perm, (k,))


def _as_rows(x: torch.Tensor, k: int) -> Tuple[torch.Tensor, int]:
    """x [..., K] -> ([M, K] with unit column stride, row stride in elements)."""
    if x.dim() == 2 and x.is_contiguous():  # the common case, without the view's cost
        return x, k
    x2 = x.reshape(-1, k)
    if x2.stride(-1) != 1 or (x2.shape[0] > 1 and x2.stride(0) < k):
        x2 = x2.contiguous()
    return x2, (x2.stride(0) if x2.shape[0] > 1 else k)


# ----------------------------------------------------------------------------- prepack op


def _prepacked_shapes(n: int, k: int, block: int) -> Mapping[str, Tuple[int, int, int]]:
    """Shapes of the CPU layout's packed and scale (and zero) tensors; read-only, cached (a
    call per linear op) for plain ints (symbolic sizes under torch.compile go uncached)."""
    if type(n) is int and type(k) is int and type(block) is int:
        return _prepacked_shapes_cached(n, k, block)
    return _prepacked_shapes_cached.__wrapped__(n, k, block)


@functools.lru_cache(maxsize=1024)
def _prepacked_shapes_cached(n: int, k: int, block: int) -> Mapping[str, Tuple[int, int, int]]:
    s = _C.w4a16_cpu_shape(n, k, block)
    tiles = s["n_pad"] // _TILE_N
    return MappingProxyType({"packed": (tiles, s["k_pad"] // _TILE_K, _TILE_BYTES),
                             "scale": (tiles, s["groups"], _TILE_N)})


def _prepack_checks(qdata, scale, zero, global_scale, perm, fmt: str):
    f = _weight_format(fmt)
    n, k, block = _check_canonical(qdata, scale, zero, global_scale, f)
    _check_perm(perm, k, qdata.device)
    return f, n, k, block


def _prepack_empty(qdata, scale, f: Format, n: int, k: int, block: int) -> List[torch.Tensor]:
    shapes = _prepacked_shapes(n, k, block)
    out = [qdata.new_empty(shapes["packed"], dtype=torch.uint8),
           scale.new_empty(shapes["scale"], dtype=scale.dtype)]
    if f.has_zero:
        out.append(qdata.new_empty(shapes["scale"], dtype=torch.uint8))
    return out


def _prepack_fake(qdata, scale, zero, global_scale, perm, fmt: str) -> List[torch.Tensor]:
    f, n, k, block = _prepack_checks(qdata, scale, zero, global_scale, perm, fmt)
    return _prepack_empty(qdata, scale, f, n, k, block)


def _prepack_cpu(qdata, scale, zero, global_scale, perm, fmt: str) -> List[torch.Tensor]:
    f, n, k, block = _prepack_checks(qdata, scale, zero, global_scale, perm, fmt)
    out = _prepack_empty(qdata, scale, f, n, k, block)
    _C.w4a16_prepack(kind=f.kind, block=block, symmetric=getattr(f, "symmetric", True),
                     global_scale=f.has_global_scale, n=n, k=k, qdata=qdata.data_ptr(),
                     scale=scale.data_ptr(), scale_dtype=dtype_code(scale.dtype), zero=data_ptr(zero),
                     perm=data_ptr(perm), packed=out[0].data_ptr(), scale_out=out[1].data_ptr(),
                     zero_out=data_ptr(out[2] if f.has_zero else None))
    return out


def _prepack_reference(qdata, scale, zero, global_scale, perm, fmt: str) -> List[torch.Tensor]:
    raise NotImplementedError(f"qkern.w4a16_prepack: the W4 layout '{CPU_LAYOUT}' is made for CPU "
                              f"tensors; got a weight on {qdata.device} (no {qdata.device.type} "
                              "layout exists yet)")


register("w4a16_prepack",
         "(Tensor qdata, Tensor scale, Tensor? zero, Tensor? global_scale, Tensor? perm, str fmt) "
         "-> Tensor[]",
         fake=_prepack_fake, cpu=_prepack_cpu, reference=_prepack_reference)


# ----------------------------------------------------------------------------- linear ops


def _prepacked_checks(x, packed, scale, zero, global_scale, perm, bias, fmt: str, layout: str,
                      n: int, k: int) -> Tuple[Format, int]:
    f, block = _check_prepacked_weight(packed, scale, zero, global_scale, perm, fmt, layout, n, k,
                                       x.device)
    _check_x_bias(x, bias, n, k)
    return f, block


def _check_prepacked_weight(packed, scale, zero, global_scale, perm, fmt: str, layout: str, n: int,
                            k: int, device: torch.device) -> Tuple[Format, int]:
    """Checks a prepacked weight for the kernel of `device` (x's); returns (format, block)."""
    f = _weight_format(fmt)
    expected = CUDA_LAYOUT if device.type == "cuda" else CPU_LAYOUT
    if layout != expected:
        raise ValueError(f"weight: prepacked with layout '{layout}' (backend "
                         f"'{_layout_backend(layout)}'), which the {device.type} kernel cannot "
                         f"read (it expects '{expected}'); prepack the canonical weight for this "
                         f"device with qkern.ops.prepack(weight, '{device.type}')")
    block = f.block_size(k)
    if layout == CUDA_LAYOUT:
        _check_cuda_prepacked(device, packed, scale, zero, global_scale, perm, f, n, k)
        return f, block
    shapes = _prepacked_shapes(n, k, block)
    check_tensor("weight.packed", packed, dtypes=(torch.uint8,), device=device)
    check_shape("weight.packed", packed, shapes["packed"])
    scale_dtypes = FLOAT_DTYPES if isinstance(f, INT4) else (f.scale_dtype(torch.float32),)
    check_tensor("weight.scale", scale, dtypes=scale_dtypes, device=device)
    check_shape("weight.scale", scale, shapes["scale"])
    _check_zero(zero, f, device, shapes["scale"])
    _check_global(global_scale, f, device)
    _check_perm(perm, k, device)
    return f, block


def _check_cuda_prepacked(device, packed, scale, zero, global_scale, perm, f: Format, n: int, k: int) -> None:
    shapes = cuda_shapes(n, k, check_cuda_weight(f, k))
    check_tensor("weight.packed", packed, dtypes=(torch.uint8,), device=device)
    check_shape("weight.packed", packed, shapes["packed"])
    check_tensor("weight.scale", scale, dtypes=(torch.float32,), device=device)
    check_shape("weight.scale", scale, shapes["scale"])
    _check_zero(zero, f, device, shapes["zero"])
    if global_scale is not None:
        raise ValueError("weight.global_scale: the CUDA layout folds the NVFP4 global scale into "
                         "weight.scale; expected None")
    _check_perm(perm, k, device)


def _linear_prepacked_fake(x, packed, scale, zero, global_scale, perm, bias, fmt, layout, n, k):
    _prepacked_checks(x, packed, scale, zero, global_scale, perm, bias, fmt, layout, n, k)
    return x.new_empty((*x.shape[:-1], n))


def _linear_prepacked_cpu(x, packed, scale, zero, global_scale, perm, bias, fmt, layout, n, k):
    f, block = _prepacked_checks(x, packed, scale, zero, global_scale, perm, bias, fmt, layout, n, k)
    return _run_prepacked_cpu(x, packed, scale, zero, global_scale, perm, bias, f, block, n, k)


def _run_prepacked_cpu(x, packed, scale, zero, global_scale, perm, bias, f: Format, block: int,
                       n: int, k: int) -> torch.Tensor:
    """The CPU kernel on checked arguments."""
    x2, x_stride = _as_rows(x, k)
    m = x2.shape[0]
    y = x.new_empty((m, n))
    if m and n:
        ws = cpu_scratch("w4a16_workspace", _C.w4a16_cpu_workspace_floats(m, n, k, block))
        # positional: keyword parsing of 20 arguments costs more than the checks above
        _C.w4a16_linear(f.kind, block, getattr(f, "symmetric", True), f.has_global_scale, m, n, k,
                        x2.data_ptr(), x_stride, dtype_code(x.dtype), data_ptr(perm),
                        packed.data_ptr(), scale.data_ptr(), dtype_code(scale.dtype),
                        data_ptr(zero), data_ptr(global_scale), data_ptr(bias), y.data_ptr(), n,
                        ws.data_ptr())
    return y if x.dim() == 2 else y.reshape(*x.shape[:-1], n)


_CPU = torch.device("cpu")


def _tensor_versions(w: PrepackedWeight) -> tuple:
    """The version counter of each of w's tensors (-1: None; None: not a tensor, which the
    checks refuse). Every in-place change bumps it (copy_, resize_, set_, ...), so a changed
    shape, dtype or storage comes with a new one. scale and global_scale are plain tensors
    or None here (direct_cpu checked them)."""
    z, g, p = w.zero, w.global_scale, w.perm
    return (getattr(w.packed, "_version", None), w.scale._version,
            -1 if z is None else getattr(z, "_version", None), -1 if g is None else g._version,
            -1 if p is None else getattr(p, "_version", None))


def _checked_cpu_weight(w: PrepackedWeight) -> Tuple[Format, int]:
    """_check_prepacked_weight for the CPU kernel, run once per PrepackedWeight and kept on
    it with its tensors' versions (a decode step calls every layer's weight again, and the
    checks were half of the call's host time); assigning a field drops it."""
    versions = _tensor_versions(w)
    kept = w.__dict__.get(_CHECKED)
    if kept is not None and kept[0] == versions:
        return kept[1]
    n, k = w.shape
    result = _check_prepacked_weight(w.packed, w.scale, w.zero, w.global_scale, w.perm, w.fmt.spec,
                                     w.layout, n, k, _CPU)
    w.__dict__[_CHECKED] = (versions, result)
    return result


def _linear_prepacked_weight_cpu(x, w: PrepackedWeight, bias) -> torch.Tensor:
    """w4a16_linear's eager CPU call with a PrepackedWeight: the weight checked once
    (_checked_cpu_weight), x and bias on every call."""
    n, k = w.shape
    f, block = _checked_cpu_weight(w)
    _check_x_bias(x, bias, n, k)
    return _run_prepacked_cpu(x, w.packed, w.scale, w.zero, w.global_scale, w.perm, bias, f, block, n, k)


def _linear_prepacked_cuda(x, packed, scale, zero, global_scale, perm, bias, fmt, layout, n, k):
    f, _ = _prepacked_checks(x, packed, scale, zero, global_scale, perm, bias, fmt, layout, n, k)
    mod = _ext.optional_module("_C_cuda")
    if mod is None:
        raise RuntimeError("qkern.w4a16_linear: qkern._C_cuda is not available (built without CUDA "
                           "or failed to load); use the canonical QuantizedTensor (reference path)")
    x2 = x.reshape(-1, k)
    if perm is not None:  # act-order: x's columns in packed order (one gather pass over x)
        x2 = x2.index_select(1, perm)
    m = x2.shape[0]
    splits = _C.w4a16_cuda_splits(m, n, k, _sm_count(x.device))
    y = run_w4a16(mod, x2, packed, scale, zero, bias, f, n, k, splits,
                  torch.cuda.current_stream(x.device).cuda_stream)
    return y.reshape(*x.shape[:-1], n)


def _sm_count(device: torch.device) -> int:
    return torch.cuda.get_device_properties(device).multi_processor_count


def _linear_prepacked_reference(x, packed, scale, zero, global_scale, perm, bias, fmt, layout, n, k):
    raise ValueError(f"weight: prepacked for backend '{_layout_backend(layout)}' (layout '{layout}'), "
                     f"but x is on {x.device}, which has no kernel for it; use the canonical "
                     "QuantizedTensor or prepack it for this device")


register("w4a16_linear_prepacked",
         "(Tensor x, Tensor packed, Tensor scale, Tensor? zero, Tensor? global_scale, Tensor? perm, "
         "Tensor? bias, str fmt, str layout, int n, int k) -> Tensor",
         fake=_linear_prepacked_fake, cpu=_linear_prepacked_cpu, cuda=_linear_prepacked_cuda,
         reference=_linear_prepacked_reference)


def _linear_checks(x, qdata, scale, zero, global_scale, g_idx, bias, fmt: str):
    f = _weight_format(fmt)
    n, k, block = _check_canonical(qdata, scale, zero, global_scale, f)
    _check_x_bias(x, bias, n, k)
    if qdata.device != x.device:
        raise ValueError(f"weight: expected a weight on {x.device} (like x), got {qdata.device}")
    if g_idx is not None and not isinstance(f, INT4):
        raise ValueError(f"g_idx: act-order applies to INT4 weights, got {f.spec}")
    return f, n, k, block


def _linear_fake(x, qdata, scale, zero, global_scale, g_idx, bias, fmt: str):
    f, n, k, block = _linear_checks(x, qdata, scale, zero, global_scale, g_idx, bias, fmt)
    return x.new_empty((*x.shape[:-1], n))


def _linear_cpu(x, qdata, scale, zero, global_scale, g_idx, bias, fmt: str):
    f, n, k, block = _linear_checks(x, qdata, scale, zero, global_scale, g_idx, bias, fmt)
    perm = None if g_idx is None else _perm_from_g_idx(g_idx, k, block, x.device)
    packed = _prepack_cpu(qdata, scale, zero, global_scale, perm, fmt)
    zero_p = packed[2] if f.has_zero else None
    return _linear_prepacked_cpu(x, packed[0], packed[1], zero_p, global_scale, perm, bias, fmt,
                                 CPU_LAYOUT, n, k)


def _linear_reference(x, qdata, scale, zero, global_scale, g_idx, bias, fmt: str):
    """Dequantize (reference.py) and multiply in fp32, rounding once to x's dtype."""
    f, n, k, block = _linear_checks(x, qdata, scale, zero, global_scale, g_idx, bias, fmt)
    if g_idx is not None:
        _perm_from_g_idx(g_idx, k, block, x.device)
    return linear_reference(x, QuantizedTensor(qdata, scale, f, zero, global_scale), bias, g_idx)


register("w4a16_linear",
         "(Tensor x, Tensor qdata, Tensor scale, Tensor? zero, Tensor? global_scale, Tensor? g_idx, "
         "Tensor? bias, str fmt) -> Tensor",
         fake=_linear_fake, cpu=_linear_cpu, reference=_linear_reference)




# ----------------------------------------------------------------------------- public API


def prepack(weight: QuantizedTensor, device: Union[str, torch.device, None] = None,
            g_idx: Optional[torch.Tensor] = None) -> PrepackedWeight:
    """The kernel layout of a canonical 4-bit [N, K] weight for ``device`` (default: the
    weight's), made once. ``g_idx`` (GPTQ act-order, INT4) is folded in as a column order."""
    if not isinstance(weight, QuantizedTensor):
        raise TypeError(f"weight: expected a qkern.QuantizedTensor, got {type(weight).__name__}")
    device = torch.device(device) if device is not None else weight.device
    if device.type not in ("cpu", "cuda"):
        raise NotImplementedError(f"qkern.ops.prepack: no W4 layout for device '{device.type}'; keep "
                                  "the canonical QuantizedTensor (reference path) or prepack for "
                                  "'cpu' or 'cuda'")
    if device.type == "cuda":
        return _prepack_for_cuda(weight, device, g_idx)
    w = weight.to(device)
    f = _weight_format(w.fmt.spec)
    if w.qdata.dim() != 2:
        raise ValueError(f"weight: expected a 2-D [N, K] weight, got shape {tuple(w.shape)}")
    n, k = w.shape
    perm = None
    if g_idx is not None:
        if not isinstance(f, INT4):
            raise ValueError(f"g_idx: act-order applies to INT4 weights, got {f.spec}")
        perm = _perm_from_g_idx(g_idx.to(device), k, f.block_size(k), device)
    out = torch.ops.qkern.w4a16_prepack(w.qdata, w.scale, w.zero, w.global_scale, perm, f.spec)
    return PrepackedWeight(packed=out[0], scale=out[1], fmt=f, shape=(n, k), layout=CPU_LAYOUT,
                           zero=out[2] if f.has_zero else None, global_scale=w.global_scale, perm=perm)


def _prepack_for_cuda(weight: QuantizedTensor, device: torch.device, g_idx) -> PrepackedWeight:
    """The CUDA layout (gemm_cuda.py), made on the CPU once and moved to ``device``."""
    f = _weight_format(weight.fmt.spec)
    w = weight.to("cpu")
    n, k, block = _check_canonical(w.qdata, w.scale, w.zero, w.global_scale, f)
    perm = None
    if g_idx is not None:
        if not isinstance(f, INT4):
            raise ValueError(f"g_idx: act-order applies to INT4 weights, got {f.spec}")
        perm = _perm_from_g_idx(g_idx.to("cpu"), k, block, torch.device("cpu"))
    packed, scale, zero = cuda_prepack(w.qdata, w.scale, w.zero, w.global_scale, f, perm)
    move = lambda t: None if t is None else t.to(device)  # noqa: E731
    return PrepackedWeight(packed=move(packed), scale=move(scale), fmt=f, shape=(n, k),
                           layout=CUDA_LAYOUT, zero=move(zero), perm=move(perm))


def w4a16_linear(x: torch.Tensor, weight: Union[QuantizedTensor, PrepackedWeight],
                 bias: Optional[torch.Tensor] = None, g_idx: Optional[torch.Tensor] = None) -> torch.Tensor:
    """y[..., N] = x[..., K] W^T (+ bias) in x's dtype (fp32/fp16/bf16), fp32 accumulation.

    ``weight``: a canonical QuantizedTensor (INT4, MXFP4, NVFP4; prepacked on each call) or
    a PrepackedWeight from :func:`prepack` (fast path). ``g_idx``: GPTQ act-order group of
    each input column (INT4, canonical weights only; a PrepackedWeight carries it).
    """
    if isinstance(weight, PrepackedWeight):
        if g_idx is not None:
            raise ValueError("g_idx: a PrepackedWeight already carries its act-order; pass g_idx "
                             "to qkern.ops.prepack instead")
        if direct_cpu(x, weight.scale, weight.global_scale, bias) and weight.layout == CPU_LAYOUT:
            return _linear_prepacked_weight_cpu(x, weight, bias)
        if isinstance(x, torch.Tensor) and x.device.type != weight.backend:
            raise ValueError(f"weight: prepacked for backend '{weight.backend}' (layout "
                             f"'{weight.layout}'), but x is on {x.device}; prepack the canonical "
                             f"weight with qkern.ops.prepack(weight, '{x.device.type}')")
        n, k = weight.shape
        return torch.ops.qkern.w4a16_linear_prepacked(
            x, weight.packed, weight.scale, weight.zero, weight.global_scale, weight.perm, bias,
            weight.fmt.spec, weight.layout, n, k)
    if isinstance(weight, QuantizedTensor):
        direct = direct_cpu(x, weight.scale, weight.global_scale, bias)
        op = _linear_cpu if direct else torch.ops.qkern.w4a16_linear
        return op(x, weight.qdata, weight.scale, weight.zero, weight.global_scale, g_idx, bias,
                  weight.fmt.spec)
    raise TypeError(f"weight: expected a qkern.QuantizedTensor or qkern.ops.PrepackedWeight, got "
                    f"{type(weight).__name__}")
