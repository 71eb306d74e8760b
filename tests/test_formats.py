"""quantize / dequantize: CPU kernels bit-exact with reference.py for every format, dtype
and awkward shape; NaN/Inf/zero policies; bad input; QuantizedTensor; torch.library
integration; interchangeability with the PyTorch ecosystem (torchao)."""
from __future__ import annotations

import pytest
import torch

import qkern
from qkern import formats as F
from qkern import reference as ref

from codec_utils import FLOATS, FORMATS, assert_same_tensors

# (leading shape, number of blocks per row)
SHAPES = [((1,), 1), ((3,), 5), ((17,), 2), ((2, 3), 3), ((), 4)]


def cols_for(fmt, nblocks):
    if isinstance(fmt, F.INT4) and fmt.group_size is None:
        return 34 * nblocks  # per channel: any even length
    if isinstance(fmt, (F.INT8, F.FP8)):
        return 7 * nblocks   # per row: any length
    return fmt.block_size(0) * nblocks


def make_input(lead, cols, dtype, special=False):
    x = torch.randn(*lead, cols) * torch.logspace(-2, 2, cols)
    if special and x.numel() >= 64:
        flat = x.view(-1)
        flat[5] = float("nan")
        flat[40] = float("inf")
        flat[41] = -float("inf")
        flat[cols:cols + 16] = 0.0 if x.shape[-1] >= 16 else flat[cols:cols + 16]
        flat[-3:] = torch.tensor([0.25, -0.75, 1e-40])  # E2M1 ties, an fp32 subnormal
    return x.to(dtype)


def quantize_list(q: qkern.QuantizedTensor):
    return list(q.tensors().values())


# ----------------------------------------------------------------------------- bit-exactness


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("lead, nblocks", SHAPES)
def test_cpu_matches_reference(cpu_isa, fmt, dtype, lead, nblocks):
    x = make_input(lead, cols_for(fmt, nblocks), dtype, special=True)
    q = qkern.ops.quantize(x, fmt)
    assert_same_tensors(quantize_list(q), ref.quantize(x, fmt))
    assert q.shape == x.shape
    for out_dtype in FLOATS:
        got = q.dequantize(out_dtype)
        want = ref.dequantize(q.qdata, q.scale, q.zero, q.global_scale, fmt, out_dtype)
        assert_same_tensors([got], [want])


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_threads_do_not_change_results(fmt):
    x = make_input((64,), cols_for(fmt, 64), torch.float32)
    try:
        qkern.set_num_threads(1)
        one = quantize_list(qkern.ops.quantize(x, fmt))
        qkern.set_num_threads(2)
        two = quantize_list(qkern.ops.quantize(x, fmt))
    finally:
        qkern.set_num_threads(torch.get_num_threads())
    assert_same_tensors(one, two)


# ----------------------------------------------------------------------------- policies


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_non_finite_blocks_dequantize_to_nan_and_stay_local(fmt):
    cols = cols_for(fmt, 4)
    x = torch.randn(3, cols)
    x[0, 1] = float("nan")
    x[1, 2] = float("inf")
    back = qkern.ops.quantize(x, fmt).dequantize()
    block = fmt.block_size(cols)
    assert back[0, :block].isnan().all() and back[1, :block].isnan().all()
    assert torch.isfinite(back[2]).all()  # untouched rows stay finite
    assert torch.isfinite(back[0, block:]).all() or block == cols


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_zero_blocks_are_exact(fmt):
    x = torch.zeros(2, cols_for(fmt, 2))
    q = qkern.ops.quantize(x, fmt)
    back = q.dequantize()
    assert torch.equal(back, x)


def test_documented_zero_block_scales():
    z = torch.zeros(1, 32)
    assert qkern.ops.quantize(z, F.MXFP4()).scale.tolist() == [[0]]          # 2^-127
    nv = qkern.ops.quantize(z, F.NVFP4())
    assert ref.e4m3_to_f32(nv.scale).tolist() == [[2.0 ** -6, 2.0 ** -6]] and nv.global_scale.item() == 1.0
    assert qkern.ops.quantize(z, F.INT4(32)).scale.tolist() == [[0.0]]


def test_symmetric_int4_is_the_gptq_convention():
    x = torch.tensor([[-7.5, 0.0, 1.0, 7.5] * 8])
    q = qkern.ops.quantize(x, F.INT4(32))
    assert q.scale.item() == pytest.approx(1.0)  # 2 * amax / 15
    codes = ref.unpack_nibbles(q.qdata)[0, :4].tolist()
    assert codes == [0, 8, 9, 15]  # -7.5 -> 0 (q - 8 = -8), 7.5 rounds to 8 and clamps at 15


