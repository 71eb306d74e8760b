"""The accuracy rule for GEMM-like kernels (DESIGN.md section 7): a kernel's error against an
fp64 reference may be at most ``factor`` (2) times the error of PyTorch computing the same
thing in the same dtype from the same (dequantized) operands.

Errors are max-abs over the finite reference entries. With few outputs PyTorch's error is
a small sample and can be near zero by luck, so the allowance never drops below a floor
that no correct method can be expected to beat:
  * one rounding of the largest output to the output dtype (unit roundoff x max |ref|);
  * with ``sum_terms`` / ``abs_ref64`` given (a dot product of that many terms and the fp64
    |x| @ |w|^T): the typical rounding error of any fp32 accumulation order,
    u_fp32 * sqrt(terms) * max(|x| @ |w|^T) (the probabilistic bound of Higham & Mary,
    SIAM J. Sci. Comput. 2019). This only matters for fp32 outputs, and sits orders of
    magnitude below what a bf16/fp16 intermediate or a wrong scale would cost.
NaN and infinity must appear exactly where the reference has them.

    ref64 = x.double() @ w.double().t()
    baseline = torch.nn.functional.linear(x, w.to(x.dtype))
    assert_close_to_reference(kernel_out, ref64, baseline, sum_terms=K,
                              abs_ref64=x.double().abs() @ w.double().abs().t())
"""
from __future__ import annotations

import torch

__all__ = ["assert_close_to_reference", "error_vs_reference", "unit_roundoff"]


def unit_roundoff(dtype: torch.dtype) -> float:
    """Largest relative error of rounding to ``dtype`` (half its machine epsilon)."""
    return torch.finfo(dtype).eps / 2


def error_vs_reference(out: torch.Tensor, ref64: torch.Tensor) -> float:
    """Max |out - ref| over the entries where ref is finite (0 if there are none)."""
    finite = torch.isfinite(ref64)
    if not finite.any():
        return 0.0
    return (out.double() - ref64)[finite].abs().max().item()


def assert_close_to_reference(out: torch.Tensor, ref64: torch.Tensor, baseline: torch.Tensor,
                              factor: float = 2.0, what: str = "", sum_terms: int = 0,
                              abs_ref64: torch.Tensor = None) -> None:
    """Assert ``out`` is within ``factor`` x the error of ``baseline`` (PyTorch, same dtype
    as ``out``) against ``ref64`` (fp64), with the floors described above."""
    assert out.shape == ref64.shape == baseline.shape, (out.shape, ref64.shape, baseline.shape)
    where = f" ({what})" if what else ""
    for name, mask_of in (("NaN", torch.isnan), ("+inf", torch.isposinf), ("-inf", torch.isneginf)):
        got, want = mask_of(out), mask_of(ref64)
        if not torch.equal(got, want):
            bad = (got != want).nonzero()[:5].tolist()
            raise AssertionError(f"{name} positions differ from the reference{where}, e.g. at {bad}")
    err = error_vs_reference(out, ref64)
    err_torch = error_vs_reference(baseline, ref64)
    finite = torch.isfinite(ref64)
    scale = ref64[finite].abs().max().item() if finite.any() else 0.0
    floor = unit_roundoff(out.dtype) * scale
    if sum_terms and abs_ref64 is not None and finite.any():
        accum = unit_roundoff(torch.float32) * sum_terms ** 0.5 * abs_ref64[finite].max().item()
        floor = max(floor, accum)
    allowed = factor * max(err_torch, floor)
    assert err <= allowed, (
        f"error {err:.3e} > {factor} x max(PyTorch {out.dtype} error {err_torch:.3e}, floor "
        f"{floor:.3e}) = {allowed:.3e}{where}; max |ref| = {scale:.3e}")
