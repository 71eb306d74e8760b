"""qkern.ops.hadamard / hadamard_ / hadamard_quantize on the CPU kernels (every compiled
ISA level) against dense fp64 references built from scipy.linalg.hadamard."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import scipy.linalg
import torch

import qkern
from qkern import _C, reference
from qkern import hadamard as had
from qkern.formats import FP8, INT4, INT8, MXFP4, NVFP4
from qkern.hadamard import matrices

POW2_SIZES = [1 << p for p in range(had.MAX_LOG2 + 1)]
# every factor at two powers (m = 1 takes the scalar tails, m = 128 the vector loops),
# plus a K > 1 size whose FWHT is cache-blocked (m = 8192)
K_SIZES = [k << p for k in had.FACTORS[1:] for p in (0, 7)] + [12 << 13]
DTYPES = [torch.float32, torch.bfloat16, torch.float16]


# ----------------------------------------------------------------------------- references


def _dense_transform(x: torch.Tensor, *, dtype, scale=None, signs=None, transpose=False):
    """x (H_K kron H_m) * scale as dense matmuls in `dtype`: H_K from qkern's matrices, H_m
    from scipy.linalg.hadamard (split as H_a kron H_b, Sylvester's own structure, when m is
    large so the dense factors stay small)."""
    n = x.shape[-1]
    k, p = had.decompose(n)
    a = p // 2 if p > 10 else p
    mats = [torch.from_numpy(matrices.factor_matrix_np(k).astype(np.float64)),
            torch.from_numpy(scipy.linalg.hadamard(1 << a).astype(np.float64)),
            torch.from_numpy(scipy.linalg.hadamard(1 << (p - a)).astype(np.float64))]
    if transpose:
        mats[0] = mats[0].T
    hk, ha, hb = (mat.to(dtype) for mat in mats)
    scale = 1.0 / math.sqrt(n) if scale is None else scale
    y = x.to(dtype)
    if signs is not None and not transpose:
        y = y * signs.to(dtype)
    lead = y.shape[:-1]
    y = y.reshape(*lead, k, 1 << a, 1 << (p - a))
    y = torch.einsum("...abc,ad->...dbc", y, hk)
    y = torch.einsum("...dbc,be->...dec", y, ha)
    y = torch.einsum("...dec,cf->...def", y, hb).reshape(*lead, n) * scale
    if signs is not None and transpose:
        y = y * signs.to(dtype)
    return y


def _rel_err(y: torch.Tensor, ref64: torch.Tensor) -> float:
    return ((y.double() - ref64).norm() / ref64.norm().clamp_min(1e-300)).item()


def _check_accuracy(y: torch.Tensor, x: torch.Tensor, **kw):
    """Error against fp64 at most twice that of the same computation in PyTorch in y's
    dtype (STYLE.md pattern 13)."""
    ref64 = _dense_transform(x.double(), dtype=torch.float64, **kw)
    torch_same = _dense_transform(x, dtype=y.dtype, **kw)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert _rel_err(y, ref64) <= 2 * _rel_err(torch_same, ref64), \
        (_rel_err(y, ref64), _rel_err(torch_same, ref64))


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.view(torch.uint8) if t.element_size() == 1 else t


def _assert_same_bits(a: torch.Tensor, b: torch.Tensor):
    assert a.dtype == b.dtype and a.shape == b.shape
    # NaN compares by position (a NaN's sign and payload are not part of the contract)
    torch.testing.assert_close(_bits(a), _bits(b), rtol=0, atol=0, equal_nan=True)


# ----------------------------------------------------------------------------- the transform


@pytest.mark.parametrize("n", POW2_SIZES + K_SIZES)
def test_matches_dense_reference(cpu_isa, n):
    x = torch.randn(3, n)
    _check_accuracy(qkern.ops.hadamard(x), x)


def test_dense_matrix_agrees_with_scipy_for_powers_of_two():
    x = torch.randn(5, 1024, dtype=torch.float64)
    h = torch.from_numpy(scipy.linalg.hadamard(1024).astype(np.float64))
    torch.testing.assert_close(_dense_transform(x, dtype=torch.float64), x @ h / 32.0)
    y = qkern.ops.hadamard(x.float())
    torch.testing.assert_close(y.double(), x @ h / 32.0, rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [8, 4096, 40 << 3, 172 << 6, 28 << 9])
def test_dtypes(cpu_isa, dtype, n):
    x = torch.randn(4, n).to(dtype)
    _check_accuracy(qkern.ops.hadamard(x), x)


@pytest.mark.parametrize("shape", [(96,), (1, 96), (2, 3, 96), (17, 1, 96), (0, 96), (2, 0, 96)])
def test_leading_shapes(cpu_isa, shape):
    x = torch.randn(shape)
    y = qkern.ops.hadamard(x)
    assert y.shape == x.shape
    if x.numel():
        _check_accuracy(y, x)


@pytest.mark.parametrize("n", [4, 64, 12, 60 << 4, 1 << 14])
def test_scale_signs_and_transpose(cpu_isa, n):
    x = torch.randn(3, n)
    s = had.random_signs(n, seed=1)
    for kw in (dict(scale=1.0), dict(scale=0.25, signs=s), dict(signs=s, transpose=True),
               dict(transpose=True)):
        _check_accuracy(qkern.ops.hadamard(x, **kw), x, **kw)


@pytest.mark.parametrize("n", [16, 1024, 20 << 5, 156 << 2, 148])
def test_randomized_round_trip(cpu_isa, n):
    x = torch.randn(4, n)
    s = had.random_signs(n, seed=7)
    y = qkern.ops.hadamard(x, signs=s)
    back = qkern.ops.hadamard(y, signs=s, transpose=True)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-5)
    # the rotation is orthogonal: norms are kept
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1), rtol=1e-5, atol=0)


def test_signs_are_rechecked_after_an_in_place_change():
    x = torch.randn(2, 64)
    s = had.random_signs(64, seed=3)
    qkern.ops.hadamard(x, signs=s)  # checked (and remembered) once
    s[5] = 0.5
    with pytest.raises(ValueError, match=r"signs: expected only \+1 and -1 entries, found e.g. \[0.5\]"):
        qkern.ops.hadamard(x, signs=s)
    s[5] = -1.0
    expected = qkern.ops.hadamard(x * s, scale=None)
    _assert_same_bits(qkern.ops.hadamard(x, signs=s), expected)
    with torch.inference_mode():
        t = had.random_signs(64, seed=4)
        _assert_same_bits(qkern.ops.hadamard(x, signs=t), qkern.ops.hadamard(x * t))


def test_signs_of_other_dtypes_are_accepted():
    x = torch.randn(2, 64)
    s = had.random_signs(64, seed=3)
    expected = qkern.ops.hadamard(x, signs=s)
    for other in (s.to(torch.int8), s.to(torch.int64), s.to(torch.bfloat16)):
        _assert_same_bits(qkern.ops.hadamard(x, signs=other), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 4, 8, 16, 32, 64, 4096, 1 << 13, 1 << 15, 12, 12 << 1, 12 << 3,
                               12 << 4, 36 << 3, 172 << 6, 20 << 13])
def test_isa_levels_give_identical_bits(dtype, n):
    """Every vector level (8 and 16 lanes: sizes around both widths) gives the scalar bits."""
    x = (torch.randn(3, n) * 100).to(dtype)
    x.view(-1)[::97] = torch.tensor([0.0, -0.0, 1e-30, float("inf"), float("nan")]).to(dtype).repeat(
        x.numel() // 485 + 1)[: len(x.view(-1)[::97])]
    s = had.random_signs(n, seed=5)
    before = _C.get_isa()
    outs = {}
    try:
        for isa in ("scalar", "avx2", "avx512"):
            try:
                _C.set_isa(isa)
            except ValueError:  # not compiled in, or not this CPU
                continue
            outs[isa] = [qkern.ops.hadamard(x), qkern.ops.hadamard(x, 0.3, signs=s, transpose=True)]
    finally:
        _C.set_isa(before)
    levels = [isa for isa in outs if isa != "scalar"]
    if not levels:
        pytest.skip("needs a vector level compiled in and supported by the CPU")
    for isa in levels:
        for a, b in zip(outs["scalar"], outs[isa]):
            _assert_same_bits(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [8, 2048, 28 << 3])
def test_in_place(cpu_isa, dtype, n):
    x = torch.randn(5, n).to(dtype)
    s = had.random_signs(n)
    expected = qkern.ops.hadamard(x, signs=s)
    y = x.clone()
    assert qkern.ops.hadamard_(y, signs=s) is y
    _assert_same_bits(y, expected)
    # rows with a stride (a column slice of a wider buffer) are rotated in place too
    wide = torch.randn(5, n + 8).to(dtype)
    tail = wide[:, n:].clone()
    view = wide[:, :n]
    view.copy_(x)
    qkern.ops.hadamard_(view, signs=s)
    _assert_same_bits(view, expected)
    _assert_same_bits(wide[:, n:], tail)  # the columns between the rows are not touched


def test_in_place_refuses_tensors_that_require_grad():
    x = torch.randn(2, 8, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"x: hadamard_ \(in place\) is not differentiable"):
        qkern.ops.hadamard_(y)
    with torch.no_grad():
        qkern.ops.hadamard_(y)


def test_in_place_refuses_unviewable_rows():
    x = torch.randn(64, 6).t()  # last dim not contiguous
    with pytest.raises(ValueError, match=r"x: hadamard_ \(in place\) needs a contiguous last dim"):
        qkern.ops.hadamard_(x)


def test_strided_input_out_of_place():
    base = torch.randn(6, 128)
    for x in (base[::2], base[:, ::2], base.t().contiguous().t()[:, :64]):
        _assert_same_bits(qkern.ops.hadamard(x), qkern.ops.hadamard(x.contiguous()))


def test_pure_pytorch_transform_agrees_with_the_kernel():
    # qkern.hadamard.transform backs the op on devices without a kernel, and offline rotations
    for n in (32, 12 << 3, 172):
        x = torch.randn(3, n)
        s = had.random_signs(n, seed=2)
        for kw in (dict(), dict(signs=s), dict(signs=s, transpose=True, scale=2.0)):
            torch.testing.assert_close(had.transform(x, **kw), qkern.ops.hadamard(x, **kw),
                                       rtol=1e-5, atol=1e-5)
            _check_accuracy(had.transform(x.double(), **kw).float(), x, **kw)


# ----------------------------------------------------------------------------- autograd


@pytest.mark.parametrize("transpose", [False, True])
def test_backward_is_the_transpose(transpose):
    n = 20 << 2
    x = torch.randn(3, n, requires_grad=True)
    s = had.random_signs(n, seed=4)
    g = torch.randn(3, n)
    qkern.ops.hadamard(x, 0.5, signs=s, transpose=transpose).backward(g)
    m = had.hadamard_matrix(n) * 0.5
    m = (m.T if transpose else m)
    m = (m * s.double()[None, :]) if transpose else (s.double()[:, None] * m)  # y = x M
    torch.testing.assert_close(x.grad.double(), g.double() @ m.T, rtol=0, atol=1e-5)


@pytest.mark.filterwarnings("ignore:Input #0 requires gradient and is not a double")
def test_gradcheck():
    x = torch.randn(2, 12, requires_grad=True)
    s = had.random_signs(12)
    assert torch.autograd.gradcheck(lambda t: qkern.ops.hadamard(t, signs=s), (x,), eps=1e-2,
                                    atol=1e-3, rtol=1e-3)


# ----------------------------------------------------------------------------- fused quantize

FUSED_FORMATS = [INT4(32), INT4(64), INT4(128), INT4(32, symmetric=False), INT4(128, symmetric=False),
                 INT4(None), INT8(), FP8(), MXFP4(), MXFP4("rceil"), NVFP4(), NVFP4(global_scale=False)]


def _scales_stored_in(fmt, dtype):
    """fmt, except that INT4 scales are stored in `dtype` whatever the input dtype."""
    if not isinstance(fmt, INT4):
        return fmt

    class Fixed(INT4):
        def scale_dtype(self, x_dtype):
            return dtype

    return Fixed(fmt.group_size, fmt.symmetric)


def fused_input(n, dtype):
    """5 rows of n (a NaN row, an Inf row, a zero row) and a signs vector."""
    x = (torch.randn(5, n) * 3).to(dtype)
    x[1, 7] = float("nan")
    x[3, 0] = float("inf")
    x[4] = 0
    return x, had.random_signs(n, seed=9)


@pytest.mark.parametrize("fmt", FUSED_FORMATS, ids=lambda f: f.spec)
@pytest.mark.parametrize("n", [4096, 12 << 7, 172 << 6])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_equals_hadamard_then_quantize(cpu_isa, fmt, n, dtype):
    """The contract: hadamard_quantize(x, f) == reference quantize of the fp32 rows that
    hadamard() returns for x.float(), bit for bit (NaN/Inf rows included), with INT4
    scales stored in x's dtype as quantize(x, f) stores them."""
    x, s = fused_input(n, dtype)
    for signs in (None, s):
        got = qkern.ops.hadamard_quantize(x, fmt, signs=signs).tensors()
        rotated = qkern.ops.hadamard(x.float(), signs=signs)
        expected = reference.quantize(rotated, _scales_stored_in(fmt, dtype))
        assert len(got) == len(expected)
        for a, b in zip(got.values(), expected):
            _assert_same_bits(a, b)


