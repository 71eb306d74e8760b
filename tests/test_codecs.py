"""Property tests of the element codecs shared by every backend (cpp/include/qkern/codecs.h)
and of the reference codecs, against the specs (NUMERICS.md) and torch's own casts."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from qkern import reference as ref
from codec_utils import run_codec

E2M1 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
finite_f32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
f32_lists = st.lists(finite_f32, min_size=1, max_size=64)


def e2m1_nearest_even(v: float) -> int:
    """Spec: the E2M1 code nearest to v (ties to the even code), saturating at 6."""
    a = abs(v)
    best = min(range(8), key=lambda c: (abs(E2M1[c] - min(a, 6.0)), c & 1))
    return best | (8 if math.copysign(1.0, v) < 0 else 0)


# ----------------------------------------------------------------------------- E2M1


def test_e2m1_every_code_round_trips():
    codes = torch.arange(16, dtype=torch.uint8)
    values = run_codec("e2m1_to_f32", codes, torch.float32)
    assert values[:8].tolist() == E2M1 and values[8:].tolist() == [-v for v in E2M1]
    assert torch.equal(run_codec("f32_to_e2m1", values, torch.uint8), codes)
    assert torch.equal(ref.f32_to_e2m1(values), codes)
    assert torch.equal(ref.e2m1_to_f32(codes), values)


@pytest.mark.parametrize("tie, code", [(0.25, 0), (0.75, 2), (1.25, 2), (1.75, 4), (2.5, 4),
                                       (3.5, 6), (5.0, 6), (7.0, 7), (1e30, 7)])
def test_e2m1_ties_to_even_and_saturation(tie, code):
    x = torch.tensor([tie, -tie])
    expected = torch.tensor([code, code | 8], dtype=torch.uint8)
    assert torch.equal(run_codec("f32_to_e2m1", x, torch.uint8), expected)
    assert torch.equal(ref.f32_to_e2m1(x), expected)


@given(f32_lists)
def test_e2m1_encode_is_nearest_even(values):
    x = torch.tensor(values, dtype=torch.float32)
    expected = torch.tensor([e2m1_nearest_even(v) for v in x.tolist()], dtype=torch.uint8)
    assert torch.equal(run_codec("f32_to_e2m1", x, torch.uint8), expected)
    assert torch.equal(ref.f32_to_e2m1(x), expected)


@given(finite_f32, finite_f32)
def test_e2m1_monotonic(a, b):
    lo, hi = sorted((a, b))
    codes = run_codec("f32_to_e2m1", torch.tensor([lo, hi]), torch.uint8)
    v = run_codec("e2m1_to_f32", codes, torch.float32)
    assert v[0] <= v[1]


# ----------------------------------------------------------------------------- E4M3


def test_e4m3_every_code_round_trips():
    codes = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    values = run_codec("e4m3_to_f32", codes, torch.float32)
    torch_values = codes.view(torch.float8_e4m3fn).float()
    assert torch.equal(values.isnan(), torch_values.isnan())
    finite = ~values.isnan()
    assert torch.equal(values[finite], torch_values[finite])
    assert run_codec("f32_to_e4m3", values[finite], torch.uint8).tolist() == codes[finite].tolist()
    assert values.isnan().sum() == 2  # 0x7F and 0xFF


@given(f32_lists)
def test_e4m3_encode_matches_torch_saturating_cast(values):
    x = torch.tensor(values, dtype=torch.float32)
    expected = x.clamp(-448, 448).to(torch.float8_e4m3fn).view(torch.uint8)
    assert torch.equal(run_codec("f32_to_e4m3", x, torch.uint8), expected)


def test_e4m3_subnormals_saturation_nan():
    tiny = torch.tensor([2.0 ** -10, 2.0 ** -9, 1.5 * 2.0 ** -9, 2.0 ** -6 - 2.0 ** -10, 500.0,
                         float("inf"), -float("inf"), float("nan")])
    got = run_codec("f32_to_e4m3", tiny, torch.uint8).tolist()
    # 2^-10 ties to 0 (even); 1.5*2^-9 ties to 2*2^-9; 2^-6 - 2^-10 = 7.5 * 2^-9 -> 8 (normal 2^-6)
    assert got[:4] == [0x00, 0x01, 0x02, 0x08]
    assert got[4:7] == [0x7E, 0x7E, 0xFE]
    assert got[7] & 0x7F == 0x7F


@given(finite_f32, finite_f32)
def test_e4m3_monotonic(a, b):
    lo, hi = sorted((a, b))
    v = run_codec("e4m3_to_f32", run_codec("f32_to_e4m3", torch.tensor([lo, hi]), torch.uint8),
                  torch.float32)
    assert v[0] <= v[1]


# ----------------------------------------------------------------------------- E8M0


def test_e8m0_every_code():
    codes = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    values = run_codec("e8m0_to_f32", codes, torch.float32)
    assert values[255].isnan()
    expected = torch.tensor([2.0 ** (c - 127) for c in range(255)], dtype=torch.float64).float()
    assert torch.equal(values[:255], expected)
    assert torch.equal(ref.e8m0_to_f32(codes)[:255], expected)


@given(st.floats(min_value=0.0, max_value=2.0 ** 127, width=32))
def test_mx_scale_rules(amax):
    a = torch.tensor([amax], dtype=torch.float32)
    floor = run_codec("mx_scale_floor", a, torch.uint8)
    rceil = run_codec("mx_scale_rceil", a, torch.uint8)
    assert torch.equal(floor, ref.mx_scale_floor(a))
    assert torch.equal(rceil, ref.mx_scale_rceil(a))
    if amax >= 2.0 ** -120:  # away from the clamp at 2^-127
        e = int(floor) - 127
        assert 2.0 ** (e + 2) <= amax < 2.0 ** (e + 3)  # OCP: floor(log2 amax) - emax
        r = int(rceil) - 127
        assert 2.0 ** (r - 1) < float(a / 6) <= 2.0 ** r  # RCEIL: smallest 2^r >= amax/6


# ----------------------------------------------------------------------------- fp16 / bf16


@given(f32_lists)
def test_half_and_bfloat_rounding_matches_torch(values):
    x = torch.tensor(values, dtype=torch.float32)
    assert torch.equal(run_codec("f32_to_f16", x, torch.int16),
                       x.to(torch.float16).view(torch.int16))
    assert torch.equal(run_codec("f32_to_bf16", x, torch.int16),
                       x.to(torch.bfloat16).view(torch.int16))


def test_half_and_bfloat_specials():
    x = torch.tensor([65519.0, 65520.0, 2.0 ** -25, 3 * 2.0 ** -26, float("inf"), -0.0])
    assert torch.equal(run_codec("f32_to_f16", x, torch.int16), x.to(torch.float16).view(torch.int16))
    nan = run_codec("f32_to_bf16", torch.tensor([float("nan")]), torch.int16)
    assert nan.item() == 0x7FC0
