"""CPU quantize / dequantize per instruction-set level: every compiled level (cpu_isa) must
give reference.py's bytes, and the vector levels the scalar level's bytes including NaN
payloads. Inputs are built to reach every vector step and scalar tail of the row kernels
(row lengths around the 8- and 16-lane steps, rows longer than one work segment) and every
rounding decision: values exactly on and next to the E2M1, INT4, INT8 and E4M3 rounding
boundaries at a unit scale, NaN, +-Inf, signed zeros, subnormals, huge values."""
from __future__ import annotations

import contextlib

import pytest
import torch

from qkern import _C
from qkern import formats as F
from qkern import reference as ref

from codec_utils import FLOATS, FORMATS, assert_same_tensors

ISA_FORMATS = FORMATS + (F.INT4(64),)


def shapes_for(fmt):
    """(rows, cols): one block, many blocks, and lengths that leave vector tails."""
    if isinstance(fmt, (F.INT8, F.FP8)):
        return [(1, 1), (3, 7), (17, 33), (3, 256)]  # 8-lane steps, tails of 1 and 7
    if isinstance(fmt, F.INT4) and fmt.group_size is None:
        # 16-element encode and 8-element decode tails; row lengths equal to the vector
        # path's block sizes (16..128), 8+ rows so that whole 8-block batches take it
        return [(1, 2), (3, 6), (17, 34), (3, 130), (9, 16), (8, 32), (16, 64), (8, 128)]
    block = fmt.block_size(0)
    # a 16385+-element row spans two dequantize work segments (quantize.cpp)
    return [(1, block), (3, 7 * block), (17, 3 * block), (2, 16384 + 3 * block)]


@contextlib.contextmanager
def isa(name: str):
    before = _C.get_isa()
    _C.set_isa(name)
    try:
        yield
    finally:
        _C.set_isa(before)


# ----------------------------------------------------------------------------- inputs


def _with_neighbours(values: torch.Tensor) -> torch.Tensor:
    """values, and the next representable value above and below each (in values' dtype)."""
    up = torch.nextafter(values, torch.full_like(values, float("inf")))
    down = torch.nextafter(values, torch.zeros_like(values))
    return torch.cat([values, up, down])


def _boundaries(fmt, dtype):
    """(amax, values): with a block max of amax the format's element scale is exactly one
    (except NVFP4 two-level, whose scale also depends on the tensor), so values lying on
    and next to the rounding boundaries reach the encoder unchanged."""
    if isinstance(fmt, (F.MXFP4, F.NVFP4)):
        amax, mids = 6.0, [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0]      # E2M1 ties
    elif isinstance(fmt, F.INT4):
        amax, mids = 7.5, [k + 0.5 for k in range(-8, 7)]               # scale 2*7.5/15 = 1
    elif isinstance(fmt, F.INT8):
        amax, mids = 127.0, [k + 0.5 for k in (-128, -3, -2, -1, 0, 1, 2, 63, 125, 126)]
    else:                                                               # FP8: scale 448/448
        codes = torch.arange(0, 0x7F, dtype=torch.uint8)
        grid = ref.e4m3_to_f32(codes).unique()
        amax, mids = 448.0, ((grid[1:] + grid[:-1]) / 2).tolist()      # E4M3 midpoints
    values = _with_neighbours(torch.tensor(mids, dtype=dtype))
    values = values[values.float().abs() <= amax]  # keep the block max (and scale) intact
    return amax, torch.cat([values, -values])


