"""The K x K Hadamard matrices behind n = K * 2^p rotations, built from classical
constructions (no stored tables except the Williamson first rows).

Every matrix is +-1 with H H^T = K I (tests/test_hadamard_matrices.py checks each one).
They are generated on first use and cached; the kernels receive them as data
(qkern.hadamard.factor_matrix), so the online kernels and the offline rotation code use
the same matrix by construction.

==========  =======================================================================
K           construction
==========  =======================================================================
12, 20      Paley I, q = 11, 19 (q prime, q = 3 mod 4): order q + 1
28          Paley I, q = 27 over GF(27) = GF(3)[t]/(t^3 + 2t + 1)
60, 108     Paley I, q = 59, 107
140         Paley I, q = 139
36          Paley II, q = 17 (q = 1 mod 4): order 2(q + 1)
52          Paley II, q = 25 over GF(25) = GF(5)[t]/(t^2 + 2)
148         Paley II, q = 73
40          H_2 kron H_20 (Sylvester doubling of H_20)
156, 172    Williamson: four symmetric circulant +-1 blocks of order m = 39, 43
==========  =======================================================================

Field elements of GF(p^k) are numbered 0..q-1 by their coefficient vectors read as
base-p digits (constant term first); the Jacobsthal matrix Q[i, j] = chi(e_i - e_j) uses
that order, chi being the quadratic character (1 on nonzero squares, -1 on non-squares,
0 at zero). The irreducible polynomial is the first monic one, in that same numbering of
its lower coefficients, without a root in GF(p) (enough for degree <= 3).
"""
from __future__ import annotations

import functools
from typing import Dict, Tuple

import numpy as np

__all__ = ["factor_matrix_np", "CONSTRUCTIONS"]

# Williamson quadruples (first rows of the circulant blocks A, B, C, D; '+' = 1,
# '-' = -1) as tabulated in SageMath, sage/combinat/matrices/hadamard_matrix.py,
# williamson_type_quadruples_smallcases: m = 43 from Baumert & Hall (1965) via M. Hall,
# "Combinatorial Theory" (1983); m = 39 from S. London's 2013 thesis. Only the sequences
# (published facts) are taken; the array below is the classical Williamson array.
_WILLIAMSON_ROWS: Dict[int, Tuple[str, str, str, str]] = {
    39: ("+++--+-+-----+--++----++--+-----+-+--++",
         "+++--++-+---+-+--+----+--+-+---+-++--++",
         "++++---+--++----+-+--+-+----++--+---+++",
         "+---++-+-+-----+++-++-+++-----+-+-++---"),
    43: ("++---++++-+--+--++--------++--+--+-++++---+",
         "+++-+-++--+-+-++++-+----+-++++-+-+--++-+-++",
         "++-++++++----+-+--++-++-++--+-+----++++++-+",
         "+---++--++++-+-+++-++--++-+++-+-++++--++---"),
}

# K -> (construction, parameter). Read by tests and docs; the order is the numeric one.
CONSTRUCTIONS: Dict[int, Tuple[str, int]] = {
    12: ("paley1", 11), 20: ("paley1", 19), 28: ("paley1", 27), 36: ("paley2", 17),
    40: ("double", 20), 52: ("paley2", 25), 60: ("paley1", 59), 108: ("paley1", 107),
    140: ("paley1", 139), 148: ("paley2", 73), 156: ("williamson", 39),
    172: ("williamson", 43),
}


# ----------------------------------------------------------------------------- GF(p^k)

def _prime_power(q: int) -> Tuple[int, int]:
    """(p, k) with q = p^k, p prime; ValueError otherwise."""
    p = next(d for d in range(2, q + 1) if q % d == 0)
    k, r = 0, q
    while r % p == 0:
        r //= p
        k += 1
    if r != 1:
        raise ValueError(f"{q} is not a prime power")
    return p, k


def _poly_mulmod(a, b, modulus, p: int):
    """(a * b) mod modulus over GF(p); polynomials as coefficient lists, constant first,
    modulus monic of degree k; the result has k coefficients."""
    k = len(modulus) - 1
    prod = [0] * (2 * k - 1)
    for i, ai in enumerate(a):
        for j, bj in enumerate(b):
            prod[i + j] = (prod[i + j] + ai * bj) % p
    for deg in range(len(prod) - 1, k - 1, -1):  # reduce with t^k = -(lower terms)
        c = prod[deg]
        if c:
            for j in range(k + 1):
                prod[deg - k + j] = (prod[deg - k + j] - c * modulus[j]) % p
    return prod[:k]


