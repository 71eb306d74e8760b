"""CUDA Hadamard kernels (cuda/hadamard) on two backends: the SIMT emulator (qkern._C_sim,
CPU tensors, marked `sim`) and a real GPU (torch.ops.qkern on CUDA tensors, marked `cuda`).

Contract (docs/hadamard.md, "CUDA"): the CUDA kernel performs the same fp32 operations in
the same order as the CPU kernels, so its output is bit-identical to the CPU op (tested
here for every structural case), and hence within 2x the error of a same-dtype PyTorch
computation of an fp64 dense reference (also tested); the fused op equals
reference.quantize of those rotated fp32 rows bit for bit.

Structural cases (m = n / K): m <= 8 in-thread butterflies only; 16 <= m <= 256 adds the
warp shuffles; m >= 512 adds the shared-memory radix-8 passes (one, two and three of
them); K > 1 adds the K x K stage; rows above 96 KiB and a forced workspace take the
global-memory buffer; several rows per CTA tile (n < 2048) and one."""
from __future__ import annotations

import sys

import pytest
import torch

import qkern
from qkern import _ext, reference
from qkern import hadamard as had
from qkern.formats import FP8, INT4, INT8, MXFP4, NVFP4

from test_hadamard import _assert_same_bits, _check_accuracy, _scales_stored_in, fused_input

ops = sys.modules["qkern.ops.hadamard"]  # qkern.ops.hadamard the attribute is the function

BACKENDS = [pytest.param("sim", marks=pytest.mark.sim), pytest.param("cuda", marks=pytest.mark.cuda)]
DTYPES = [torch.float32, torch.bfloat16, torch.float16]
# (size, why): the kernel's structural cases, small enough for the emulator
POW2 = [1, 2, 4, 8,              # in-thread only (m = 1 and 2: partial chunks)
        16, 256,                 # + warp shuffles (stride 8 .. 128)
        512, 2048, 1 << 14]      # + shared-memory passes (radix 2; 8; 8 + 8 + 2)
K_SIZES = [k << p for k in had.FACTORS[1:] for p in (0, 5)]  # every K: m = 1 (tails), m = 32 (shuffles)
K_SMEM = [12 << 9, 172 << 6, 28 << 9]  # K stage after shared-memory passes; 11008, 14336


def sim():
    return _ext.optional_module("_C_sim")


def cpu_hadamard(x, scale=None, signs=None, transpose=False):
    return torch.ops.qkern.hadamard(x.cpu(), scale, signs, transpose)


def hadamard_on(backend, x, scale=None, signs=None, transpose=False, workspace_rows=None):
    if backend == "sim":
        return ops._hadamard_with(sim(), x, scale, signs, transpose, workspace_rows=workspace_rows)
    s = None if signs is None else signs.cuda()
    return torch.ops.qkern.hadamard(x.cuda(), scale, s, transpose).cpu()


def hadamard_quantize_on(backend, x, fmt, signs=None, swizzle=False, workspace_rows=None):
    if backend == "sim":
        return ops.run_hadamard_quantize(sim(), x, fmt, signs, swizzle, workspace_rows=workspace_rows)
    s = None if signs is None else signs.cuda()
    return [t.cpu() for t in torch.ops.qkern.hadamard_quantize(x.cuda(), fmt.spec, s, swizzle)]


def rows_for(n):
    return 3 if n <= 4096 else 1


# ----------------------------------------------------------------------------- transform


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", POW2 + K_SIZES + K_SMEM)
def test_bit_identical_to_cpu_and_accurate(backend, n):
    x = torch.randn(rows_for(n), n)
    got = hadamard_on(backend, x)
    _assert_same_bits(got, cpu_hadamard(x))
    _check_accuracy(got, x)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("n", [4, 96, 256, 20 << 5, 4096, 60 << 6])
def test_dtypes(backend, dtype, n):
    x = (torch.randn(5, n) * 4).to(dtype)
    got = hadamard_on(backend, x)
    assert got.dtype == dtype
    _assert_same_bits(got, cpu_hadamard(x))
    _check_accuracy(got, x)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(96,), (1, 96), (2, 3, 96), (17, 1, 96), (0, 96), (2, 0, 96), (40, 64)])
def test_leading_shapes(backend, shape):
    """Rows per CTA tile: 2048 // n (21 for 96, 32 for 64), a partial last tile."""
    x = torch.randn(shape, dtype=torch.bfloat16)
    got = hadamard_on(backend, x)
    assert got.shape == x.shape
    _assert_same_bits(got, cpu_hadamard(x))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [2, 64, 12, 60 << 4, 1 << 12, 148 << 1])
