"""CUDA quantize/dequantize kernels (cuda/formats) against python/qkern/reference.py, bit for
bit, on two backends: the SIMT emulator (qkern._C_sim, CPU tensors, marked `sim`) and a real
GPU (torch.ops.qkern on CUDA tensors, marked `cuda`). Shapes are small and awkward: rows 1,
3, 17; one block or many; row lengths that leave a tail; NaN/Inf/zero blocks; misaligned
pointers that force the scalar paths."""
from __future__ import annotations

import pytest
import torch

from qkern import _ext, reference
from qkern.formats import parse
from qkern.ops import formats as ops

FORMATS = {  # spec -> (one block, many blocks / tail) column counts
    "int4:g32:sym": (32, 160),
    "int4:g64:asym": (64, 192),
    "int4:g128:sym": (128, 384),
    "int4:channel:sym": (6, 136),
    "int4:channel:asym": (70, 22),
    "mxfp4:floor": (32, 160),
    "mxfp4:rceil": (32, 96),
    "nvfp4": (16, 144),
    "nvfp4:single": (16, 80),
    "int8:row": (3, 45),
    "fp8:row": (17, 520),
}
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
ROWS = [1, 3, 17]
BACKENDS = [pytest.param("sim", marks=pytest.mark.sim), pytest.param("cuda", marks=pytest.mark.cuda)]


def sim():
    return _ext.optional_module("_C_sim")


def make_input(rows, cols, dtype, special=True):
    """Random values over several magnitudes; with `special`, row 0 gets a NaN block, an
    Inf block and a zero block where the row has room for them."""
    x = torch.randn(rows, cols) * torch.logspace(-3, 3, rows * cols).reshape(rows, cols)
    if special and cols >= 2:
        f = parse("nvfp4")  # smallest block: specials land in distinct blocks of every format
        b = f.block_size(cols)
        x[0, 1] = float("nan")
        if cols >= 2 * b:
            x[0, b + 2] = float("inf")
        if cols >= 3 * b:
            x[0, 2 * b:3 * b] = 0.0
        if rows > 2:
            x[2] = 0.0  # an all-zero row (per-row formats, NVFP4 global scale unaffected)
    return x.to(dtype)


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Identical bytes, except that NaNs of a float dtype only need to sit at the same places
    (the codecs write the canonical quiet NaN, torch's casts may choose another payload)."""
    a, b = a.cpu().contiguous(), b.cpu().contiguous()
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype in (torch.float32, torch.float16, torch.bfloat16):
        nan = torch.isnan(a)
        if not torch.equal(nan, torch.isnan(b)):
            return False
        a, b = a[~nan], b[~nan]
    return torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))


def quantize_on(backend, x, f):
    if backend == "sim":
        return ops.run_quantize(sim(), x, f)
    return list(torch.ops.qkern.quantize(x.cuda(), f.spec))


def dequantize_on(backend, q, f, dtype):
    if backend == "sim":
        return ops.run_dequantize(sim(), *q, f, dtype)
    q = [t.cuda() if t is not None else None for t in q]
    return torch.ops.qkern.dequantize(*q, f.spec, dtype)


def split(out, f):
    """The op's tensor list -> (qdata, scale, zero, global_scale)."""
    zero = out[2] if f.has_zero else None
    gs = out[-1] if f.has_global_scale else None
    return out[0], out[1], zero, gs


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("spec,which", [(s, w) for s in FORMATS for w in (0, 1)])
def test_quantize_bit_exact(backend, spec, which, dtype, rows):
    f = parse(spec)
    cols = FORMATS[spec][which]
    x = make_input(rows, cols, dtype)
    got = quantize_on(backend, x, f)
    want = reference.quantize(x, f)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert same_bits(g, w), f"output {i} differs:\n{g}\nvs reference\n{w}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("out_dtype", DTYPES, ids=str)
@pytest.mark.parametrize("spec", list(FORMATS))
def test_dequantize_bit_exact(backend, spec, out_dtype):
    f = parse(spec)
    rows, cols = 17, FORMATS[spec][1]
    x = make_input(rows, cols, torch.bfloat16 if f.name == "int4" else torch.float32)
    q = split(reference.quantize(x, f), f)
    got = dequantize_on(backend, q, f, out_dtype)
    want = reference.dequantize(*q, f, out_dtype)
    assert same_bits(got, want)


