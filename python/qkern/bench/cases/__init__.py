"""Op families of the suite: name -> function(Context) returning its Cases and the
Unavailable notes for what this build lacks. ``--ops`` accepts exactly these names."""
from __future__ import annotations

from typing import Callable, Dict, List

from .base import Case, Context, Impl, Unavailable
from .formats import dequantize_cases, quantize_cases
from .hadamard import hadamard_cases
from .kv_attention import kv_attention_cases
from .lowbit import lowbit_cases
from .w4a16 import w4a16_cases

FAMILIES: Dict[str, Callable[[Context], List[object]]] = {
    "quantize": quantize_cases,
    "dequantize": dequantize_cases,
    "hadamard": hadamard_cases,
    "w4a16": w4a16_cases,
    "lowbit": lowbit_cases,
    "kv_attention": kv_attention_cases,
}

__all__ = ["FAMILIES", "Case", "Context", "Impl", "Unavailable"]
