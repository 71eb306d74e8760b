"""The CUDA W4A16 kernel (cuda/gemm/w4a16.cu) and its prepacked layout
(qkern/ops/gemm_cuda.py): the layout by a pure-index test, the kernel in the SIMT emulator
(qkern._C_sim, CPU tensors, marked `sim`) for every format, f16/bf16, M 1/3/16/17, N 8/40/72
(tails of the 32-wide strips) and K of one and several groups, split-K 1 and >1, under the
forward/reverse/shuffle schedules; and the same cases on a GPU through torch.ops.qkern
(marked `cuda`). Accuracy rule: tests/tolerance.py (<= 2x PyTorch's error, both vs fp64)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from qkern import _C, _ext, ops
from qkern._ext import dtype_code
from qkern.formats import parse
from qkern.ops.gemm import CUDA_LAYOUT, _perm_from_g_idx
from qkern.reference import dequantize_weight
from qkern.ops.gemm_cuda import cuda_element_position, cuda_prepack, cuda_shapes, run_w4a16
from tolerance import assert_close_to_reference

# format -> (K of one group, K of several groups)
FORMATS = {
    "int4:g128:sym": (128, 384),
    "int4:g128:asym": (128, 256),
    "int4:g32:sym": (32, 96),
    "int4:g32:asym": (32, 160),
    "mxfp4:floor": (32, 128),
    "nvfp4": (16, 80),
    "int4:channel:sym": (96, 384),  # groups of 6 and 24 k16 steps: not powers of two
}
DTYPES = (torch.float16, torch.bfloat16)
# (M, N, which K, split-K count): M around the 16-row block, N around the 32-wide strips
# (8 and 40: tails; 72: three strips, the block's 4th warp idle), splits > 1 and more
# splits than K tiles (empty splits write zeros).
SHAPES = [(1, 8, 0, 1), (3, 40, 1, 2), (16, 72, 1, 1), (17, 40, 0, 3), (17, 72, 1, 4), (1, 72, 1, 3)]


def sim():
    mod = _ext.optional_module("_C_sim")
    if mod is None:
        pytest.skip("qkern._C_sim is not built (QKERN_SIM=OFF or no CUDA headers)")
    return mod


def make_weight(n, k, fmt, dtype):
    return ops.quantize(torch.randn(n, k).to(dtype), fmt)


def check(y, x, q, bias=None, what="", g_idx=None):
    w = dequantize_weight(q, g_idx)
    ref64 = x.double() @ w.double().t()
    baseline = F.linear(x, w.to(x.dtype), None)
    if bias is not None:
        ref64 = ref64 + bias.double()
        baseline = baseline + bias
    assert y.dtype == x.dtype and y.shape == ref64.shape
    assert_close_to_reference(y.cpu(), ref64.cpu(), baseline.cpu(), what=what, sum_terms=w.shape[1],
                              abs_ref64=(x.double().abs() @ w.double().abs().t()).cpu())


def run_sim(x, q, bias=None, splits=1, g_idx=None):
    """The emulated kernel, called as _linear_prepacked_cuda calls _C_cuda (perm gathers x)."""
    f = parse(q.fmt.spec)
    n, k = q.shape
    perm = None if g_idx is None else _perm_from_g_idx(g_idx, k, f.block_size(k), g_idx.device)
    packed, scale, zero = cuda_prepack(q.qdata, q.scale, q.zero, q.global_scale, f, perm)
    if perm is not None:
        x = x.index_select(1, perm)
    return run_w4a16(sim(), x, packed, scale, zero, bias, f, n, k, splits)


# ----------------------------------------------------------------------------- layout


@pytest.mark.parametrize("fmt,n,k", [(fmt, n, k) for fmt in ("int4:g32:asym", "nvfp4", "int4:channel:sym",
                                                               "mxfp4:floor")
                                      for n, k in ((8, 32), (40, 96), (72, 64))]
                         + [("nvfp4", 72, 48), ("int4:channel:asym", 40, 48)])  # K padded to 64
def test_layout_pure_index(fmt, n, k):
    """Unpack every element with the documented formula and compare with the canonical
    codes; scales and zero points with theirs; padding is 0."""
    torch.manual_seed(n + k)
    f = parse(fmt)
    q = make_weight(n, k, fmt, torch.float32)
    packed, scale, zero = cuda_prepack(q.qdata, q.scale, q.zero, q.global_scale, f)
    block = f.block_size(k)
    sh = cuda_shapes(n, k, block)
    assert packed.shape == sh["packed"] and scale.shape == sh["scale"]
    nn_, kk = torch.meshgrid(torch.arange(sh["n_pad"]), torch.arange(sh["packed"][1] * 32), indexing="ij")
    s, c, lane, byte, nib = cuda_element_position(nn_, kk)
    got = (packed[s, c, lane, byte] >> (4 * nib)) & 0xF
    codes = torch.stack((q.qdata & 0xF, q.qdata >> 4), -1).reshape(n, k)
    assert torch.equal(got[:n, :k], codes)
    assert not got[n:].any() and not got[:, k:].any()
    # every byte of packed is reached exactly twice (two nibbles)
    flat = ((s * packed.shape[1] + c) * 32 + lane) * 16 + byte
    assert torch.equal(torch.bincount(flat.flatten(), minlength=packed.numel()),
                       torch.full((packed.numel(),), 2))
    # scale of (column, group) at [s, grp, t, 2w + c2], column = 32s + 8w + 2t + c2
    col, grp = torch.meshgrid(torch.arange(n), torch.arange(k // block), indexing="ij")
    sc = scale[col // 32, grp, (col % 8) // 2, 2 * ((col % 32) // 8) + col % 2]
    # expected: the canonical scales decoded by the CPU kernels' codecs (an independent path)
    want = torch.empty(q.scale.shape, dtype=torch.float32)
    _C.w4a16_decode_scales(kind=f.kind, block=block, symmetric=getattr(f, "symmetric", True),
                           global_scale=f.has_global_scale, scale_dtype=dtype_code(q.scale.dtype),
                           global_scale_value=float(q.global_scale) if q.global_scale is not None else 1.0,
                           codes=q.scale.contiguous().data_ptr(), n=q.scale.numel(), out=want.data_ptr())
    assert torch.equal(sc, want)
    pad = torch.ones(sh["scale"], dtype=torch.bool)
    pad[col // 32, grp, (col % 8) // 2, 2 * ((col % 32) // 8) + col % 2] = False
    assert pad.sum() == scale.numel() - col.numel() and not scale[pad].any()
    if zero is not None:
        assert torch.equal(zero[col // 32, grp, col % 8, (col % 32) // 8], q.zero)


# ----------------------------------------------------------------------------- emulator


@pytest.mark.sim
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_sim_matches_reference(fmt, dtype, shape):
    m, n, which, splits = shape
    k = FORMATS[fmt][which]
    torch.manual_seed(m * 1000 + n + k)
    q = make_weight(n, k, fmt, dtype)
    x = torch.randn(m, k).to(dtype)
    check(run_sim(x, q, splits=splits), x, q, what=f"{fmt} {dtype} {shape}")


@pytest.mark.sim
@pytest.mark.parametrize("schedule", ["forward", "reverse", "shuffle"])
@pytest.mark.parametrize("fmt", ["int4:g32:asym", "nvfp4"])
def test_sim_schedules(fmt, schedule):
    """A missing barrier around the shared A tile shows as wrong results under some order."""
    torch.manual_seed(5)
    q = make_weight(72, 96, fmt, torch.bfloat16)
    x = torch.randn(17, 96).to(torch.bfloat16)
    sim().set_schedule(schedule, 11)
    try:
        y = run_sim(x, q, splits=2)
    finally:
        sim().set_schedule("forward", 0)
    check(y, x, q, what=schedule)


@pytest.mark.sim
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sim_bias_and_strided_x(dtype):
    torch.manual_seed(3)
    q = make_weight(40, 64, "int4:g32:sym", dtype)
    xb = torch.randn(5, 128).to(dtype)
    x = xb[:, :64]  # row stride 128: cp.async reads rows in place
    bias = torch.randn(40).to(dtype)
    check(run_sim(x, q, bias=bias, splits=2), x, q, bias=bias)


@pytest.mark.sim
@pytest.mark.parametrize("fmt", ["int4:g32:sym", "int4:g32:asym"])
def test_sim_act_order(fmt):
    """GPTQ act-order: groups scattered over K (g_idx); prepack sorts the columns."""
    torch.manual_seed(9)
    n, k, block = 40, 128, 32
    q = make_weight(n, k, fmt, torch.float16)
    g_idx = (torch.randperm(k) // block).to(torch.int32)
    x = torch.randn(3, k).to(torch.float16)
    check(run_sim(x, q, splits=2, g_idx=g_idx), x, q, g_idx=g_idx)


@pytest.mark.sim
def test_sim_special_values():
    """NaN and infinity in x propagate to exactly the reference's positions."""
    q = make_weight(8, 32, "mxfp4:floor", torch.float16)
    x = torch.randn(3, 32).to(torch.float16)
    x[0, 3] = float("nan")
    x[2, 5] = float("inf")
    check(run_sim(x, q), x, q)