@pytest.mark.sim
@pytest.mark.parametrize("schedule", ["forward", "reverse", "shuffle"])
@pytest.mark.parametrize("spec", ["int4:g64:asym", "nvfp4", "fp8:row", "int4:channel:sym"])
def test_schedules_agree(spec, schedule):
    """The kernels' shuffles and barriers are complete: every fiber order gives the bytes of
    the reference."""
    f = parse(spec)
    x = make_input(3, FORMATS[spec][1], torch.float16)
    sim().set_schedule(schedule, 7)
    try:
        got = ops.run_quantize(sim(), x, f)
    finally:
        sim().set_schedule("forward", 0)
    for g, w in zip(got, reference.quantize(x, f)):
        assert same_bits(g, w)


def _offset_copy(t: torch.Tensor, offset_elems: int) -> torch.Tensor:
    """t's values in a buffer starting `offset_elems` past an aligned allocation."""
    buf = torch.empty(t.numel() + offset_elems, dtype=t.dtype)
    view = buf[offset_elems:].view(t.shape)
    view.copy_(t)
    return view


@pytest.mark.sim
@pytest.mark.parametrize("spec", ["mxfp4:floor", "int4:g64:asym", "int8:row", "nvfp4", "int4:channel:asym"])
def test_misaligned_pointers_take_scalar_path(spec):
    """x, qdata and out not 16-byte aligned: the kernels must not issue 128-bit accesses
    (the emulator reports misaligned vector accesses as errors) and must still be exact."""
    f = parse(spec)
    cols = FORMATS[spec][1]
    x = _offset_copy(make_input(3, cols, torch.bfloat16), 1)
    assert x.data_ptr() % 16 != 0
    for g, w in zip(ops.run_quantize(sim(), x, f), reference.quantize(x, f)):
        assert same_bits(g, w)
    q = list(split(reference.quantize(x, f), f))
    q[0] = _offset_copy(q[0], 3)
    out = _offset_copy(torch.zeros(3, cols), 1)
    sim().dequantize(kind=f.kind, block=f.block_size(cols), **f.kernel_flags(), rows=3, cols=cols,
                     qdata=q[0].data_ptr(), scale=q[1].data_ptr(), scale_dtype=ops.dtype_code(q[1].dtype),
                     zero=ops.data_ptr(q[2]), global_scale_in=ops.data_ptr(q[3]), out=out.data_ptr(),
                     out_dtype=ops.dtype_code(torch.float32))
    assert same_bits(out, reference.dequantize(*q, f, torch.float32))


@pytest.mark.sim
def test_bad_params_raise_value_error():
    """The launchers re-check the params (check_params) and fail with ValueError, not a crash."""
    x = torch.randn(2, 32)
    q = torch.empty(2, 16, dtype=torch.uint8)
    s = torch.empty(2, 1, dtype=torch.uint8)
    with pytest.raises(ValueError, match="quantize"):
        sim().quantize(kind=1, block=16, symmetric=True, rceil=False, global_scale=False, rows=2, cols=32,
                       x=x.data_ptr(), x_dtype=0, qdata=q.data_ptr(), scale=s.data_ptr(), scale_dtype=3,
                       zero=0, global_scale_out=0)  # MXFP4 with block 16
    with pytest.raises(ValueError, match="dequantize"):
        sim().dequantize(kind=2, block=16, symmetric=True, rceil=False, global_scale=True, rows=2, cols=32,
                         qdata=q.data_ptr(), scale=s.data_ptr(), scale_dtype=5, zero=0, global_scale_in=0,
                         out=x.data_ptr(), out_dtype=0)  # two-level NVFP4 without a global scale


@pytest.mark.cuda
def test_cuda_op_matches_cpu_op():
    """The registered CUDA impl (not the reference fallback) serves CUDA tensors."""
    x = make_input(5, 160, torch.bfloat16)
    q = torch.ops.qkern.quantize(x.cuda(), "mxfp4:floor")
    assert q[0].device.type == "cuda"
    for g, w in zip(q, torch.ops.qkern.quantize(x, "mxfp4:floor")):
        assert same_bits(g, w)
