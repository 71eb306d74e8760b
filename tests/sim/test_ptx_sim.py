"""cuda/ptx wrappers through their probe kernels (cuda/ptx/probes): in the emulator at each
emulated arch (marked `sim`) and on a GPU (marked `cuda`; only checks the hardware can
honour). mma results are compared with a float64 / integer matmul of the same tiles;
the layouts used to build the fragments are checked against CuTe in test_cute_layouts.py."""
from __future__ import annotations

import pytest
import torch

from qkern import _ext, reference

BACKENDS = [pytest.param("sim", marks=pytest.mark.sim), pytest.param("cuda", marks=pytest.mark.cuda)]
# emulated arch of each probe family in _C_sim (0 on a GPU: the device decides)
SIM_ARCH = {"sm80": 800, "sm89": 890, "sm120a": 1200}


def module(backend):
    return _ext.optional_module("_C_sim" if backend == "sim" else "_C_cuda")


def run_probe(backend, op, inputs, out, n=0, arch=0):
    """Runs op on CPU tensors (sim) or on copies on the GPU; returns out on the CPU."""
    dev = "cpu" if backend == "sim" else "cuda"
    ins = [t.to(dev).contiguous() for t in inputs]
    o = out.to(dev).contiguous()
    module(backend).probe(op, [t.data_ptr() for t in ins], o.data_ptr(), n=n,
                          arch=arch if backend == "sim" else 0)
    if dev == "cuda":
        torch.cuda.synchronize()
    return o.cpu()


def needs(backend, feature):
    """Skip GPU tests whose instruction the device lacks."""
    if backend != "cuda":
        return
    major, minor = torch.cuda.get_device_capability()
    cc = major * 10 + minor
    ok = {"sm80": cc >= 80, "sm89": cc >= 89 and module("cuda").features["fp8_mma"],
          "sm120a": cc == 120 and module("cuda").features["block_scaled_mma"]}[feature]
    if not ok:
        pytest.skip(f"device sm_{cc} or this build lacks {feature} instructions")


# ----------------------------------------------------------------------------- mma

def _tiles(kind, gen):
    """Random A [16, K], B [8, K] as (raw element tensor, exact float64 values)."""
    if kind in ("bf16", "f16"):
        dt = torch.bfloat16 if kind == "bf16" else torch.float16
        a = torch.randn(16, 16, generator=gen).to(dt)
        b = torch.randn(8, 16, generator=gen).to(dt)
        return a.view(torch.uint16), b.view(torch.uint16), a.double(), b.double()
    if kind in ("s8", "s4"):
        lo, hi = (-128, 128) if kind == "s8" else (-8, 8)
        k = 32 if kind == "s8" else 64
        a = torch.randint(lo, hi, (16, k), generator=gen, dtype=torch.int8)
        b = torch.randint(lo, hi, (8, k), generator=gen, dtype=torch.int8)
        return a, b, a.double(), b.double()
    if kind == "e4m3":
        a = (torch.randn(16, 32, generator=gen) * 4).to(torch.float8_e4m3fn)
        b = (torch.randn(8, 32, generator=gen) * 4).to(torch.float8_e4m3fn)
        return a.view(torch.uint8), b.view(torch.uint8), a.double(), b.double()
    # e2m1 codes
    a = torch.randint(0, 16, (16, 64), generator=gen, dtype=torch.uint8)
    b = torch.randint(0, 16, (8, 64), generator=gen, dtype=torch.uint8)
    return a, b, reference.e2m1_to_f32(a).double(), reference.e2m1_to_f32(b).double()


MMA_CASES = [("mma_bf16", "bf16", "sm80"), ("mma_f16", "f16", "sm80"), ("mma_s8", "s8", "sm80"),
             ("mma_s4", "s4", "sm80"), ("mma_e4m3", "e4m3", "sm89"),
             ("mma_e2m1_ue8m0", "e2m1", "sm120a"), ("mma_e2m1_ue4m3", "e2m1", "sm120a")]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op,kind,family", MMA_CASES)