@pytest.mark.parametrize("fmt", FUSED_FORMATS, ids=lambda f: f.spec)
@pytest.mark.parametrize("rows", [1, 3, 17])
def test_fused_awkward_row_counts(cpu_isa, fmt, rows):
    # n = 12 * 32: 3 to 24 blocks per row, so that the 8-block batches of the vector
    # quantize_blocks end inside rows and leave tails of every length class
    x, s = fused_input(384, torch.float32)
    x = torch.cat([x, torch.randn(rows, 384)])[:rows] * 2.0 ** torch.randint(-20, 20, (rows, 1))
    got = qkern.ops.hadamard_quantize(x, fmt, signs=s).tensors()
    expected = reference.quantize(qkern.ops.hadamard(x, signs=s), fmt)
    for a, b in zip(got.values(), expected):
        _assert_same_bits(a, b)


@pytest.mark.parametrize("rows, n", [(1, 64), (5, 4096), (17, 172 << 6), (3, 28 << 9)])
@pytest.mark.parametrize("swizzle", [False, True])
def test_fused_nvfp4_kept_rows_equal_recomputed_rows(cpu_isa, rows, n, swizzle):
    """NVFP4 two-level keeps its rotated rows in a workspace between the passes when the
    tensor is small enough; without one it rotates twice. Same bits either way."""
    ops_hadamard = sys.modules["qkern.ops.hadamard"]
    x, s = fused_input(n, torch.bfloat16)
    x = torch.cat([x, x * 3])[:rows]
    assert _C.hadamard_quantize_workspace_rows(rows, n, True) == rows
    kept = ops_hadamard.run_hadamard_quantize(_C, x, NVFP4(), s, swizzle)
    twice = ops_hadamard.run_hadamard_quantize(_C, x, NVFP4(), s, swizzle, workspace_rows=0)
    for a, b in zip(kept, twice):
        _assert_same_bits(a, b)


