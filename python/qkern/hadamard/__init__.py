"""Walsh-Hadamard rotations: supported sizes, the K x K factor matrices, and a pure-PyTorch
transform shared by the offline rotation code, the op's any-device fallback and the tests.

The transform of a row x of n = K * 2^p elements (NUMERICS.md section 5) is

    y = x (H_K kron H_m) * scale,     m = 2^p, scale = 1/sqrt(n) by default,

with H_m in Sylvester order (scipy.linalg.hadamard(m)) and H_K the fixed matrix of
qkern.hadamard.matrices (K = 1 for powers of two). ``signs`` (+-1, length n) gives the
randomized Hadamard R = diag(signs) H * scale: the forward is y = x R and ``transpose``
gives y = x R^T (its inverse when scale = 1/sqrt(n)). Which K serves n is fixed by
``decompose`` (the C++ header qkern/hadamard.h is the single statement of it).
"""
from __future__ import annotations

import functools
import math
from typing import Optional, Tuple

import torch

from .. import _C
from .matrices import CONSTRUCTIONS, factor_matrix_np

__all__ = ["FACTORS", "MAX_LOG2", "decompose", "supported_sizes_message", "factor_matrix",
           "mix_matrix", "mix_codes", "hadamard_matrix", "transform", "random_signs", "check_signs", "swizzle_block_scales"]

FACTORS: Tuple[int, ...] = tuple(_C.hadamard_factors())
MAX_LOG2: int = _C.hadamard_max_log2
assert set(FACTORS) == {1, *CONSTRUCTIONS}, "qkern/hadamard.h and matrices.py list other factors"


def supported_sizes_message() -> str:
    return (f"supported sizes are K * 2^p with K in {FACTORS} and 0 <= p <= {MAX_LOG2} "
            f"(e.g. 4096, 11008 = 172 * 64, 14336 = 28 * 512)")


def decompose(n: int) -> Tuple[int, int]:
    """(K, p) with n = K * 2^p; n = 40 * 2^p uses K = 40 (the largest factor wins).
    Raises ValueError for an unsupported n."""
    kp = _C.hadamard_decompose(int(n))
    if kp is None:
        raise ValueError(f"hadamard: size {n} is not supported; {supported_sizes_message()}")
    return kp


