"""Loading of the compiled extensions.

``qkern._C`` (CPU kernels) is always part of an installed qkern. ``qkern._C_cuda`` (real
GPUs) and ``qkern._C_sim`` (the SIMT emulator, for tests) are optional and loaded lazily:
importing qkern never fails because a CUDA driver, a GPU or a CUDA build is missing.
"""
from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import Optional

import torch

from . import _C  # noqa: F401  (the CPU extension is required)

# dtype codes of qkern/dtype.h (the binding ABI).
_DTYPE_CODES = {
    torch.float32: 0,
    torch.float16: 1,
    torch.bfloat16: 2,
    torch.uint8: 3,
    torch.int8: 4,
}


def dtype_code(dtype: torch.dtype) -> int:
    return _DTYPE_CODES[dtype]


def data_ptr(t: Optional[torch.Tensor]) -> int:
    """Address of a tensor's first element, 0 for None (a null pointer in C++)."""
    return 0 if t is None else t.data_ptr()


@functools.lru_cache(maxsize=None)
def optional_module(name: str) -> Optional[ModuleType]:
    """qkern.<name> if it was built and loads, else None (the reason is in load_error)."""
    try:
        return importlib.import_module(f"qkern.{name}")
    except ImportError as e:  # not built, or the CUDA runtime is missing
        _load_errors[name] = str(e)
        return None


_load_errors: dict = {}


def load_error(name: str) -> Optional[str]:
    optional_module(name)
    return _load_errors.get(name)