@pytest.mark.parametrize("rows, n", [(1, 64), (5, 4096), (17, 172 << 6)])
@pytest.mark.parametrize("d", [1e-3, 2.0 ** -120, 1e30])
@pytest.mark.parametrize("swizzle", [False, True])
def test_fused_nvfp4_static_global_scale(cpu_isa, rows, n, d, swizzle):
    """A given decode scale d replaces the tensor's amax (no amax pass): the result is
    quantize with that d, saturating where the rotated values exceed 448 * 6 * d."""
    x, s = fused_input(n, torch.float32)
    x = torch.cat([x, x * 1e3])[:rows]
    q = qkern.ops.hadamard_quantize(x, NVFP4(), signs=s, global_scale=d, swizzle_scales=swizzle)
    expected = reference.quantize(qkern.ops.hadamard(x, signs=s), NVFP4(), global_scale=d)
    if swizzle:
        expected[1] = had.swizzle_block_scales(expected[1])
    assert q.global_scale.item() == torch.tensor(d, dtype=torch.float32).item()
    for a, b in zip(q.tensors().values(), expected):
        _assert_same_bits(a, b)


def test_fused_static_global_scale_equals_the_computed_one():
    x = torch.randn(9, 512)
    computed = qkern.ops.hadamard_quantize(x, NVFP4())
    static = qkern.ops.hadamard_quantize(x, NVFP4(), global_scale=computed.global_scale.item())
    for a, b in zip(computed.tensors().values(), static.tensors().values()):
        _assert_same_bits(a, b)


