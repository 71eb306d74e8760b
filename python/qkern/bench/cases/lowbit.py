"""lowbit: W4A8 / W4A4 GEMMs (4-bit weights, 8- or 4-bit activations).

No such kernel exists in qkern yet, so the family only reports that; its cases (with the
dense matmul and w4a16 as baselines) land together with the kernels.
"""
from __future__ import annotations

from typing import List

from .base import Context, Unavailable


def lowbit_cases(ctx: Context) -> List[Unavailable]:
    return [Unavailable("lowbit", "w4a8/w4a4 GEMM", "not available in this build")]
