"""qkern: 4-bit LLM inference kernels (INT4, MXFP4, NVFP4) for CPU and CUDA."""
from __future__ import annotations

import torch

from . import _C, _threads
from . import formats, ops, reference
from .formats import FP8, INT4, INT8, MXFP4, NVFP4
from .tensor import QuantizedTensor

__version__ = _C.__version__

__all__ = ["formats", "ops", "reference", "QuantizedTensor", "INT4", "MXFP4", "NVFP4", "INT8",
           "FP8", "set_num_threads", "__version__"]


def set_num_threads(n: int) -> None:
    """Threads used by qkern's CPU kernels (default: torch.get_num_threads())."""
    _C.set_num_threads(int(n))


set_num_threads(torch.get_num_threads())
_threads.configure()