def test_fused_workspace_only_for_nvfp4_two_level_up_to_16_mib():
    assert _C.hadamard_quantize_workspace_rows(64, 4096, True) == 64
    assert _C.hadamard_quantize_workspace_rows(64, 4096, False) == 0
    assert _C.hadamard_quantize_workspace_rows(1024, 4096, True) == 1024  # 16 MiB
    assert _C.hadamard_quantize_workspace_rows(1025, 4096, True) == 0


def test_fused_nvfp4_global_scale_is_the_rotated_tensor_amax():
    x = torch.randn(7, 256)
    x[2, 5] = 40.0  # the rotation spreads the outlier; d follows the rotated amax
    q = qkern.ops.hadamard_quantize(x, NVFP4())
    rotated = qkern.ops.hadamard(x)
    assert q.global_scale.item() == (rotated.abs().max() / (448 * 6)).item()
    assert q.global_scale.item() != (x.abs().max() / (448 * 6)).item()


@pytest.mark.parametrize("fmt", [MXFP4(), NVFP4(), NVFP4(global_scale=False)], ids=lambda f: f.spec)
@pytest.mark.parametrize("rows, n", [(1, 96), (130, 12 << 3), (256, 512), (3, 4096)])
def test_swizzled_scales(cpu_isa, fmt, rows, n):
    x = torch.randn(rows, n)
    plain = qkern.ops.hadamard_quantize(x, fmt)
    swz = qkern.ops.hadamard_quantize(x, fmt, swizzle_scales=True)
    _assert_same_bits(swz.qdata, plain.qdata)
    _assert_same_bits(swz.scale, had.swizzle_block_scales(plain.scale))
    with pytest.raises(ValueError, match="scale: expected shape"):
        qkern.ops.dequantize(swz)