def test_mma(backend, op, kind, family):
    needs(backend, family)
    gen = torch.Generator().manual_seed(hash(op) % 1000)
    a, b, av, bv = _tiles(kind, gen)
    integer = kind in ("s8", "s4")
    c = (torch.randint(-1000, 1000, (16, 8), generator=gen, dtype=torch.int32) if integer
         else torch.randn(16, 8, generator=gen))
    inputs = [a, b, c]
    if op.startswith("mma_e2m1"):
        nvec, vec = (2, 32) if op.endswith("ue8m0") else (4, 16)
        if nvec == 2:  # E8M0 codes around 2^0
            sfa = torch.randint(120, 134, (16, nvec), generator=gen, dtype=torch.uint8)
            sfb = torch.randint(120, 134, (8, nvec), generator=gen, dtype=torch.uint8)
            sa, sb = reference.e8m0_to_f32(sfa).double(), reference.e8m0_to_f32(sfb).double()
        else:  # positive E4M3 codes
            sfa = torch.randint(0x20, 0x50, (16, nvec), generator=gen, dtype=torch.uint8)
            sfb = torch.randint(0x20, 0x50, (8, nvec), generator=gen, dtype=torch.uint8)
            sa = sfa.view(torch.float8_e4m3fn).double()
            sb = sfb.view(torch.float8_e4m3fn).double()
        av = av * sa.repeat_interleave(vec, dim=1)
        bv = bv * sb.repeat_interleave(vec, dim=1)
        inputs += [sfa, sfb]
    d = run_probe(backend, op, inputs, torch.zeros_like(c), arch=SIM_ARCH[family])
    want = av @ bv.T + c.double()
    if integer:
        assert torch.equal(d, want.to(torch.int64).to(torch.int32))
    elif backend == "sim":  # exact sum rounded once
        assert torch.equal(d, want.float())
    else:
        torch.testing.assert_close(d.double(), want, rtol=1e-5, atol=1e-5 * want.abs().max().item())


@pytest.mark.sim
@pytest.mark.parametrize("op,family", [("mma_e4m3", "sm89"), ("cvt_e4m3x2", "sm89"),
                                       ("mma_e2m1_ue8m0", "sm120a"), ("mma_e2m1_ue4m3", "sm120a"),
                                       ("cvt_e2m1x2", "sm120a"), ("cvt_ue8m0x2", "sm120a")])
def test_missing_instruction_traps(op, family):
    """The same probe compiled for the emulated sm_80 traps with a message (never a no-op)."""
    ins = [torch.zeros(16, 64, dtype=torch.uint8), torch.zeros(8, 64, dtype=torch.uint8), torch.zeros(16, 8),
           torch.zeros(16, 4, dtype=torch.uint8), torch.zeros(8, 4, dtype=torch.uint8)]
    with pytest.raises(RuntimeError, match=r"is not available on the emulated sm_80"):
        run_probe("sim", op, ins, torch.zeros(16, 8), n=4, arch=800)


# ----------------------------------------------------------------------------- ldmatrix

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("num", [1, 2, 4])
@pytest.mark.parametrize("trans", [False, True])
def test_ldmatrix(backend, num, trans):
    needs(backend, "sm80")
    m = torch.arange(4 * 64, dtype=torch.int32).to(torch.int16).view(torch.uint16).reshape(4, 8, 8)
    op = f"ldmatrix_x{num}" + ("_trans" if trans else "")
    out = run_probe(backend, op, [m.reshape(-1)], torch.zeros(32 * num, dtype=torch.int32))
    got = out.view(torch.int32).reshape(32, num)
    for lane in range(32):
        for j in range(num):
            # NUMERICS.md 4: register j of lane l = row l>>2, cols 2(l&3), +1 of matrix j
            r, c0 = lane >> 2, 2 * (lane & 3)
            if trans:
                lo, hi = m[j, c0, r], m[j, c0 + 1, r]
            else:
                lo, hi = m[j, r, c0], m[j, r, c0 + 1]
            word = int(lo) | int(hi) << 16
            assert int(got[lane, j]) & 0xFFFFFFFF == word, (lane, j)


# ----------------------------------------------------------------------------- cp.async

@pytest.mark.parametrize("backend", BACKENDS)
def test_cp_async_groups(backend):
    needs(backend, "sm80")
    src = torch.arange(1024, dtype=torch.int32).to(torch.uint8)
    out = run_probe(backend, "cp_async", [src], torch.zeros(4 * 512, dtype=torch.uint8)).reshape(4, 512)
    stale = torch.full((512,), 0xEE, dtype=torch.uint8)
    assert torch.equal(out[1], src[:512])       # group 0 landed at wait_group 1
    assert torch.equal(out[3], src[512:])       # group 1 landed at wait_group 0
    if backend == "sim":  # copies land only at the covering wait: earlier reads are stale
        assert torch.equal(out[0], stale)
        assert torch.equal(out[2], stale)


# ----------------------------------------------------------------------------- bits, cvt