def test_mxfp4_floor_clips_and_rceil_does_not():
    x = torch.full((1, 32), 7.0)  # amax in (6*2^0, 8*2^0): FLOOR scale 2^0 saturates at 6
    assert qkern.ops.quantize(x, F.MXFP4()).dequantize()[0, 0].item() == 6.0
    assert qkern.ops.quantize(x, F.MXFP4("rceil")).dequantize()[0, 0].item() == 8.0


def test_empty_rows():
    for fmt in FORMATS:
        x = torch.empty(0, cols_for(fmt, 2))
        q = qkern.ops.quantize(x, fmt)
        assert q.qdata.shape[0] == 0 and q.dequantize().shape == x.shape


# ----------------------------------------------------------------------------- bad input


def test_bad_inputs_name_the_argument():
    x = torch.randn(4, 64)
    with pytest.raises(TypeError, match="x: expected dtype"):
        qkern.ops.quantize(x.to(torch.int32), F.INT4(32))
    with pytest.raises(ValueError, match=r"x: the last dim \(48\).*block size \(32\)"):
        qkern.ops.quantize(torch.randn(4, 48), F.INT4(32))
    with pytest.raises(ValueError, match="x: expected a contiguous tensor"):
        qkern.ops.quantize(x.t(), F.INT4(32))
    with pytest.raises(ValueError, match="x: the last dim"):
        qkern.ops.quantize(torch.randn(4, 0), F.INT8())
    with pytest.raises(ValueError, match="x: the last dim.*even"):
        qkern.ops.quantize(torch.randn(4, 33), F.INT4(None))
    with pytest.raises(ValueError, match="x: expected at least 1 dimension"):
        qkern.ops.quantize(torch.tensor(1.0), F.INT8())
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        qkern.ops.quantize([1.0, 2.0], F.INT8())
    with pytest.raises(ValueError, match="group_size must be one of"):
        F.INT4(48)
    with pytest.raises(ValueError, match="unknown format spec"):
        qkern.ops.quantize(x, "int3")


def test_bad_dequantize_inputs():
    q = qkern.ops.quantize(torch.randn(4, 64), F.INT4(32, symmetric=False))
    deq = torch.ops.qkern.dequantize
    with pytest.raises(TypeError, match="qdata: expected dtype uint8"):
        deq(q.qdata.to(torch.int32), q.scale, q.zero, None, q.fmt.spec, torch.float32)
    with pytest.raises(ValueError, match=r"scale: expected shape \(4, 2\)"):
        deq(q.qdata, q.scale[:, :1].contiguous(), q.zero, None, q.fmt.spec, torch.float32)
    with pytest.raises(ValueError, match="zero: required"):
        deq(q.qdata, q.scale, None, None, q.fmt.spec, torch.float32)
    with pytest.raises(ValueError, match="global_scale: int4:g32:asym has no global scale"):
        deq(q.qdata, q.scale, q.zero, torch.ones(()), q.fmt.spec, torch.float32)
    with pytest.raises(TypeError, match="dtype: expected one of"):
        deq(q.qdata, q.scale, q.zero, None, q.fmt.spec, torch.int8)
    with pytest.raises(ValueError, match="scale: expected a tensor on cpu"):
        deq(q.qdata, q.scale.to("meta"), q.zero, None, q.fmt.spec, torch.float32)
    nv = qkern.ops.quantize(torch.randn(2, 32), F.NVFP4())
    with pytest.raises(ValueError, match="global_scale: required"):
        deq(nv.qdata, nv.scale, None, None, nv.fmt.spec, torch.float32)
    with pytest.raises(TypeError, match="q: expected a qkern.QuantizedTensor"):
        qkern.ops.dequantize(torch.zeros(2))


# ----------------------------------------------------------------------------- QuantizedTensor


def test_quantized_tensor_round_trips_through_plain_tensors():
    x = torch.randn(2, 3, 256, dtype=torch.bfloat16)
    for fmt in FORMATS:
        q = qkern.ops.quantize(x, fmt)
        assert q.shape == x.shape and q.device == x.device
        state = {k: v.clone() for k, v in q.tensors().items()}
        q2 = qkern.QuantizedTensor.from_tensors(fmt.spec, state)
        assert torch.equal(q2.dequantize(), q.dequantize())
        assert str(fmt.spec) in repr(q2)
        assert F.parse(fmt.spec) == fmt
        q_meta = q.to("meta")
        assert q_meta.device.type == "meta" and q_meta.shape == q.shape


def test_fp4_bytes_view_as_torch_float4():
    if not hasattr(torch, "float4_e2m1fn_x2"):
        pytest.skip("torch has no float4_e2m1fn_x2 (needs torch >= 2.8)")
    q = qkern.ops.quantize(torch.randn(4, 64), F.MXFP4())
    assert q.qdata.view(torch.float4_e2m1fn_x2).shape == (4, 32)


# ----------------------------------------------------------------------------- torch.library