def test_scale_signs_and_transpose(backend, n):
    x = torch.randn(3, n)
    s = had.random_signs(n, seed=3)
    for kw in (dict(scale=1.0), dict(signs=s), dict(signs=s, transpose=True), dict(scale=0.5, transpose=True)):
        _assert_same_bits(hadamard_on(backend, x, **kw), cpu_hadamard(x, **kw))


@pytest.mark.parametrize("backend", BACKENDS)
def test_strided_rows(backend):
    """Rows further apart than n (a column slice), and an odd row offset (scalar loads)."""
    base = torch.randn(6, 200, dtype=torch.float16)
    for x in (base[:, :128], base[:, 3:131]):
        _assert_same_bits(hadamard_on(backend, x), cpu_hadamard(x))


@pytest.mark.sim
@pytest.mark.parametrize("n,ws_rows", [(96, 1), (1024, 2), (12 << 5, 5), (1 << 15, 1), (172 << 7, 1)])
def test_workspace_path(n, ws_rows):
    """Rows in a global fp32 workspace (one row per CTA, CTAs looping over rows) instead of
    shared memory: forced on small rows, and needed for 32768 and 22016 (> 96 KiB)."""
    rows = 3 if n < 4096 else 1
    x = torch.randn(rows, n, dtype=torch.bfloat16)
    if n * 4 > 96 * 1024:
        assert sim().hadamard_workspace_rows(rows, n) == rows
        with pytest.raises(ValueError, match="workspace"):
            ops.run_hadamard(sim(), x, torch.empty_like(x), None, None, False, workspace_rows=0)
    else:
        assert sim().hadamard_workspace_rows(rows, n) == 0
    _assert_same_bits(hadamard_on("sim", x, workspace_rows=ws_rows), cpu_hadamard(x))
    q = hadamard_quantize_on("sim", x, NVFP4(), workspace_rows=ws_rows)
    for a, b in zip(q, torch.ops.qkern.hadamard_quantize(x, "nvfp4", None, False)):
        _assert_same_bits(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("n", [8, 2048, 28 << 3])
def test_in_place(backend, dtype, n):
    x = torch.randn(4, n).to(dtype)
    want = cpu_hadamard(x)
    if backend == "sim":
        y = x.clone()
        ops._hadamard_inplace_with(sim(), y, None, None, False)
    else:
        y = x.cuda()
        ptr = y.data_ptr()
        qkern.ops.hadamard_(y)
        assert y.data_ptr() == ptr
        y = y.cpu()
    _assert_same_bits(y, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_finite_rows(backend):
    x = torch.randn(3, 1024)
    x[0, 5] = float("nan")
    x[1, 9] = float("inf")
    got = hadamard_on(backend, x)
    _assert_same_bits(got, cpu_hadamard(x))
    assert torch.isnan(got[0]).all() and torch.isfinite(got[2]).all()


@pytest.mark.sim
@pytest.mark.parametrize("schedule", ["forward", "reverse", "shuffle"])
def test_schedules_agree(schedule):
    """Barriers complete: every fiber order gives the same bits (smem passes, K stage,
    per-row reduction, team shuffles)."""
    x = torch.randn(2, 12 << 9, dtype=torch.bfloat16)
    sim().set_schedule(schedule, 11)
    try:
        got = hadamard_on("sim", x)
        q = hadamard_quantize_on("sim", x, INT8())
        qb = hadamard_quantize_on("sim", x, INT4(32, symmetric=False))
    finally:
        sim().set_schedule("forward", 0)
    _assert_same_bits(got, cpu_hadamard(x))
    for a, b in zip(q + qb, torch.ops.qkern.hadamard_quantize(x, INT8().spec, None, False)
                    + torch.ops.qkern.hadamard_quantize(x, INT4(32, symmetric=False).spec, None, False)):
        _assert_same_bits(a, b)


# ----------------------------------------------------------------------------- fused quantize

FUSED_FORMATS = [INT4(32), INT4(64), INT4(128), INT4(32, symmetric=False), INT4(128, symmetric=False),
                 INT4(None), INT8(), FP8(), MXFP4(), MXFP4("rceil"), NVFP4(), NVFP4(global_scale=False)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fmt", FUSED_FORMATS, ids=lambda f: f.spec)
@pytest.mark.parametrize("n", [256, 12 << 5, 4096, 172 << 5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_fused_equals_reference_of_rotated_rows(backend, fmt, n, dtype):
    """hadamard_quantize == reference.quantize(the kernel's own rotated fp32 rows), bit for
    bit, NaN/Inf/zero rows included (and those rows equal the CPU op's)."""
    if n % fmt.block_size(n):
        pytest.skip(f"{n} is not a multiple of the {fmt.spec} block")
    x, s = fused_input(n, dtype)
    for signs in (None, s):
        got = hadamard_quantize_on(backend, x, fmt, signs)
        rotated = hadamard_on(backend, x.float(), signs=signs)
        expected = reference.quantize(rotated, _scales_stored_in(fmt, dtype))
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            _assert_same_bits(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fmt", [MXFP4(), NVFP4(), NVFP4(global_scale=False)], ids=lambda f: f.spec)
@pytest.mark.parametrize("rows, n", [(1, 96), (130, 12 << 3), (3, 4096)])
def test_swizzled_scales(backend, fmt, rows, n):
    x = torch.randn(rows, n)
    got = hadamard_quantize_on(backend, x, fmt, swizzle=True)
    want = torch.ops.qkern.hadamard_quantize(x, fmt.spec, None, True)
    for a, b in zip(got, want):
        _assert_same_bits(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fused_3d_input(backend):
    x = torch.randn(2, 3, 12 << 4, dtype=torch.float16)
    for fmt in (MXFP4(), INT8(), INT4(64, symmetric=False)):
        got = hadamard_quantize_on(backend, x, fmt)
        for a, b in zip(got, torch.ops.qkern.hadamard_quantize(x, fmt.spec, None, False)):
            _assert_same_bits(a, b)


@pytest.mark.sim
def test_bad_params_raise_value_error():
    """The launchers re-check the params (check_params) and fail with ValueError."""
    x = torch.randn(2, 32)
    q = torch.empty(2, 16, dtype=torch.uint8)
    s = torch.empty(2, 2, dtype=torch.uint8)
    with pytest.raises(ValueError, match="hadamard_quantize"):  # MXFP4 with block 16
        sim().hadamard_quantize(rows=2, n=32, x=x.data_ptr(), x_row_stride=32, x_dtype=0, mix_codes=0, signs=0,
                                scale=1.0, kind=1, block=16, symmetric=True, rceil=False, global_scale=False,
                                qdata=q.data_ptr(), scale_out=s.data_ptr(), scale_dtype=3, zero=0,
                                global_scale_out=0, swizzled_scales=False)
    with pytest.raises(ValueError, match="hadamard"):  # K = 12 without the mix codes
        sim().hadamard(rows=1, n=12, x=x.data_ptr(), x_row_stride=12, x_dtype=0, out=x.data_ptr(),
                       out_row_stride=12, out_dtype=0, mix_codes=0, signs=0, signs_after=False, scale=1.0)
    with pytest.raises(ValueError, match="dtype"):  # out dtype differs from x's
        sim().hadamard(rows=1, n=32, x=x.data_ptr(), x_row_stride=32, x_dtype=0, out=x.data_ptr(),
                       out_row_stride=32, out_dtype=2, mix_codes=0, signs=0, signs_after=False, scale=1.0)


@pytest.mark.cuda
def test_cuda_ops_are_the_kernels():
    """The registered CUDA impls (not the reference fallback) serve CUDA tensors."""
    import warnings
    x = torch.randn(4, 12 << 7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fallback would warn
        y = qkern.ops.hadamard(x.cuda())
        q = qkern.ops.hadamard_quantize(x.cuda(), NVFP4())
    assert y.device.type == "cuda" and q.qdata.device.type == "cuda"
    _assert_same_bits(y.cpu(), cpu_hadamard(x))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [64, 4096, 172 << 6])
def test_fused_nvfp4_static_global_scale(backend, n):
    """A static decode scale skips the amax pass; bits as on the CPU."""
    x = torch.randn(rows_for(n), n) * 10
    d = 0.002
    if backend == "sim":
        got = ops.run_hadamard_quantize(sim(), x, NVFP4(), None, False, global_scale=d)
    else:
        got = [t.cpu() for t in torch.ops.qkern.hadamard_quantize(x.cuda(), "nvfp4", None, False, d)]
    for a, b in zip(got, torch.ops.qkern.hadamard_quantize(x, "nvfp4", None, False, d)):
        _assert_same_bits(a, b)