def _blocks(kind: int, m: int, n: int, fmt, dtype, g: torch.Generator) -> torch.Tensor:
    """m blocks of n values (fp32, [m, n]) of pattern `kind`."""
    randn = torch.randn(m, n, generator=g)
    rows = torch.arange(m)
    pos = torch.randint(n, (m,), generator=g)  # one chosen element per block
    if kind == 0:  # plain data over a wide range of block magnitudes
        return randn * 10.0 ** torch.empty(m, 1).uniform_(-6, 6, generator=g)
    if kind == 1:  # a NaN somewhere
        randn[rows, pos] = float("nan")
        return randn
    if kind == 2:  # an infinity somewhere
        randn[rows, pos] = torch.where(pos % 2 == 1, float("inf"), -float("inf"))
        return randn
    if kind == 3:  # signed zeros only
        return torch.where(randn > 0, 0.0, -0.0)
    if kind == 4:  # rounding boundaries at a unit element scale
        amax, values = _boundaries(fmt, dtype)
        block = values[torch.randint(values.numel(), (m, n), generator=g)].float()
        block[rows, pos] = -amax  # both ends, so that asymmetric INT4 gets (hi - lo) / 15 = 1
        block[rows, (pos + 1) % n] = amax
        return block
    if kind == 5:  # magnitudes from fp32 subnormals to near the fp32 max, random signs
        e = torch.randint(-149, 128, (m, n), generator=g).float()
        return torch.sign(randn) * torch.exp2(e) * (1 + torch.rand(m, n, generator=g))
    if kind == 6:  # huge values next to small ones, zeros and fp16 subnormals
        choices = torch.tensor([3.4e38, -3.0e38, 1e-30, 0.0, -0.0, 6e-8, -2e-5, 65519.0, 7e4])
        return choices[torch.randint(choices.numel(), (m, n), generator=g)]
    if kind == 7:  # the block's min, max and max |x| in its last two elements (vector tails)
        big = randn.abs().amax(1, keepdim=True)
        randn[:, -1:] = -3 * big
        randn[:, -2:-1] = 2 * big if n > 1 else randn[:, -2:-1]
        return randn
    if kind == 8:  # tiny blocks: max |x| from fp32 subnormals to just above the smallest normal
        return randn * torch.exp2(torch.randint(-152, -118, (m, 1), generator=g).float())
    if kind == 9:  # near-ties at a scale that is not a power of two: x / s within a few ulp of
        # a half-integer, where x * (1 / s) may round to the other side (INT4, INT8 encoders)
        return _blocks(4, m, n, fmt, dtype, g) * 1.3719
    raise ValueError(kind)


N_KINDS = 10


FINITE_KINDS = torch.tensor([0, 3, 4, 5, 6, 7, 8, 9])


def make_input(fmt, rows: int, cols: int, dtype, case: str, seed: int = 0) -> torch.Tensor:
    """x[rows, cols] block by block: 'mixed' cycles through every pattern of _blocks,
    'finite' through those without NaN/Inf (the AVX2 quantize_blocks takes 8 blocks at a
    time on its vector path only when all 8 are finite; 'mixed' puts a NaN and an Inf
    block in every 8), 'boundaries' uses only rounding-boundary blocks (so that NVFP4
    two-level, whose global scale sees the whole tensor, gets unit-scale blocks too)."""
    g = torch.Generator().manual_seed(seed)
    block = fmt.block_size(cols)
    nblocks = rows * cols // block
    if case == "boundaries":
        kinds = torch.full((nblocks,), 4)
    elif case == "finite":
        kinds = FINITE_KINDS[(torch.arange(nblocks) + seed) % len(FINITE_KINDS)]
    else:
        kinds = (torch.arange(nblocks) + seed) % N_KINDS
    x = torch.empty(nblocks, block)
    for kind in kinds.unique().tolist():
        sel = kinds == kind
        x[sel] = _blocks(kind, int(sel.sum()), block, fmt, dtype, g)
    return x.reshape(rows, cols).to(dtype)


