"""QuantizedTensor: a quantized tensor in the canonical (checkpoint) layout.

For a logical tensor x[..., K] in format ``fmt`` (block size B):

============  ============================================================================
qdata         uint8 [..., K/2] for 4-bit formats: element 2j in bits 3..0, 2j+1 in bits
              7..4 (the torch.float4_e2m1fn_x2 byte order); int8 [..., K] for INT8;
              uint8 E4M3 codes [..., K] for FP8
scale         [..., K/B]: INT4 in x's dtype; MXFP4 uint8 E8M0 codes; NVFP4 uint8 E4M3
              codes; INT8 / FP8 float32 [..., 1]
zero          uint8 [..., K/B], INT4 asymmetric only
global_scale  float32 scalar, NVFP4 only: the decode scale d
============  ============================================================================

Codes are plain bytes (uint8), never float8 dtypes: every torch version and op handles
them, and ``.view(torch.float8_e4m3fn)`` / ``.view(torch.float4_e2m1fn_x2)`` gives the typed
view where torch has one. All fields are plain tensors, so they go into a state_dict as
they are (``tensors()``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Optional

import torch

from . import formats as _formats
from .formats import Format

__all__ = ["QuantizedTensor"]


@dataclass
class QuantizedTensor:
    qdata: torch.Tensor
    scale: torch.Tensor
    fmt: Format
    zero: Optional[torch.Tensor] = None
    global_scale: Optional[torch.Tensor] = None

    @property
    def shape(self) -> torch.Size:
        """Logical shape of the tensor this one quantizes."""
        *lead, cols = self.qdata.shape
        return torch.Size([*lead, cols * 2 if self.fmt.bits == 4 else cols])

    @property
    def device(self) -> torch.device:
        return self.qdata.device

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        from .ops import dequantize

        return dequantize(self, dtype=dtype)

    def to(self, device) -> "QuantizedTensor":
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return replace(self, qdata=move(self.qdata), scale=move(self.scale), zero=move(self.zero),
                       global_scale=move(self.global_scale))

    def tensors(self) -> Dict[str, torch.Tensor]:
        """The plain tensors, by field name (absent optional fields are left out)."""
        out = {"qdata": self.qdata, "scale": self.scale}
        if self.zero is not None:
            out["zero"] = self.zero
        if self.global_scale is not None:
            out["global_scale"] = self.global_scale
        return out

    @classmethod
    def from_tensors(cls, fmt, tensors: Dict[str, torch.Tensor]) -> "QuantizedTensor":
        """Inverse of ``tensors()``; ``fmt`` is a Format or its spec string."""
        return cls(fmt=_formats.parse(fmt), **tensors)

    def __repr__(self) -> str:
        return (f"QuantizedTensor(fmt={self.fmt.spec}, shape={tuple(self.shape)}, "
                f"device={self.device})")