def test_bad_inputs():
    q = make_weight(8, 32, "int4:g32:sym", torch.float32)
    f = parse(q.fmt.spec)
    packed, scale, zero = cuda_prepack(q.qdata, q.scale, q.zero, q.global_scale, f)
    mod = _ext.optional_module("_C_sim") or _C
    with pytest.raises(ValueError, match="float16 or bfloat16"):
        run_w4a16(mod, torch.randn(2, 32), packed, scale, zero, None, f, 8, 32, 1)
    qc = make_weight(8, 40, "int4:channel:sym", torch.float32)
    with pytest.raises(ValueError, match="multiples of 16"):
        cuda_prepack(qc.qdata, qc.scale, qc.zero, qc.global_scale, parse(qc.fmt.spec))
    # a CUDA-layout weight with x on the CPU names both
    from qkern.ops.gemm import PrepackedWeight
    pw = PrepackedWeight(packed=packed, scale=scale, fmt=f, shape=(8, 32), layout=CUDA_LAYOUT)
    with pytest.raises(ValueError, match="qkern.cuda.w4"):
        ops.w4a16_linear(torch.randn(2, 32), pw)


def test_splits_plan():
    """The split-K heuristic (qkern/gemm.h w4a16_cuda_splits), a pure function."""
    # M = 1, N = 4096 on 132 SMs: 32 output tiles; 4 blocks per SM want 17 splits -> 16
    assert _C.w4a16_cuda_splits(1, 4096, 4096, 132) == 16
    assert _C.w4a16_cuda_splits(1, 14336, 4096, 132) == 5  # 112 tiles -> 5 splits, 560 blocks
    # enough output tiles (4 per SM): no split
    assert _C.w4a16_cuda_splits(256, 8192, 4096, 132) == 1
    assert _C.w4a16_cuda_splits(128, 8192, 4096, 132) == 2  # 512 tiles
    # never more splits than 32-wide K tiles, nor than 16
    assert _C.w4a16_cuda_splits(1, 8, 64, 132) == 2
    assert _C.w4a16_cuda_splits(1, 8, 1 << 16, 132) == 16
    for m in (1, 3, 16, 17, 64):
        for n in (8, 40, 4096):
            s = _C.w4a16_cuda_splits(m, n, 4096, 108)
            assert 1 <= s <= 16


# ----------------------------------------------------------------------------- GPU twins


@pytest.mark.cuda
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_cuda_matches_reference(fmt, dtype, shape):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    m, n, which, _ = shape
    k = FORMATS[fmt][which]
    torch.manual_seed(m * 1000 + n + k)
    q = make_weight(n, k, fmt, dtype)
    pw = ops.prepack(q, "cuda")
    assert pw.layout == CUDA_LAYOUT
    x = torch.randn(m, k).to(dtype)
    bias = torch.randn(n).to(dtype)
    y = ops.w4a16_linear(x.cuda(), pw, bias=bias.cuda())
    check(y, x, q, bias=bias)


@pytest.mark.cuda
def test_cuda_act_order():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    torch.manual_seed(9)
    q = make_weight(72, 256, "int4:g128:asym", torch.bfloat16)
    g_idx = (torch.randperm(256) // 128).to(torch.int32)
    pw = ops.prepack(q, "cuda", g_idx=g_idx)
    x = torch.randn(5, 256).to(torch.bfloat16)
    check(ops.w4a16_linear(x.cuda(), pw), x, q, g_idx=g_idx)
