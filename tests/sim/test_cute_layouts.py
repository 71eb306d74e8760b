"""The emulator's fragment layouts (cuda/ptx/layouts.h, exposed by qkern._C_sim) against
CuTe's MMA and ldmatrix traits from the nvidia-cutlass headers, so the emulator's mma and
ldmatrix twins agree with the hardware by construction.

tests/sim/cute_layouts.cu is compiled here with nvcc (plain g++ cannot parse the CuTe
headers; the program itself only runs on the host) and cached under build/cute/ by the hash
of its source. Skips with a reason when nvcc or the headers are missing."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

from qkern import _ext

pytestmark = pytest.mark.sim

ROOT = Path(__file__).resolve().parents[2]
SOURCE = Path(__file__).with_name("cute_layouts.cu")

MMA_K = {
    "SM80_16x8x16_F32BF16BF16F32_TN": 16,
    "SM80_16x8x16_F32F16F16F32_TN": 16,
    "SM80_16x8x32_S32S8S8S32_TN": 32,
    "SM80_16x8x64_S32S4S4S32_TN": 64,
    "SM89_16x8x32_F32E4M3E4M3F32_TN": 32,
    "SM120_16x8x64_TN_VS_ue8m0_32": 64,
    "SM120_16x8x64_TN_VS_ue4m3_16": 64,
}
COPIES = {  # trait -> (registers per lane, transposed)
    "SM75_U32x1_LDSM_N": (1, False), "SM75_U32x2_LDSM_N": (2, False), "SM75_U32x4_LDSM_N": (4, False),
    "SM75_U16x2_LDSM_T": (1, True), "SM75_U16x4_LDSM_T": (2, True), "SM75_U16x8_LDSM_T": (4, True),
}


def _nvcc():
    found = shutil.which("nvcc")
    if found:
        return found
    default = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "bin" / "nvcc"
    return str(default) if default.exists() else None


def _cutlass_include():
    try:
        import cutlass_library
    except ImportError:
        return None
    inc = Path(cutlass_library.__file__).parent / "source" / "include"
    return inc if (inc / "cute" / "tensor.hpp").exists() else None


@pytest.fixture(scope="module")
def cute_maps():
    nvcc, inc = _nvcc(), _cutlass_include()
    if nvcc is None:
        pytest.skip("nvcc not found (needed to compile the CuTe layout program)")
    if inc is None:
        pytest.skip("CUTLASS/CuTe headers not found (pip install nvidia-cutlass)")
    digest = hashlib.sha256(SOURCE.read_bytes() + str(inc).encode()).hexdigest()[:16]
    cache = ROOT / "build" / "cute"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        cache = Path(tempfile.gettempdir()) / "qkern-cute"
        cache.mkdir(exist_ok=True)
    exe = cache / f"cute_layouts-{digest}"
    if not exe.exists():
        tmp = exe.with_suffix(".tmp")
        subprocess.run([nvcc, "-std=c++17", "-arch=sm_80", f"-I{inc}", str(SOURCE), "-o", str(tmp)],
                       check=True, capture_output=True, timeout=600)
        tmp.replace(exe)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    mma, copy = defaultdict(dict), defaultdict(dict)
    for line in out.splitlines():
        kind, trait, *rest = line.split()
        if kind == "mma":
            operand, t, v, r, c = rest[0], *map(int, rest[1:])
            mma[(trait, operand)][(t, v)] = (r, c)
        else:
            t, bit, st, sbit = map(int, rest)
            copy[trait][(t, bit)] = (st, sbit)
    assert len(mma) == 3 * len(MMA_K) + 4 and len(copy) == len(COPIES)
    return mma, copy


@pytest.fixture(scope="module")
def sim():
    return _ext.optional_module("_C_sim")


@pytest.mark.parametrize("trait", list(MMA_K))
@pytest.mark.parametrize("operand", ["A", "B", "C"])
def test_mma_fragment_layouts(cute_maps, sim, trait, operand):
    mma, _ = cute_maps
    k = MMA_K[trait]
    ours = {(lane, i): (r, c) for lane, i, r, c in sim.mma_layout(k, operand)}
    theirs = mma[(trait, operand)]
    if operand == "B":  # CuTe's B tile is (N, K); ours is (K, N)
        theirs = {tv: (c, r) for tv, (r, c) in theirs.items()}
    assert ours == theirs


@pytest.mark.parametrize("trait", [t for t in MMA_K if t.startswith("SM120")])
def test_block_scale_layouts(cute_maps, sim, trait):
    """Scale factors: lane holds the scales of one A row / B column for every K (CuTe's value
    index is k); lanes with (lane & 2) set duplicate their partner for A."""
    mma, _ = cute_maps
    sfa = {lane: r for lane, _, r, _ in sim.mma_layout(64, "SFA")}
    sfb = {lane: r for lane, _, r, _ in sim.mma_layout(64, "SFB")}
    for (t, v), (row, k) in mma[(trait, "SFA")].items():
        assert (row, k) == (sfa[t], v)
    for (t, v), (col, k) in mma[(trait, "SFB")].items():
        assert (col, k) == (sfb[t], v)


@pytest.mark.parametrize("trait", list(COPIES))
def test_ldmatrix_layouts(cute_maps, sim, trait):
    """Destination lane l, bit 16*(2j + h) (register j, half h) comes from the row address
    of lane 8j + row at bit 16*col, (row, col) = ldmatrix_coord(trans, l, h)."""
    _, copy = cute_maps
    nregs, trans = COPIES[trait]
    coord = {(lane, h): (r, c) for lane, h, r, c in sim.ldmatrix_layout(trans)}
    ours = {}
    for lane in range(32):
        for j in range(nregs):
            for h in range(2):
                r, c = coord[(lane, h)]
                ours[(lane, 32 * j + 16 * h)] = (8 * j + r, 16 * c)
    assert ours == copy[trait]