def _digits(i: int, p: int, k: int):
    return [(i // p ** j) % p for j in range(k)]


def _irreducible(p: int, k: int):
    """First monic polynomial of degree k (k <= 3) with no root in GF(p)."""
    if k == 1:
        return [0, 1]
    assert k <= 3, "root test decides irreducibility only up to degree 3"
    for low in range(p ** k):
        poly = _digits(low, p, k) + [1]
        if all(sum(c * x ** e for e, c in enumerate(poly)) % p for x in range(p)):
            return poly
    raise AssertionError("unreachable: irreducible polynomials exist in every degree")


def quadratic_character_table(q: int) -> np.ndarray:
    """chi(e_i - e_j) for all element pairs of GF(q): the q x q Jacobsthal matrix."""
    p, k = _prime_power(q)
    modulus = _irreducible(p, k)
    digits = np.array([_digits(i, p, k) for i in range(q)], dtype=np.int64)  # [q, k]
    squares = {tuple(_poly_mulmod(list(d), list(d), modulus, p)) for d in digits[1:]}
    chi = np.array([0] + [1 if tuple(d) in squares else -1 for d in digits[1:]], dtype=np.int64)
    diff = (digits[:, None, :] - digits[None, :, :]) % p  # [q, q, k] digits of e_i - e_j
    index = (diff * (p ** np.arange(k))).sum(-1)
    return chi[index]


# ----------------------------------------------------------------------------- constructions

def _paley1(q: int) -> np.ndarray:
    """Order q + 1 for q = 3 mod 4: H = I + [[0, j^T], [-j, Q]] (Q skew-symmetric)."""
    assert q % 4 == 3
    s = np.zeros((q + 1, q + 1), dtype=np.int64)
    s[0, 1:] = 1
    s[1:, 0] = -1
    s[1:, 1:] = quadratic_character_table(q)
    return np.eye(q + 1, dtype=np.int64) + s


def _paley2(q: int) -> np.ndarray:
    """Order 2(q + 1) for q = 1 mod 4: with the symmetric conference matrix
    C = [[0, j^T], [j, Q]], H = C kron [[1, 1], [1, -1]] + I kron [[1, -1], [-1, -1]]."""
    assert q % 4 == 1
    c = np.zeros((q + 1, q + 1), dtype=np.int64)
    c[0, 1:] = 1
    c[1:, 0] = 1
    c[1:, 1:] = quadratic_character_table(q)
    return (np.kron(c, np.array([[1, 1], [1, -1]]))
            + np.kron(np.eye(q + 1, dtype=np.int64), np.array([[1, -1], [-1, -1]])))


def _circulant(first_row: str) -> np.ndarray:
    row = np.array([1 if ch == "+" else -1 for ch in first_row], dtype=np.int64)
    m = len(row)
    return row[(np.arange(m)[None, :] - np.arange(m)[:, None]) % m]  # C[i, j] = row[j - i]


def _williamson(m: int) -> np.ndarray:
    """Order 4m from symmetric circulants with A^2 + B^2 + C^2 + D^2 = 4m I, placed in
    the Williamson array [[A, B, C, D], [-B, A, -D, C], [-C, D, A, -B], [-D, -C, B, A]]."""
    a, b, c, d = (_circulant(r) for r in _WILLIAMSON_ROWS[m])
    return np.block([[a, b, c, d], [-b, a, -d, c], [-c, d, a, -b], [-d, -c, b, a]])


@functools.lru_cache(maxsize=None)
def factor_matrix_np(k: int) -> np.ndarray:
    """The K x K +-1 matrix (int8, read-only) of the outer factor K; K = 1 gives [[1]]."""
    if k == 1:
        h = np.ones((1, 1), dtype=np.int64)
    elif k not in CONSTRUCTIONS:
        raise ValueError(f"no Hadamard factor of order {k}; available: {sorted(CONSTRUCTIONS)}")
    else:
        kind, param = CONSTRUCTIONS[k]
        if kind == "paley1":
            h = _paley1(param)
        elif kind == "paley2":
            h = _paley2(param)
        elif kind == "williamson":
            h = _williamson(param)
        else:  # "double": H_2 kron H_param
            h = np.kron(np.array([[1, 1], [1, -1]]), factor_matrix_np(param).astype(np.int64))
    assert h.shape == (k, k)
    out = h.astype(np.int8)
    out.setflags(write=False)
    return out
