"""What an op family hands the runner: cases, each with qkern's implementation and the
baselines it is compared with, and notes for ops this build does not have.

A ``Case`` is cheap to list (labels only); its ``build`` allocates the inputs just before
it runs and returns the implementations, so one case's tensors are freed before the next.
Every implementation declares the bytes it must move and the FLOPs it must do, from the
sizes of its own operands: the roofline of its own work, not a shared guess.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch

from ... import ops
from ...tensor import QuantizedTensor
from ..shapes import ShapeSet
from ..timing import TimerConfig


@dataclass
class Impl:
    """One way to compute a case. ``fn`` is None for an implementation that cannot run
    here (peer package not installed, unsupported size); ``note`` then says why."""

    name: str
    fn: Optional[Callable[[], Any]]
    bytes: float = 0.0  # memory traffic of one call: operands read + results written
    flops: float = 0.0
    role: str = "baseline"  # "qkern" for the implementations under test
    checked: bool = True  # False when its result is not comparable to the case's truth
    note: str = ""
    # Compute dtype when it is not the run's (a baseline timed on its fast path): sets the
    # matmul peak of its roofline and loosens its check to that dtype's tolerance.
    dtype: Optional[torch.dtype] = None
    # Same key, same work: a later case reuses the timing of the first (the dense GEMM
    # baseline is the same for every weight format). The output is still computed once,
    # for the check.
    share_key: Optional[tuple] = None
    # torch's own dense kernel (matmul): its best repetition also measures the machine's
    # peak (runner._offer_evidence)
    peak_evidence: bool = False


@dataclass
class Case:
    family: str
    op: str
    config: str  # format or variant, e.g. "int4:g128:sym"; "" when there is none
    shape: str  # e.g. "4096x4096", "llama3-8b.down 4096x14336, M=16"
    dims: Dict[str, int]
    build: Callable[[], List[Impl]]
    truth: Optional[str] = None  # the impl whose output the others are checked against
    tol: float = 0.0  # largest relative error the check accepts (0: bit-exact)
    # the torch.ops.qkern op the qkern impl runs where it is not `op` (the fallback check)
    kernel_op: Optional[str] = None


@dataclass
class Unavailable:
    """An op family (or op) this build cannot benchmark, with the reason."""

    family: str
    op: str
    reason: str


@dataclass
class Context:
    """What the families need to know about the run."""

    device: torch.device
    dtype: torch.dtype  # compute dtype of activations and dense baselines on this device
    shapes: ShapeSet
    m_values: tuple
    quick: bool
    timer: TimerConfig = field(default_factory=TimerConfig)


def nbytes(*items) -> int:
    """Bytes of tensors and QuantizedTensors (None is skipped)."""
    total = 0
    for t in items:
        if isinstance(t, QuantizedTensor):
            total += sum(v.nbytes for v in t.tensors().values())
        elif t is not None:
            total += t.nbytes
    return total


def missing_note(*names: str) -> str:
    """Why an implementation using qkern.ops.<names> cannot run ("" when it can)."""
    absent = [f"qkern.ops.{n}" for n in names if not hasattr(ops, n)]
    return f"{', '.join(absent)}: not available in this build" if absent else ""


def needs_ops(names: Sequence[str], name: str, fn: Callable[[], Any], bytes: float = 0.0,
              flops: float = 0.0, role: str = "baseline") -> Impl:
    """An Impl calling qkern.ops.<names>; it does not run, with a note, when the build lacks
    one of them. Its baselines still run, so their numbers are there for comparison."""
    note = missing_note(*names)
    return Impl(name, None if note else fn, bytes, flops, role=role, note=note)


def tolerance(dtype: torch.dtype) -> float:
    """Relative (L2) error two correct computations of a product or a rotation may differ
    by: accumulation order in fp32, one rounding of the output in half types (bf16 keeps 8
    mantissa bits, 2^-8 = 0.4%)."""
    return 1e-4 if dtype == torch.float32 else 1e-2


def random_weight(n: int, k: int, device: torch.device) -> torch.Tensor:
    """An fp32 [n, k] weight with the spread of a trained linear layer (std 0.02)."""
    return torch.randn(n, k, device=device) * 0.02
