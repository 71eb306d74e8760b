"""The K x K factor matrices and the size decomposition (python/qkern/hadamard/)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from qkern import hadamard as had
from qkern.hadamard import matrices

STORED = sorted(matrices.CONSTRUCTIONS)


def test_factor_list_is_stated_once():
    # the C++ header's list (read through _C) and the Python constructions agree
    assert had.FACTORS == (1, 12, 20, 28, 36, 40, 52, 60, 108, 140, 148, 156, 172)
    assert set(had.FACTORS) == {1, *STORED}


@pytest.mark.parametrize("k", STORED)
def test_every_stored_matrix_is_hadamard(k):
    h = matrices.factor_matrix_np(k).astype(np.int64)
    assert h.shape == (k, k)
    assert set(np.unique(h)) == {-1, 1}
    np.testing.assert_array_equal(h @ h.T, k * np.eye(k, dtype=np.int64))
    # the tensor the kernels receive is the same matrix
    np.testing.assert_array_equal(had.factor_matrix(k).numpy(), h)


@pytest.mark.parametrize("k", STORED)
def test_matrices_have_their_construction_structure(k):
    kind, q = matrices.CONSTRUCTIONS[k]
    h = matrices.factor_matrix_np(k).astype(np.int64)
    if kind == "paley1":  # I + S with S skew-symmetric
        s = h - np.eye(k, dtype=np.int64)
        np.testing.assert_array_equal(s, -s.T)
        assert k == q + 1
    elif kind == "paley2":  # symmetric, order 2(q + 1)
        np.testing.assert_array_equal(h, h.T)
        assert k == 2 * (q + 1)
    elif kind == "williamson":  # 4 x 4 blocks of symmetric circulants
        m = k // 4
        a = h[:m, :m]
        np.testing.assert_array_equal(a, a.T)
        np.testing.assert_array_equal(a, np.roll(np.roll(a, 1, 0), 1, 1))
        assert m == q
    else:  # H_2 kron H_q
        np.testing.assert_array_equal(
            h, np.kron([[1, 1], [1, -1]], matrices.factor_matrix_np(q).astype(np.int64)))


@pytest.mark.parametrize("q", [11, 19, 27, 17, 25, 73])
def test_jacobsthal_matrix_over_prime_power_fields(q):
    # Q Q^T = q I - J and Q J = 0 characterise the quadratic character of GF(q)
    jac = matrices.quadratic_character_table(q)
    assert (np.diag(jac) == 0).all()
    assert (jac == 1).sum(1).tolist() == [(q - 1) // 2] * q
    np.testing.assert_array_equal(jac @ jac.T, q * np.eye(q, dtype=np.int64) - 1)
    np.testing.assert_array_equal(jac.sum(1), 0)
    np.testing.assert_array_equal(jac, jac.T if q % 4 == 1 else -jac.T)


@pytest.mark.parametrize("n, kp", [
    (1, (1, 0)), (2, (1, 1)), (4096, (1, 12)), (32768, (1, 15)), (12, (12, 0)), (20, (20, 0)),
    (40, (40, 0)), (80, (40, 1)), (11008, (172, 6)), (12288, (12, 10)), (13824, (108, 7)),
    (14336, (28, 9)), (18944, (148, 7)), (28672, (28, 10)), (172 << 15, (172, 15)),
])
def test_decompose(n, kp):
    assert had.decompose(n) == kp


@pytest.mark.parametrize("n", [0, 3, 6, 100, 200, 65536, 12 << 16, -4])
def test_unsupported_size_lists_the_factors(n):
    with pytest.raises(ValueError, match=r"size -?\d+ is not supported; supported sizes are K \* 2\^p "
                                         r"with K in \(1, 12, 20, 28, 36, 40, 52, 60, 108, 140, 148, 156, 172\)"):
        had.decompose(n)


@pytest.mark.parametrize("n", [1, 2, 8, 64, 12, 24, 40, 80, 172, 344, 28 * 8])
def test_dense_matrix_is_kron_of_factor_and_scipy_hadamard(n):
    k, p = had.decompose(n)
    expected = np.kron(matrices.factor_matrix_np(k).astype(np.int64), scipy.linalg.hadamard(1 << p))
    np.testing.assert_array_equal(had.hadamard_matrix(n).numpy(), expected)
    h = had.hadamard_matrix(n)
    torch.testing.assert_close(h @ h.T, n * torch.eye(n, dtype=torch.float64), rtol=0, atol=0)


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("k", STORED)
def test_mix_codes_encode_the_mix_matrix(k, transpose):
    # the kernels' code table (qkern/hadamard.h) decodes back to W = H_K^T (or H_K)
    codes = had.mix_codes(k, transpose, "cpu").numpy().astype(np.int64)
    assert codes.shape == (k, k // 4) and codes.max() < 16
    first = np.where(codes >= 8, -1, 1)
    signs = [first] + [first * np.where((codes >> (j - 1)) & 1, -1, 1) for j in (1, 2, 3)]
    w = np.stack(signs, axis=-1).reshape(k, k)
    h = matrices.factor_matrix_np(k).astype(np.int64)
    np.testing.assert_array_equal(w, h if transpose else h.T)
    np.testing.assert_array_equal(had.mix_matrix(k, transpose, "cpu").numpy(), w)


def test_sylvester_splits_into_smaller_sylvester_factors():
    # the test references split H_m as H_a kron H_b for large m
    for p in range(1, 11):
        for a in range(p + 1):
            np.testing.assert_array_equal(
                scipy.linalg.hadamard(1 << p),
                np.kron(scipy.linalg.hadamard(1 << a), scipy.linalg.hadamard(1 << (p - a))))