@functools.lru_cache(maxsize=None)
def _factor_matrix_cpu(k: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(factor_matrix_np(k).copy()).to(dtype)


def factor_matrix(k: int, dtype: torch.dtype = torch.float32, device="cpu") -> torch.Tensor:
    """H_K as a K x K +-1 tensor (cached; do not modify it). H_K H_K^T = K I."""
    return _factor_matrix_cpu(k, dtype).to(device)


@functools.lru_cache(maxsize=None)
def _mix_matrix(k: int, transpose: bool, device: torch.device) -> torch.Tensor:
    h = _factor_matrix_cpu(k, torch.float32)
    return (h if transpose else h.t()).contiguous().to(device)


def mix_matrix(k: int, transpose: bool, device) -> torch.Tensor:
    """The kernels' W (fp32, K x K, contiguous, cached): the transform views a row as
    Z[K][m], FWHTs each sub-row and computes W . Z, where W = H_K^T for y = x H and
    W = H_K for the transpose."""
    return _mix_matrix(k, bool(transpose), torch.device(device))


@functools.lru_cache(maxsize=None)
def _mix_codes(k: int, transpose: bool, device: torch.device) -> torch.Tensor:
    w = _mix_matrix(k, transpose, torch.device("cpu")).reshape(k, k // 4, 4)
    bits = (w[..., 1:] != w[..., :1]).to(torch.uint8)
    codes = (w[..., 0] < 0).to(torch.uint8) * 8 + bits[..., 0] + bits[..., 1] * 2 + bits[..., 2] * 4
    return codes.contiguous().to(device)


def mix_codes(k: int, transpose: bool, device) -> torch.Tensor:
    """W of ``mix_matrix`` as the kernels take it (uint8 [K, K/4], cached): code =
    (W[r][4g] < 0) * 8 + sum over j = 1..3 of (W[r][4g+j] != W[r][4g]) << (j - 1); the
    kernels sum signed combinations of four sub-rows (qkern/hadamard.h, "the K x K mix")."""
    return _mix_codes(k, bool(transpose), torch.device(device))


def hadamard_matrix(n: int, dtype: torch.dtype = torch.float64, device="cpu") -> torch.Tensor:
    """The dense unnormalised n x n matrix H_K kron H_m (for small n and for tests; the
    offline rotation of large matrices should call ``transform`` instead)."""
    k, p = decompose(n)
    h = factor_matrix(k, dtype, device)
    for _ in range(p):  # Sylvester: H_2m = H_m kron H_2, the order scipy.linalg.hadamard uses
        h = torch.kron(h, torch.tensor([[1, 1], [1, -1]], dtype=dtype, device=device))
    return h


def check_signs(signs: torch.Tensor) -> None:
    """ValueError unless every entry of ``signs`` is +1 or -1."""
    if not bool(((signs == 1) | (signs == -1)).all()):
        bad = signs[(signs != 1) & (signs != -1)][:4].tolist()
        raise ValueError(f"signs: expected only +1 and -1 entries, found e.g. {bad}")


def transform(x: torch.Tensor, scale: Optional[float] = None, signs: Optional[torch.Tensor] = None,
              transpose: bool = False) -> torch.Tensor:
    """Pure-PyTorch rotation over the last dim (any device, any leading dims). Computes in
    fp64 for fp64 input, else in fp32, and returns x's dtype. Plain tensor code: the
    reference for the kernels and the tool for offline rotations (pass fp64)."""
    n = x.shape[-1]
    k, p = decompose(n)
    m = 1 << p
    cdtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    if scale is None:
        scale = 1.0 / math.sqrt(n)
    y = x.to(cdtype)
    if signs is not None:
        check_signs(signs)
        signs = signs.to(device=x.device, dtype=cdtype)
    if signs is not None and not transpose:
        y = y * signs
    lead = y.shape[:-1]
    y = y.reshape(*lead, k, m)
    h = 1
    while h < m:  # stage h: element i (bit h clear) -> v[i] + v[i + h], v[i + h] -> v[i] - v[i + h]
        v = y.reshape(*lead, k, m // (2 * h), 2, h)
        a, b = v[..., 0, :], v[..., 1, :]
        y = torch.stack((a + b, a - b), dim=-2).reshape(*lead, k, m)
        h *= 2
    if k > 1:
        w = mix_matrix(k, transpose, x.device).to(cdtype)
        y = torch.einsum("ra,...ac->...rc", w, y)
    y = y.reshape(*lead, n) * scale
    if signs is not None and transpose:
        y = y * signs
    return y.to(x.dtype)


def random_signs(n: int, seed: int = 0, device="cpu") -> torch.Tensor:
    """A fixed +-1 fp32 vector of length n from ``seed`` (randomized Hadamard)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 2, (n,), generator=g) * 2 - 1).to(torch.float32).to(device)


def swizzle_block_scales(scale: torch.Tensor) -> torch.Tensor:
    """[rows, cols] block scales -> the flat 128x4-atom layout of block-scaled GEMMs
    (NUMERICS.md section 3; CUTLASS SfKMajorAtom, torchao to_blocked): rows padded to
    128 and columns to 4 with zeros; row r = 128 rb + 32 r4 + r32 and column kb = 4 cb + k4
    land at (rb * cols_padded / 4 + cb) * 512 + r32 * 16 + r4 * 4 + k4."""
    rows, cols = scale.shape
    rp, cp = -(-rows // 128) * 128, -(-cols // 4) * 4
    raw = scale.view(torch.uint8) if scale.element_size() == 1 else scale
    padded = raw.new_zeros(rp, cp)
    padded[:rows, :cols] = raw
    out = padded.view(rp // 128, 4, 32, cp // 4, 4).permute(0, 3, 2, 1, 4).reshape(-1)
    return out.view(scale.dtype) if scale.element_size() == 1 else out
