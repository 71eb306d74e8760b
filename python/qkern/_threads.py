"""Which threads run qkern's CPU kernels.

torch runs its CPU ops on an OpenMP runtime (libgomp in the Linux wheels) whose threads
keep spinning for a while after each op, waiting for the next one. A thread pool of
qkern's own would have to take the cores from them between torch ops, as in every layer
of a model; so when that runtime is loaded, qkern hands its parallel loops to it (through
GOMP_parallel, the GNU OpenMP entry point that libgomp, LLVM's libomp and Intel's
libiomp5 all export) and its kernels run on the same, already spinning threads. Without
one (no /proc, no runtime, or QKERN_THREAD_POOL=qkern) qkern uses its own pool.
"""
from __future__ import annotations

import ctypes
import os
from typing import Optional

from . import _C

_RUNTIMES = ("libgomp", "libiomp5", "libomp")


def openmp_library() -> Optional[str]:
    """Path of the OpenMP runtime loaded in this process (torch's), or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
    except OSError:
        return None
    for prefix in _RUNTIMES:
        for path in sorted(paths):
            if os.path.basename(path).startswith(prefix):
                return path
    return None


def gomp_parallel_address(path: Optional[str]) -> int:
    """Address of GOMP_parallel in the already loaded library at `path`, or 0."""
    if path is None or not hasattr(os, "RTLD_NOLOAD"):
        return 0
    try:
        lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)  # never loads a new one
        return ctypes.cast(lib.GOMP_parallel, ctypes.c_void_p).value or 0
    except (OSError, AttributeError):
        return 0


def configure() -> str:
    """Point the CPU kernels at torch's OpenMP runtime where possible; returns the choice."""
    wanted = os.environ.get("QKERN_THREAD_POOL", "openmp").strip().lower()
    if wanted not in ("openmp", "qkern"):
        raise ValueError(f"QKERN_THREAD_POOL: expected 'openmp' or 'qkern', got {wanted!r}")
    address = gomp_parallel_address(openmp_library()) if wanted == "openmp" else 0
    _C.set_openmp_parallel(address)
    return _C.thread_runtime()
