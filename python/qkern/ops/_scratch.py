"""Per-thread fp32 scratch buffers of the CPU kernels, kept between calls.

A fresh allocation of a few hundred KiB or more usually comes back from the OS unmapped,
and its page faults cost more than a small kernel call; a buffer a thread keeps costs
nothing after its first use. Buffers are per calling thread (two Python threads never
share one) and per use (``name``), and only those up to ``_KEEP_MAX_BYTES`` are kept: a
rare huge request gets a fresh tensor, so a long-lived thread holds at most that much per
use.
"""
from __future__ import annotations

import threading

import torch

_KEEP_MAX_BYTES = 16 << 20  # as qkern/hadamard.h's kKeepRotatedMaxBytes
_local = threading.local()


def cpu_scratch(name: str, numel: int) -> torch.Tensor:
    """At least ``numel`` fp32 elements of CPU memory with undefined contents, valid until
    this thread asks for ``name`` again."""
    if numel * 4 > _KEEP_MAX_BYTES:
        return torch.empty(numel, dtype=torch.float32)
    buffers = _local.__dict__
    buf = buffers.get(name)
    if buf is None or buf.numel() < numel:
        buf = buffers[name] = torch.empty(numel, dtype=torch.float32)
    return buf
