"""Calls into the C++ codecs of qkern/codecs.h (exposed as qkern._C.codecs) on tensors."""
from __future__ import annotations

import torch

from qkern import _C


def run_codec(name: str, x: torch.Tensor, out_dtype: torch.dtype) -> torch.Tensor:
    x = x.contiguous()
    out = torch.empty(x.shape, dtype=out_dtype)
    getattr(_C.codecs, name)(x.data_ptr(), out.data_ptr(), x.numel())
    return out
