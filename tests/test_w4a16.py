"""qkern.ops.w4a16_linear / prepack on CPU: accuracy against fp64 (tests/tolerance.py rule),
the prepacked layout bit for bit, scale decoders on every code, act-order, NaN policy,
errors, opcheck and torch.compile. Every kernel test runs on each compiled CPU level."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import qkern
from qkern import _C, formats, ops, reference
from qkern.ops.gemm import CPU_LAYOUT, PrepackedWeight
from qkern.reference import dequantize_weight, linear_reference
from tolerance import assert_close_to_reference

# format spec -> (K of one group, K of many groups). Per-channel INT4: K = 6 and 100 are
# not multiples of the 8-column tile (padding), NVFP4 K = 160 is 10 groups.
FORMATS = {
    "int4:g32:sym": (32, 160),
    "int4:g64:sym": (64, 320),
    "int4:g128:sym": (128, 512),
    "int4:g128:asym": (128, 384),
    "int4:channel:sym": (6, 100),
    "int4:channel:asym": (10, 200),
    "mxfp4:floor": (32, 256),
    "mxfp4:rceil": (32, 96),
    "nvfp4": (16, 160),
    "nvfp4:single": (16, 48),
}
DTYPES = (torch.float32, torch.float16, torch.bfloat16)
# (M, N, which K): the GEMV takes M <= 8 in passes of 4 rows (AVX2: M = 4 / 5 one / two
# passes) or 8 (AVX-512), one instantiation per M, so every M in 1..8 appears; M = 8 / 9
# straddle the GEMV / GEMM switch (bf16 x on AVX-512: GEMV up to 12 rows, M = 13 the bf16
# GEMM, whose register tiles are 6 rows x 32 or 16 channels); M = 250 spans GEMM row blocks
# (120) with a tail; N not multiples of 8 or 16.
SHAPES = [(1, 1, 0), (1, 7, 1), (2, 9, 1), (3, 100, 0), (6, 17, 0), (7, 40, 1), (4, 33, 1),
          (5, 7, 1), (8, 50, 1), (9, 33, 0), (13, 24, 1), (16, 100, 1), (17, 1, 0), (100, 7, 1), (20, 300, 1), (1, 300, 1), (250, 20, 0)]


def make_weight(n: int, k: int, fmt: str, dtype: torch.dtype) -> qkern.QuantizedTensor:
    """A quantized random weight; INT4 scales come out in `dtype` (as from a model in it)."""
    return ops.quantize(torch.randn(n, k).to(dtype), fmt)


def check_linear(x, q, bias=None, g_idx=None, y=None, what=""):
    """y (default: the kernel's) against fp64 with the 2x-PyTorch rule."""
    w = dequantize_weight(q, g_idx)  # fp32, exact values of the weight
    ref64 = x.double() @ w.double().t()
    baseline = F.linear(x, w.to(x.dtype), None)
    if bias is not None:
        ref64 = ref64 + bias.double()
        baseline = baseline + bias
    if y is None:
        y = ops.w4a16_linear(x, q, bias=bias, g_idx=g_idx)
    assert y.dtype == x.dtype and y.shape == (*x.shape[:-1], w.shape[0])
    assert_close_to_reference(y, ref64, baseline, what=what, sum_terms=w.shape[1],
                              abs_ref64=x.double().abs() @ w.double().abs().t())


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_matches_reference(cpu_isa, fmt, dtype):
    for m, n, which in SHAPES:
        k = FORMATS[fmt][which]
        q = make_weight(n, k, fmt, dtype)
        x = torch.randn(m, k).to(dtype)
        what = f"{fmt} {dtype} M={m} N={n} K={k} {cpu_isa}"
        check_linear(x, q, what=what + " canonical")
        check_linear(x, q, y=ops.w4a16_linear(x, ops.prepack(q)), what=what + " prepacked")


@pytest.mark.parametrize("m", [1, 7, 11])
def test_bias_batch_dims_and_strides(cpu_isa, m):
    q = make_weight(40, 256, "int4:g64:asym", torch.bfloat16)
    p = ops.prepack(q)
    bias = torch.randn(40).bfloat16()
    x = torch.randn(2, m, 256).bfloat16()
    check_linear(x, q, bias=bias, y=ops.w4a16_linear(x, p, bias=bias), what="3-D x + bias")
    wide = torch.randn(m, 300).bfloat16()
    check_linear(wide[:, :256], q, y=ops.w4a16_linear(wide[:, :256], p), what="row stride 300")
    xt = torch.randn(256, m).bfloat16().t()
    check_linear(xt, q, y=ops.w4a16_linear(xt, p), what="transposed x")


@pytest.mark.parametrize("fmt", ["int4:g64:sym", "int4:g64:asym", "mxfp4"])
@pytest.mark.parametrize("m", [1, 3, 16])
def test_bf16_x_in_place_or_converted(cpu_isa, fmt, m):
    """bf16 x is read in place by the bf16 kernels where its rows are whole bf16 pairs (even
    row stride, 4-byte aligned, K % 8 == 0) and converted otherwise; both give the reference."""
    q = make_weight(48, 256, fmt, torch.bfloat16)
    p = ops.prepack(q)
    wide = torch.randn(m, 301 * 2).bfloat16()
    cases = {"contiguous": wide[:, :256].contiguous(), "even stride": wide[:, :256],
             "odd stride": wide.reshape(-1)[: m * 301].reshape(m, 301)[:, :256],
             "2-byte aligned": wide[:, 1:257]}
    for what, x in cases.items():
        check_linear(x, q, y=ops.w4a16_linear(x, p), what=f"{fmt} M={m} {what}")


def test_mixed_scale_and_activation_dtypes(cpu_isa):
    """INT4 scales keep the dtype they were made in; x may come in any float dtype."""
    q = make_weight(24, 128, "int4:g32:sym", torch.float16)
    p = ops.prepack(q)
    for dtype in DTYPES:
        x = torch.randn(3, 128).to(dtype)
        check_linear(x, q, y=ops.w4a16_linear(x, p), what=f"f16 scales, {dtype} x")


def gptq_g_idx(k: int, group: int) -> torch.Tensor:
    """GPTQ act-order: columns in a random order, group i // G for the i-th of that order."""
    order = torch.randperm(k)
    g_idx = torch.empty(k, dtype=torch.int32)
    g_idx[order] = (torch.arange(k) // group).to(torch.int32)
    return g_idx


@pytest.mark.parametrize("sym", ["sym", "asym"])
@pytest.mark.parametrize("m", [1, 17])
def test_act_order(cpu_isa, sym, m):
    k, n = 256, 50
    q = make_weight(n, k, f"int4:g64:{sym}", torch.bfloat16)
    g_idx = gptq_g_idx(k, 64)
    # dequantize_weight with g_idx against the definition: column j uses group g_idx[j]
    codes = reference.unpack_nibbles(q.qdata).float()
    z = q.zero[:, g_idx.long()].float() if q.zero is not None else 8.0
    torch.testing.assert_close(dequantize_weight(q, g_idx),
                               (codes - z) * q.scale[:, g_idx.long()].float(), rtol=0, atol=0)
    p = ops.prepack(q, g_idx=g_idx)
    assert p.perm is not None and p.perm.dtype == torch.int32
    for dtype in DTYPES:  # the x gather through perm in each dtype's conversion
        x = torch.randn(m, k).to(dtype)
        check_linear(x, q, g_idx=g_idx, what=f"canonical + g_idx {dtype}")
        check_linear(x, q, g_idx=g_idx, y=ops.w4a16_linear(x, p), what=f"prepacked act-order {dtype}")


def layout_tiles(codes: torch.Tensor) -> torch.Tensor:
    """codes u8 [n_pad, k_pad] (one code per element) as the layout's tiles [n_pad / 16,
    k_pad / 8, 64], read from qkern/gemm.h: tile (strip, chunk), little-endian word `lane`
    = channel 16 strip + lane, its nibble p holding input 8 chunk + [0, 2, 4, 6, 1, 3, 5, 7][p]."""
    n_pad, k_pad = codes.shape
    words = torch.zeros(n_pad // 16, k_pad // 8, 16, dtype=torch.int64)
    for p_, v in enumerate([0, 2, 4, 6, 1, 3, 5, 7]):
        words |= codes[:, v::8].long().reshape(-1, 16, k_pad // 8).transpose(1, 2) << (4 * p_)
    tiles = torch.stack([(words >> (8 * b)) & 0xFF for b in range(4)], dim=-1).to(torch.uint8)
    return tiles.reshape(n_pad // 16, k_pad // 8, 64)


def test_prepacked_layout_bit_exact():
    """The C++ prepack against an independent reading of the layout in qkern/gemm.h."""
    n, k = 21, 100  # per-channel INT4 asym: N and K both padded
    q = make_weight(n, k, "int4:channel:asym", torch.float32)
    p = ops.prepack(q)
    s = _C.w4a16_cpu_shape(n, k, k)
    assert (s["n_pad"], s["k_pad"], s["groups"]) == (32, 104, 1)
    codes = torch.full((s["n_pad"], s["k_pad"]), 8, dtype=torch.uint8)  # padding code 8
    codes[:n, :k] = reference.unpack_nibbles(q.qdata)
    assert torch.equal(p.packed, layout_tiles(codes))
    assert torch.equal(p.scale[:, 0, :].reshape(-1)[:n], q.scale[:, 0])
    assert torch.equal(p.scale.reshape(-1)[n:], torch.zeros(s["n_pad"] - n))
    assert torch.equal(p.zero.reshape(-1), torch.cat([q.zero[:, 0], torch.full((s["n_pad"] - n,), 8, dtype=torch.uint8)]))
    assert p.layout == CPU_LAYOUT == "qkern.cpu.w4.n16k8.v3" and p.backend == "cpu"


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_nvfp4_scale_signs_move_into_codes(cpu_isa, dtype):
    """NVFP4 in the CPU layout: scale bytes are unsigned E4M3 (NaN as 0xFF) and a negative
    scale flips the sign bit of its group's E2M1 codes, so every element keeps its value:
    the layout bit for bit, then the linear layer (GEMV, GEMM) on weights with every scale
    code, negative ones and -0 included; NaN scales (0x7F, 0xFF) give NaN columns."""
    n, k = 40, 256  # 640 scales: every code of 0..255, then random ones
    qdata = torch.randint(0, 256, (n, k // 2), dtype=torch.uint8)
    scale = torch.cat([torch.arange(256), torch.randint(0, 256, (n * k // 16 - 256,))]).to(torch.uint8)
    scale = scale[torch.randperm(scale.numel())].reshape(n, k // 16)
    nan = (scale & 0x7F) == 0x7F
    finite = scale.masked_fill(nan, 0x38)  # 1.0 in E4M3
    fmt = formats.NVFP4()
    q = qkern.QuantizedTensor(qdata, scale, fmt, None, torch.tensor(0.0123))
    p = ops.prepack(q)
    codes = reference.unpack_nibbles(qdata)
    negative = (scale & 0x80).bool() & ~nan
    codes = torch.cat([codes ^ (8 * negative.repeat_interleave(16, 1)).to(torch.uint8),
                       torch.zeros(48 - n, k, dtype=torch.uint8)])  # padding channels: code 0
    assert torch.equal(p.packed, layout_tiles(codes))
    by_channel = p.scale.transpose(1, 2).reshape(-1, k // 16)  # [n_pad, groups]
    assert torch.equal(by_channel[:n], torch.where(nan, 0xFF, scale & 0x7F).to(torch.uint8))
    assert not by_channel[n:].any()
    # a state_dict holding signed bytes under the v3 tag is refused when loaded
    t = p.tensors()
    assert torch.equal(PrepackedWeight.from_tensors(t).scale, p.scale)
    with pytest.raises(ValueError, match=r"scale: the qkern.cpu.w4.n16k8.v3 layout stores NVFP4 scales unsigned.*got byte \d+"):
        PrepackedWeight.from_tensors({**t, "scale": t["scale"] | 0x80})
    q_finite = qkern.QuantizedTensor(qdata, finite, fmt, None, q.global_scale)
    p_finite = ops.prepack(q_finite)
    for m in (1, 3, 20):
        x = torch.randn(m, k).to(dtype)
        y = ops.w4a16_linear(x, p)
        cols = nan.any(1)
        assert torch.isnan(y[:, cols]).all() and not torch.isnan(y[:, ~cols]).any()
        check_linear(x, q_finite, y=ops.w4a16_linear(x, p_finite), what=f"nvfp4 signed scales m={m}")


def decode_scales(fmt: formats.Format, codes: torch.Tensor, d: float = 1.0) -> torch.Tensor:
    out = torch.empty(codes.numel(), dtype=torch.float32)
    _C.w4a16_decode_scales(kind=fmt.kind, block=fmt.block_size(64), **{
        k: v for k, v in fmt.kernel_flags().items() if k != "rceil"}, scale_dtype=qkern._ext.dtype_code(codes.dtype),
        global_scale_value=d, codes=codes.data_ptr(), n=codes.numel(), out=out.data_ptr())
    return out


def assert_same_bits(a: torch.Tensor, b: torch.Tensor) -> None:
    """Equal values, NaN where NaN (any payload), +0 / -0 told apart."""
    nan = torch.isnan(b)
    assert torch.equal(torch.isnan(a), nan)
    assert torch.equal(a[~nan].view(torch.int32), b[~nan].view(torch.int32))


def test_scale_decoders_every_code(cpu_isa):
    """The kernels' scale decoders (8 lanes on avx2, 16 on avx512) against the codecs, on
    every code (256 codes: a whole number of 16-channel strips; n = 17 below pads)."""
    codes = torch.arange(256, dtype=torch.uint8)
    assert_same_bits(decode_scales(formats.MXFP4(), codes), reference.e8m0_to_f32(codes))
    d = 0.0123456789
    assert_same_bits(decode_scales(formats.NVFP4(), codes, d),
                     reference.e4m3_to_f32(codes) * torch.tensor(d, dtype=torch.float32))
    assert_same_bits(decode_scales(formats.NVFP4(global_scale=False), codes, d),
                     reference.e4m3_to_f32(codes))
    # INT4 scales: every fp16 / bf16 bit pattern, and random fp32
    halves = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
    for dtype in (torch.float16, torch.bfloat16):
        assert_same_bits(decode_scales(formats.INT4(32), halves.view(dtype)), halves.view(dtype).float())
    f32 = torch.randn(1024) * 1e3
    assert_same_bits(decode_scales(formats.INT4(32), f32), f32)
    assert_same_bits(decode_scales(formats.MXFP4(), codes[100:117]), reference.e8m0_to_f32(codes[100:117]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("fmt", ["int4:g32:sym", "int4:g32:asym", "mxfp4:floor", "nvfp4"])
@pytest.mark.parametrize("m", [1, 9, 20])
def test_non_finite_weight_block_gives_nan(cpu_isa, fmt, m, dtype):
    """A weight block with NaN/Inf dequantizes to NaN (formats policy); those output
    columns are NaN, the others finite and accurate (GEMV and GEMM, fp32 and bf16 paths)."""
    w = torch.randn(24, 64)
    w[5, 3] = float("nan")
    w[17, 40] = float("inf")
    q = ops.quantize(w, fmt)
    x = torch.randn(m, 64).to(dtype)
    y = ops.w4a16_linear(x, ops.prepack(q))
    assert torch.isnan(y[:, [5, 17]]).all()
    check_linear(x, q, y=y, what=fmt)


def test_threads_do_not_change_results():
    q = make_weight(200, 256, "int4:g32:sym", torch.bfloat16)
    p = ops.prepack(q)
    before = _C.get_num_threads()
    try:
        for m in (1, 3, 40):
            x = torch.randn(m, 256).bfloat16()
            qkern.set_num_threads(1)
            one = ops.w4a16_linear(x, p)
            qkern.set_num_threads(2)
            assert torch.equal(one, ops.w4a16_linear(x, p))
    finally:
        qkern.set_num_threads(before)


def test_empty_rows():
    q = make_weight(9, 64, "nvfp4", torch.float32)
    y = ops.w4a16_linear(torch.randn(0, 64), ops.prepack(q))
    assert y.shape == (0, 9)
    assert ops.w4a16_linear(torch.randn(2, 0, 64), q).shape == (2, 0, 9)


def test_state_dict_roundtrip():
    q = make_weight(30, 128, "int4:g32:asym", torch.bfloat16)
    p = ops.prepack(q, g_idx=gptq_g_idx(128, 32))
    t = p.tensors()
    assert all(isinstance(v, torch.Tensor) for v in t.values())
    assert set(t) == {"packed", "scale", "zero", "perm", "meta"}
    p2 = PrepackedWeight.from_tensors({name: v.clone() for name, v in t.items()})
    assert (p2.layout, p2.fmt, p2.shape) == (p.layout, p.fmt, p.shape)
    x = torch.randn(2, 128).bfloat16()
    assert torch.equal(ops.w4a16_linear(x, p), ops.w4a16_linear(x, p2))


# ----------------------------------------------------------------------------- errors


def test_errors():
    q = make_weight(16, 128, "int4:g32:sym", torch.float32)
    p = ops.prepack(q)
    x = torch.randn(2, 128)
    with pytest.raises(ValueError, match=r"x: the last dim must equal the weight's K = 128"):
        ops.w4a16_linear(torch.randn(2, 64), p)
    with pytest.raises(ValueError, match=r"x: the last dim must equal the weight's K = 128"):
        ops.w4a16_linear(torch.randn(2, 64), q)
    with pytest.raises(TypeError, match=r"x: expected dtype float32, float16, bfloat16, got torch.int32"):
        ops.w4a16_linear(x.int(), p)
    with pytest.raises(TypeError, match=r"bias: expected dtype float32, got torch.bfloat16"):
        ops.w4a16_linear(x, p, bias=torch.zeros(16, dtype=torch.bfloat16))
    with pytest.raises(ValueError, match=r"bias: expected shape \(16,\), got \(15,\)"):
        ops.w4a16_linear(x, q, bias=torch.zeros(15))
    with pytest.raises(TypeError, match=r"weight: expected a qkern.QuantizedTensor or"):
        ops.w4a16_linear(x, torch.randn(16, 128))
    with pytest.raises(ValueError, match=r"weight: W4A16 takes INT4, MXFP4 or NVFP4 weights, got format int8:row"):
        ops.w4a16_linear(x, ops.quantize(torch.randn(16, 128), "int8"))
    with pytest.raises(ValueError, match=r"g_idx: a PrepackedWeight already carries its act-order"):
        ops.w4a16_linear(x, p, g_idx=torch.zeros(128, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"g_idx: every group 0..3 must hold exactly 32 columns"):
        ops.w4a16_linear(x, q, g_idx=torch.zeros(128, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"g_idx: act-order applies to INT4 weights, got nvfp4"):
        ops.w4a16_linear(x, make_weight(16, 128, "nvfp4", torch.float32), g_idx=torch.zeros(128, dtype=torch.int32))


def test_wrong_backend_errors():
    q = make_weight(16, 128, "mxfp4", torch.float32)
    p = ops.prepack(q)
    foreign = PrepackedWeight(p.packed, p.scale, p.fmt, p.shape, layout="qkern.cuda.w4.marlin.v1")
    x = torch.randn(2, 128)
    with pytest.raises(ValueError, match=r"weight: prepacked for backend 'cuda'.*x is on cpu.*prepack\(weight, 'cpu'\)"):
        ops.w4a16_linear(x, foreign)
    with pytest.raises(ValueError, match=r"weight: prepacked with layout 'qkern.cuda.w4.marlin.v1' \(backend 'cuda'\)"):
        torch.ops.qkern.w4a16_linear_prepacked(x, p.packed, p.scale, None, None, None, None, p.fmt.spec,
                                               "qkern.cuda.w4.marlin.v1", 16, 128)
    with pytest.raises(ValueError, match=r"weight: prepacked for backend 'cpu'.*x is on meta"):
        ops.w4a16_linear(torch.empty(2, 128, device="meta"), p)
    with pytest.raises(NotImplementedError, match=r"no W4 layout for device 'xpu'"):
        ops.prepack(q, "xpu")
    bad_perm = torch.full((128,), 128, dtype=torch.int32)
    with pytest.raises(ValueError, match=r"qkern kernel 'w4a16_linear' failed: invalid argument"):
        torch.ops.qkern.w4a16_linear_prepacked(x, p.packed, p.scale, None, None, bad_perm, None,
                                               p.fmt.spec, p.layout, 16, 128)
    # a weight saved from an older CPU layout (v1: 8-channel tiles; v2: signed NVFP4
    # scales) is refused, not misread
    for layout, packed, scale in (("qkern.cpu.w4.n8k8.v1", p.packed.reshape(2, 16, 32), p.scale.reshape(2, 4, 8)),
                                  ("qkern.cpu.w4.n16k8.v2", p.packed, p.scale)):
        old = PrepackedWeight(packed, scale, p.fmt, p.shape, layout=layout)
        with pytest.raises(ValueError, match=rf"layout '{layout}' .*expects "
                                             r"'qkern.cpu.w4.n16k8.v3'.*qkern.ops.prepack\(weight, 'cpu'\)"):
            ops.w4a16_linear(x, old)
    with pytest.raises(ValueError, match=r"weight.packed: expected shape"):
        torch.ops.qkern.w4a16_linear_prepacked(x, p.packed[:, :1], p.scale, None, None, None, None,
                                               p.fmt.spec, p.layout, 16, 128)


def test_weight_checks_rerun_after_a_change():
    """The eager CPU path checks a PrepackedWeight once and keeps the result; a new field or
    an in-place change of one of its tensors must bring the checks back."""
    q = make_weight(16, 128, "nvfp4", torch.float32)
    x = torch.randn(3, 128)
    p = ops.prepack(q)
    want = ops.w4a16_linear(x, p)  # checked and kept
    p.scale = p.scale[:, :1]
    with pytest.raises(ValueError, match=r"weight.scale: expected shape \(1, 8, 16\), got \(1, 1, 16\)"):
        ops.w4a16_linear(x, p)
    p = ops.prepack(q)
    ops.w4a16_linear(x, p)
    p.global_scale = None
    with pytest.raises(ValueError, match=r"weight.global_scale: required for nvfp4, got None"):
        ops.w4a16_linear(x, p)
    p = ops.prepack(q)
    ops.w4a16_linear(x, p)
    p.packed.resize_(1, 2, 64)  # same object, fewer tiles: its version moved
    with pytest.raises(ValueError, match=r"weight.packed: expected shape \(1, 16, 64\), got \(1, 2, 64\)"):
        ops.w4a16_linear(x, p)
    p = ops.prepack(q)
    ops.w4a16_linear(x, p)
    p.scale.set_(p.scale[:, :2].clone())  # same object, another storage
    with pytest.raises(ValueError, match=r"weight.scale: expected shape \(1, 8, 16\), got \(1, 2, 16\)"):
        ops.w4a16_linear(x, p)
    p = ops.prepack(q)
    torch.testing.assert_close(ops.w4a16_linear(x, p), want, rtol=0, atol=0)
    p.packed = p.packed.numpy()
    with pytest.raises(TypeError, match=r"weight.packed: expected a torch.Tensor, got ndarray"):
        ops.w4a16_linear(x, p)


# ----------------------------------------------------------------------------- torch integration


def test_opcheck():
    q = make_weight(20, 64, "int4:g32:asym", torch.bfloat16)
    g_idx = gptq_g_idx(64, 32)
    p = ops.prepack(q, g_idx=g_idx)
    x = torch.randn(3, 64).bfloat16()
    bias = torch.randn(20).bfloat16()
    torch.library.opcheck(torch.ops.qkern.w4a16_linear.default,
                          (x, q.qdata, q.scale, q.zero, None, g_idx, bias, q.fmt.spec))
    torch.library.opcheck(torch.ops.qkern.w4a16_linear_prepacked.default,
                          (x, p.packed, p.scale, p.zero, None, p.perm, bias, p.fmt.spec, p.layout, 20, 64))
    torch.library.opcheck(torch.ops.qkern.w4a16_prepack.default,
                          (q.qdata, q.scale, q.zero, None, p.perm, q.fmt.spec))
    qn = make_weight(20, 64, "nvfp4", torch.float32)
    torch.library.opcheck(torch.ops.qkern.w4a16_linear.default,
                          (x.float(), qn.qdata, qn.scale, None, qn.global_scale, None, None, qn.fmt.spec))


def test_torch_compile_fullgraph():
    torch._dynamo.reset()
    q = make_weight(20, 64, "nvfp4", torch.bfloat16)
    p = ops.prepack(q)
    bias = torch.randn(20).bfloat16()

    @torch.compile(fullgraph=True, backend="aot_eager")
    def f(x):
        return ops.w4a16_linear(x, p, bias=bias) + ops.w4a16_linear(x, q)

    x = torch.randn(2, 5, 64).bfloat16()
    assert torch.equal(f(x), ops.w4a16_linear(x, p, bias=bias) + ops.w4a16_linear(x, q))


def test_reference_fallback_matches_kernel():
    """The pure-PyTorch path (used on devices without a kernel) computes the same thing."""
    q = make_weight(12, 64, "int4:g32:sym", torch.float32)
    x = torch.randn(3, 64)
    ref = linear_reference(x, q)
    check_linear(x, q, y=ref, what="reference")
