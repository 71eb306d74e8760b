"""The pure helpers of qkern/gemm.h: prepacked CPU shapes, workspace size and the tile
plan (GEMV/GEMM choice, blocking, work split) over many problem sizes."""
from __future__ import annotations

import pytest

from qkern import _C

LAYOUT = _C.w4a16_cpu_layout()
MR, NR = 6, 16  # GEMM register tile of qkern/gemm.h (kW4GemmMr, kW4GemmNr)


@pytest.mark.parametrize("n,k,block", [(1, 32, 32), (7, 128, 128), (16, 64, 16), (100, 6, 6),
                                       (4096, 4096, 128), (4097, 100, 100), (33, 4096, 4096)])
def test_shape(n, k, block):
    s = _C.w4a16_cpu_shape(n, k, block)
    assert s["n_pad"] % LAYOUT["align_n"] == 0 and n <= s["n_pad"] < n + LAYOUT["align_n"]
    assert s["k_pad"] % LAYOUT["tile_k"] == 0 and k <= s["k_pad"] < k + LAYOUT["tile_k"]
    # grouped formats keep their group; one group per row (per channel) spans the padding
    assert s["group"] == (s["k_pad"] if block == k else block)
    assert s["group"] % LAYOUT["tile_k"] == 0 and s["groups"] * s["group"] == s["k_pad"]
    assert _C.w4a16_cpu_workspace_floats(3, n, k, block) == 3 * (s["k_pad"] + s["groups"])


@pytest.mark.parametrize("threads", [1, 2, 16])
@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 7, 8, 9, 10, 16, 17, 100, 1000, 8192])
@pytest.mark.parametrize("n,k,block", [(1, 32, 32), (7, 4096, 128), (100, 64, 16), (4096, 4096, 128),
                                       (11008, 4096, 32), (300, 100, 100)])
def test_plan(m, n, k, block, threads):
    p = _C.w4a16_cpu_plan(m, n, k, block, threads)
    s = _C.w4a16_cpu_shape(n, k, block)
    assert p["gemv"] == (m <= LAYOUT["gemv_max_m"])
    if p["gemv"]:
        return
    # blocks are whole register tiles and cover the problem exactly once
    assert p["nc"] % NR == 0 and 0 < p["nc"] <= max(128, NR)
    assert p["mc"] == m or (p["mc"] % MR == 0 and p["mc"] <= 120)
    assert p["kc"] % LAYOUT["tile_k"] == 0 and 0 < p["kc"] <= min(128, s["k_pad"])
    assert p["work_m"] == -(-m // p["mc"]) and p["work_n"] == -(-s["n_pad"] // p["nc"])
    # every thread gets work whenever the problem has enough register tiles for it
    tiles = -(-m // MR) * (s["n_pad"] // NR)
    assert p["work_m"] * p["work_n"] >= min(2 * threads, tiles)
    # L2 budget per thread: panel kc x nc + x block mc x kc + output block mc x nc (fp32)
    assert 4 * (p["kc"] * p["nc"] + p["mc"] * p["kc"] + p["mc"] * p["nc"]) <= 256 * 1024