def random_quantized(fmt, rows: int, cols: int, scale_dtype, g: torch.Generator):
    """Arbitrary codes and scales (every byte value, NaN / Inf / zero / subnormal / huge
    scales), as dequantize may receive them from a checkpoint rather than from quantize."""
    block = fmt.block_size(cols)
    nb = cols // block
    byte = lambda shape, dt=torch.uint8: torch.randint(0, 256, shape, generator=g).to(dt)  # noqa: E731
    if fmt.bits == 4:
        qdata = byte((rows, cols // 2))
    else:
        qdata = byte((rows, cols), torch.int8 if isinstance(fmt, F.INT8) else torch.uint8)
    zero = gscale = None
    if isinstance(fmt, (F.MXFP4, F.NVFP4)):
        scale = byte((rows, nb))  # E8M0 / E4M3 codes, NaN codes included
        if isinstance(fmt, F.NVFP4) and fmt.global_scale:
            # odd row counts: a global scale that takes the larger block scales to Inf
            d = 3e36 if rows % 2 else float(torch.empty(()).uniform_(1e-4, 1e2, generator=g))
            gscale = torch.tensor(d)
    else:
        sdtype = scale_dtype if isinstance(fmt, F.INT4) else torch.float32
        tiny, big = (6e-8, 6e4) if sdtype == torch.float16 else (1e-40, 3e38)
        # NaNs with payloads and signs: fp16 outputs must still become sign | 0x7E00
        nans = torch.tensor([0x7FC00000, 0x7FA00000, -0x00100001], dtype=torch.int32).view(torch.float32)
        specials = torch.cat([nans, torch.tensor([float("inf"), -float("inf"), 0.0, -0.0, tiny, big, -big])])
        scale = torch.randn(rows, nb, generator=g) * 10.0 ** torch.randint(-8, 8, (rows, nb), generator=g)
        pick = torch.randint(0, 3 * specials.numel(), (rows, nb), generator=g)
        scale = torch.where(pick < specials.numel(), specials[pick.clamp(max=specials.numel() - 1)], scale)
        scale = scale.to(sdtype)
        if fmt.has_zero:
            zero = torch.randint(0, 16, (rows, nb), generator=g).to(torch.uint8)
        if isinstance(fmt, F.FP8):
            # Rows with a NaN scale are NaN whatever the codes; NaN codes there would make
            # the result NaN's bits depend on the operand order the compiler gave a
            # commutative multiply (x86 returns the first NaN operand).
            both = scale.isnan() & ((qdata & 0x7F) == 0x7F)
            qdata = torch.where(both, qdata ^ 1, qdata)
    return qdata, scale, zero, gscale


# ----------------------------------------------------------------------------- tests


def _quantize(x, fmt):
    return list(torch.ops.qkern.quantize(x, fmt.spec))


def _dequantize(q, fmt, out_dtype):
    qdata, scale, zero, gscale = q
    return [torch.ops.qkern.dequantize(qdata, scale, zero, gscale, fmt.spec, out_dtype)]


def _check(cpu_isa, fn, want, *args):
    """fn(*args) on the current level equals `want` (reference.py), and on a vector level
    also the scalar level's result bit for bit, NaN payloads included."""
    got = fn(*args)
    assert_same_tensors(got, want)
    if cpu_isa != "scalar":
        with isa("scalar"):
            assert_same_tensors(got, fn(*args), nan_payloads=True)
    return got


@pytest.mark.parametrize("case", ["mixed", "finite", "boundaries"])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("fmt", ISA_FORMATS, ids=str)
def test_quantize_and_round_trip(cpu_isa, fmt, dtype, case):
    for seed, (rows, cols) in enumerate(shapes_for(fmt)):
        x = make_input(fmt, rows, cols, dtype, case, seed)
        q = _check(cpu_isa, _quantize, ref.quantize(x, fmt), x, fmt)
        zero = q[2] if fmt.has_zero else None
        gscale = q[-1] if fmt.has_global_scale else None
        q = (q[0], q[1], zero, gscale)
        for out_dtype in FLOATS:
            _check(cpu_isa, _dequantize, [ref.dequantize(*q, fmt, out_dtype)], q, fmt, out_dtype)


# INT4 scales come in every float dtype; the other formats have one scale dtype.
DEQUANT_CASES = [(fmt, sd) for fmt in ISA_FORMATS
                 for sd in (FLOATS if isinstance(fmt, F.INT4) else (torch.float32,))]


@pytest.mark.parametrize("fmt, scale_dtype", DEQUANT_CASES, ids=str)
def test_dequantize_arbitrary_codes_and_scales(cpu_isa, fmt, scale_dtype):
    g = torch.Generator().manual_seed(1)
    for rows, cols in shapes_for(fmt):
        q = random_quantized(fmt, rows, cols, scale_dtype, g)
        for out_dtype in FLOATS:
            _check(cpu_isa, _dequantize, [ref.dequantize(*q, fmt, out_dtype)], q, fmt, out_dtype)


def test_inputs_reach_the_rounding_boundaries():
    # The 'boundaries' blocks must really sit on ties at a unit scale: MXFP4 gives them
    # scale code 127 (2^0) and encodes 0.25 -> 0 and 0.75 -> 1.0 (ties to even).
    x = make_input(F.MXFP4(), 4, 64, torch.float32, "boundaries")
    qdata, scale = ref.quantize(x, F.MXFP4())
    assert (scale == 127).all()
    codes = ref.unpack_nibbles(qdata)
    assert (codes[x == 0.25] == 0).all() and (codes[x == 0.75] == 2).all()
    assert (x == 0.25).any() and (x == 0.75).any()