@pytest.mark.parametrize("fmt", [F.INT4(32, symmetric=False), F.MXFP4(), F.NVFP4(), F.FP8()], ids=str)
def test_opcheck(fmt):
    x = torch.randn(3, 64)
    torch.library.opcheck(torch.ops.qkern.quantize.default, (x, fmt.spec))
    q = qkern.ops.quantize(x, fmt)
    torch.library.opcheck(torch.ops.qkern.dequantize.default,
                          (q.qdata, q.scale, q.zero, q.global_scale, fmt.spec, torch.bfloat16))


def test_torch_compile_fullgraph():
    def round_trip(x):
        q = qkern.ops.quantize(x, F.NVFP4())
        return qkern.ops.dequantize(q, torch.float32) - x

    x = torch.randn(8, 64)
    compiled = torch.compile(round_trip, fullgraph=True, backend="aot_eager")
    assert torch.equal(compiled(x), round_trip(x))


def test_other_devices_fall_back_to_the_reference(monkeypatch):
    # The CompositeExplicitAutograd registration serves devices without a qkern kernel.
    from qkern.ops import formats as opsf

    x = torch.randn(2, 64)
    want = [t.clone() for t in ref.quantize(x, F.MXFP4())]
    got = opsf._quantize_reference(x, "mxfp4:floor")
    assert_same_tensors(got, want)


# ----------------------------------------------------------------------------- ecosystem


def _torchao():
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torchao.prototype.mx_formats import mx_tensor, nvfp4_tensor
            from torchao.prototype.mx_formats.config import ScaleCalculationMode
        return mx_tensor, nvfp4_tensor, ScaleCalculationMode
    except Exception as e:  # torchao missing or incompatible with this torch
        pytest.skip(f"torchao unavailable: {e}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_bit_identical_to_torchao(dtype):
    mx, nv, mode = _torchao()
    x = (torch.randn(64, 512) * torch.logspace(-3, 3, 512)).to(dtype)
    for rule, m in (("floor", mode.FLOOR), ("rceil", mode.RCEIL)):
        s, d = mx.to_mx(x, torch.float4_e2m1fn_x2, 32, m)
        q = qkern.ops.quantize(x, F.MXFP4(rule))
        assert torch.equal(s.view(torch.uint8), q.scale) and torch.equal(d.view(torch.uint8), q.qdata)
    gs = nv.per_tensor_amax_to_scale(x.float().abs().amax())
    s, d = nv.nvfp4_quantize(x, 16, gs)
    q = qkern.ops.quantize(x, F.NVFP4())
    assert q.global_scale.item() == gs.item()
    assert torch.equal(s.view(torch.uint8), q.scale)
    assert torch.equal(d.view(torch.uint8), q.qdata)
    s, d = nv.nvfp4_quantize(x, 16, None)
    q = qkern.ops.quantize(x, F.NVFP4(global_scale=False))
    assert torch.equal(s.view(torch.uint8), q.scale)
    assert torch.equal(d.view(torch.uint8), q.qdata)


# ----------------------------------------------------------------------------- out=


@pytest.mark.parametrize("fmt", [F.INT4(32, symmetric=False), F.MXFP4(), F.NVFP4(), F.INT8()], ids=str)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_dequantize_into_a_buffer(fmt, dtype):
    q = qkern.ops.quantize(torch.randn(5, 64), fmt)
    out = torch.full((5, 64), 123.0, dtype=dtype)
    assert qkern.ops.dequantize(q, out=out) is out
    assert_same_tensors([out], [q.dequantize(dtype)])
    ref_out = torch.empty_like(out)
    from qkern.ops import formats as opsf
    opsf._dequantize_into_reference(q.qdata, q.scale, q.zero, q.global_scale, fmt.spec, ref_out)
    assert_same_tensors([ref_out], [out])
    torch.library.opcheck(torch.ops.qkern.dequantize_into.default,
                          (q.qdata, q.scale, q.zero, q.global_scale, fmt.spec, out))


def test_dequantize_into_rejects_bad_buffers():
    q = qkern.ops.quantize(torch.randn(4, 64), F.MXFP4())
    with pytest.raises(ValueError, match=r"out: expected shape \(4, 64\)"):
        qkern.ops.dequantize(q, out=torch.empty(4, 32))
    with pytest.raises(TypeError, match="out: expected dtype"):
        qkern.ops.dequantize(q, out=torch.empty(4, 64, dtype=torch.int32))
    with pytest.raises(ValueError, match="out: expected a contiguous tensor"):
        qkern.ops.dequantize(q, out=torch.empty(64, 4).t())
    with pytest.raises(ValueError, match="dtype: torch.float16 differs from out's dtype"):
        qkern.ops.dequantize(q, torch.float16, out=torch.empty(4, 64))
