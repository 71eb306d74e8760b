"""Test helpers: the format and dtype sweeps, bit-level tensor comparison, and calls into
the C++ codecs of qkern/codecs.h (exposed as qkern._C.codecs) on tensors."""
from __future__ import annotations

import torch

from qkern import _C
from qkern import formats as F

FLOATS = (torch.float32, torch.bfloat16, torch.float16)
FORMATS = F.ALL_WEIGHT_FORMATS + (F.INT4(32), F.INT4(64, symmetric=False), F.INT4(None),
                                  F.INT4(None, symmetric=False), F.INT8(), F.FP8())


def run_codec(name: str, x: torch.Tensor, out_dtype: torch.dtype) -> torch.Tensor:
    x = x.contiguous()
    out = torch.empty(x.shape, dtype=out_dtype)
    getattr(_C.codecs, name)(x.data_ptr(), out.data_ptr(), x.numel())
    return out


def bits(t: torch.Tensor) -> torch.Tensor:
    """Integer view of a tensor, so that equal NaNs compare equal and -0 != +0."""
    if t.dtype.is_floating_point:
        return t.view({1: torch.uint8, 2: torch.int16, 4: torch.int32}[t.element_size()])
    return t


def assert_same_tensors(got, want, nan_payloads: bool = False):
    """Bit-exact comparison of two tensor lists. Float NaNs must sit in the same places;
    their bits (sign, payload) are compared only with ``nan_payloads``."""
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        if g.dtype.is_floating_point and g.element_size() > 1 and not nan_payloads:
            assert torch.equal(g.isnan(), w.isnan())
            assert torch.equal(bits(g)[~g.isnan()], bits(w)[~w.isnan()])
        else:
            assert torch.equal(bits(g), bits(w))