def test_swizzle_layout_formula():
    # NUMERICS.md section 3, element by element: rows padded to 128, scale columns to 4
    rows, cols = 200, 6
    scale = torch.arange(rows * cols, dtype=torch.int32).reshape(rows, cols)
    flat = had.swizzle_block_scales(scale)
    cp = 8
    assert flat.numel() == 256 * cp
    for r in range(rows):
        for kb in range(cols):
            offset = ((r // 128) * (cp // 4) + kb // 4) * 512 + (r % 32) * 16 + ((r % 128) // 32) * 4 + kb % 4
            assert flat[offset] == scale[r, kb]
    assert int((flat != 0).sum()) == rows * cols - 1  # padding is zero (element 0 is 0 too)


def test_fused_3d_input_and_strided_input():
    x = torch.randn(2, 3, 8, 128)[:, :, ::2]
    q = qkern.ops.hadamard_quantize(x, INT4(32))
    expected = reference.quantize(qkern.ops.hadamard(x.contiguous()), INT4(32))
    _assert_same_bits(q.qdata, expected[0])
    _assert_same_bits(q.scale, expected[1])
    assert q.shape == x.shape


# ----------------------------------------------------------------------------- torch.library


@pytest.mark.parametrize("n", [96, 256])
def test_opcheck(n):
    x = torch.randn(3, n)
    s = had.random_signs(n)
    for args in ((x, None, None, False), (x, 0.5, s, True)):
        torch.library.opcheck(torch.ops.qkern.hadamard.default, args)
    torch.library.opcheck(torch.ops.qkern.hadamard_.default, (x.clone(), None, s, False))
    for fmt in ("int4:g32:asym", "nvfp4", "mxfp4:floor", "fp8:row"):
        torch.library.opcheck(torch.ops.qkern.hadamard_quantize.default, (x, fmt, s, False))
    torch.library.opcheck(torch.ops.qkern.hadamard_quantize.default, (x, "nvfp4", None, True))
    torch.library.opcheck(torch.ops.qkern.hadamard_quantize.default, (x, "nvfp4", s, False, 0.01))


def test_compile_fullgraph_aot_eager():
    s = had.random_signs(96)

    def fn(x):
        y = qkern.ops.hadamard(x, signs=s) * 2
        z = x.clone()
        qkern.ops.hadamard_(z, 0.5)
        q = qkern.ops.hadamard_quantize(x, NVFP4(), signs=s, swizzle_scales=True)
        return y, z, q.qdata, q.scale, q.global_scale

    x = torch.randn(4, 96)
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    for a, b in zip(compiled(x), fn(x)):
        _assert_same_bits(a, b)


def test_compile_fullgraph_inductor():
    def fn(x):
        q = qkern.ops.hadamard_quantize(x, MXFP4())
        return qkern.ops.hadamard(x) + 1, q.qdata, q.scale

    x = torch.randn(3, 64)
    compiled = torch.compile(fn, fullgraph=True)
    for a, b in zip(compiled(x), fn(x)):
        _assert_same_bits(a, b)


# ----------------------------------------------------------------------------- bad inputs


def test_bad_inputs_give_clear_errors():
    x = torch.randn(2, 64)
    with pytest.raises(ValueError, match=r"size 100 is not supported; supported sizes are K \* 2\^p"):
        qkern.ops.hadamard(torch.randn(2, 100))
    with pytest.raises(ValueError, match=r"size 65536 is not supported"):
        qkern.ops.hadamard_quantize(torch.randn(1, 65536), MXFP4())
    with pytest.raises(TypeError, match=r"x: expected dtype float32, float16, bfloat16, got torch.float64"):
        qkern.ops.hadamard(x.double())
    with pytest.raises(TypeError, match=r"x: expected dtype .* got torch.int32"):
        qkern.ops.hadamard(x.int())
    with pytest.raises(ValueError, match=r"x: expected at least 1 dimension"):
        qkern.ops.hadamard(torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"signs: expected a 1-D tensor of length 64 .* got shape \(32,\)"):
        qkern.ops.hadamard(x, signs=torch.ones(32))
    with pytest.raises(ValueError, match=r"signs: expected a 1-D tensor of length 64 .* got shape \(1, 64\)"):
        qkern.ops.hadamard(x, signs=torch.ones(1, 64))
    with pytest.raises(ValueError, match=r"signs: expected only \+1 and -1 entries, found e.g. \[0.5"):
        qkern.ops.hadamard(x, signs=torch.full((64,), 0.5))
    with pytest.raises(ValueError, match=r"signs: expected only \+1 and -1 entries"):
        qkern.ops.hadamard_quantize(x, INT8(), signs=torch.zeros(64))
    with pytest.raises(TypeError, match=r"signs: expected a real tensor of \+1 and -1, got torch.bool"):
        qkern.ops.hadamard(x, signs=torch.ones(64, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"scale: expected a finite number or None, got nan"):
        qkern.ops.hadamard(x, float("nan"))
    with pytest.raises(ValueError, match=r"swizzle_scales: the 128x4 block-scale layout exists for MXFP4 "
                                         r"and NVFP4, not int4:g32:sym"):
        qkern.ops.hadamard_quantize(x, INT4(32), swizzle_scales=True)
    with pytest.raises(ValueError, match=r"global_scale: a static global scale exists for two-level "
                                         r"NVFP4 \('nvfp4'\), not mxfp4:floor"):
        qkern.ops.hadamard_quantize(x, MXFP4(), global_scale=1.0)
    with pytest.raises(ValueError, match=r"global_scale: .* not nvfp4:single"):
        qkern.ops.hadamard_quantize(x, NVFP4(global_scale=False), global_scale=1.0)
    for bad in (0.0, -1.0, 2.0 ** -121, float("inf"), float("nan"), 1e39):  # 1e39: fp32 inf
        with pytest.raises(ValueError, match=r"global_scale: expected a finite decode scale >= 2\^-120"):
            qkern.ops.hadamard_quantize(x, NVFP4(), global_scale=bad)
    with pytest.raises(ValueError, match=r"x: the last dim \(12\) must be a positive multiple of the "
                                         r"int4:g32:sym block size \(32\)"):
        qkern.ops.hadamard_quantize(torch.randn(2, 12), INT4(32))