def _u32(gen, n):
    return torch.randint(-2**31, 2**31 - 1, (n,), generator=gen, dtype=torch.int64).to(torch.int32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lop3_prmt(backend):
    needs(backend, "sm80")
    gen = torch.Generator().manual_seed(1)
    n = 300
    a, b, c = _u32(gen, n), _u32(gen, n), _u32(gen, n)
    z = torch.zeros(n, dtype=torch.int32)
    assert torch.equal(run_probe(backend, "lop3_xor3", [a, b, c], z, n=n), a ^ b ^ c)
    assert torch.equal(run_probe(backend, "lop3_majority", [a, b, c], z, n=n), (a & b) | (a & c) | (b & c))
    sel = torch.randint(0, 1 << 16, (n,), generator=gen, dtype=torch.int32)
    got = run_probe(backend, "prmt", [a, b, sel], z, n=n)
    pair = [(int(b[i]) & 0xFFFFFFFF) << 32 | (int(a[i]) & 0xFFFFFFFF) for i in range(n)]
    for i in range(n):
        want = 0
        for k in range(4):
            s = (int(sel[i]) >> (4 * k)) & 0xF
            byte = (pair[i] >> (8 * (s & 7))) & 0xFF
            if s & 8:
                byte = 0xFF if byte & 0x80 else 0
            want |= byte << (8 * k)
        assert int(got[i]) & 0xFFFFFFFF == want


def _cvt_inputs(gen, n, scale):
    lo = torch.randn(n, generator=gen) * scale
    hi = torch.randn(n, generator=gen) * scale
    lo[:4] = torch.tensor([0.25, 0.75, 5.0, -1e9])  # ties and saturation
    hi[:4] = torch.tensor([-0.0, 2.5, float("inf"), 3.5])
    return lo, hi


@pytest.mark.parametrize("backend", BACKENDS)
def test_cvt_e4m3x2(backend):
    needs(backend, "sm89")
    gen = torch.Generator().manual_seed(2)
    n = 256
    lo, hi = _cvt_inputs(gen, n, 100.0)
    got = run_probe(backend, "cvt_e4m3x2", [lo, hi], torch.zeros(n, dtype=torch.int16), n=n, arch=890)
    want = (reference.f32_to_e4m3(lo).view(torch.uint8).to(torch.int32)
            | reference.f32_to_e4m3(hi).view(torch.uint8).to(torch.int32) << 8)
    assert torch.equal(got.to(torch.int32) & 0xFFFF, want)
    codes = torch.arange(0, 1 << 16, 257, dtype=torch.int32).to(torch.int16)
    codes = codes[(codes & 0x7F) != 0x7F]  # NaN payloads differ between converters
    got = run_probe(backend, "cvt_e4m3x2_to_f16x2", [codes], torch.zeros(len(codes), dtype=torch.int32),
                    n=len(codes), arch=890)
    halves = got.view(torch.float16).reshape(-1, 2)
    want = codes.view(torch.uint8).view(torch.float8_e4m3fn).float().half().reshape(-1, 2)
    assert torch.equal(halves, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cvt_e2m1x2_ue8m0x2(backend):
    needs(backend, "sm120a")
    gen = torch.Generator().manual_seed(3)
    n = 256
    lo, hi = _cvt_inputs(gen, n, 3.0)
    got = run_probe(backend, "cvt_e2m1x2", [lo, hi], torch.zeros(n, dtype=torch.uint8), n=n, arch=1200)
    assert torch.equal(got, reference.f32_to_e2m1(lo) | reference.f32_to_e2m1(hi) << 4)
    codes = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    got = run_probe(backend, "cvt_e2m1x2_to_f16x2", [codes], torch.zeros(256, dtype=torch.int32), n=256, arch=1200)
    want = reference.e2m1_to_f32(reference.unpack_nibbles(codes)).half()
    assert torch.equal(got.view(torch.float16), want)
    pos_lo, pos_hi = lo.abs() * 1e3, hi.abs() * 1e-3
    got = run_probe(backend, "cvt_ue8m0x2", [pos_lo, pos_hi], torch.zeros(n, dtype=torch.int16), n=n, arch=1200)
    got = got.to(torch.int32) & 0xFFFF
    for v, code in ((pos_lo, got & 0xFF), (pos_hi, got >> 8)):
        finite = torch.isfinite(v) & (v > 0)
        # the smallest power of two >= v: 2^(code-127) >= v > 2^(code-128)
        up = reference.exp2i(code.to(torch.int32) - 127).double()
        assert bool(((up >= v.double()) | ~finite).all())
        assert bool(((up / 2 < v.double()) | ~finite | (code == 0)).all())
