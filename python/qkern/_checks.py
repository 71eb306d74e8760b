"""Argument checks shared by every op. Each failure names the argument, says what was
expected and what came (DESIGN.md section 3). Checks run once per call, in Python."""
from __future__ import annotations

from typing import Iterable, Optional

import torch

FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _names(dtypes: Iterable[torch.dtype]) -> str:
    return ", ".join(str(d).replace("torch.", "") for d in dtypes)


def check_tensor(name: str, t, *, dtypes: Optional[Iterable[torch.dtype]] = None,
                 device: Optional[torch.device] = None, contiguous: bool = True,
                 min_dim: int = 1) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if dtypes is not None and t.dtype not in tuple(dtypes):
        raise TypeError(f"{name}: expected dtype {_names(dtypes)}, got {t.dtype}")
    if t.dim() < min_dim:
        raise ValueError(f"{name}: expected at least {min_dim} dimension(s), got shape {tuple(t.shape)}")
    if device is not None and t.device != device:
        raise ValueError(f"{name}: expected a tensor on {device} (like the other inputs), got {t.device}")
    if contiguous and not t.is_contiguous():
        raise ValueError(f"{name}: expected a contiguous tensor, got strides {t.stride()} for shape "
                         f"{tuple(t.shape)}; call .contiguous() first")


def check_shape(name: str, t: torch.Tensor, expected) -> None:
    if tuple(t.shape) != tuple(expected):
        raise ValueError(f"{name}: expected shape {tuple(expected)}, got {tuple(t.shape)}")


def check_float_dtype(name: str, dtype) -> None:
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected one of {_names(FLOAT_DTYPES)}, got {dtype}")
