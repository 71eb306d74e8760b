"""Which threads run qkern's CPU kernels.

torch runs its CPU ops on an OpenMP runtime (libgomp in the Linux wheels) whose threads
keep spinning for a while after each op, waiting for the next one. A thread pool of
qkern's own would have to take the cores from them between torch ops, as in every layer
of a model; so when that runtime is loaded, qkern hands its parallel loops to it (through
GOMP_parallel, the GNU OpenMP entry point that libgomp, LLVM's libomp and Intel's
libiomp5 all export) and its kernels run on the same, already spinning threads. Without
one (no /proc, no runtime, or QKERN_THREAD_POOL=qkern) qkern uses its own pool. qkern's
thread count (qkern.set_num_threads, default torch.get_num_threads() at import) sets the
team size: keep it equal to torch's, or the runtime resizes its pool between the two.
"""
from __future__ import annotations

import ctypes
import os
from typing import Optional

from . import _C

def torch_cpu_library() -> Optional[str]:
    """Path of the loaded libtorch_cpu (whose OpenMP runtime torch's CPU ops use), or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
    except OSError:
        return None
    found = sorted(p for p in paths if os.path.basename(p).startswith("libtorch_cpu."))
    return found[0] if found else None


def gomp_parallel_address(path: Optional[str]) -> int:
    """Address of GOMP_parallel as the already loaded library at `path` resolves it (dlsym
    on its handle searches it and then its dependencies in load order: for libtorch_cpu,
    torch's own OpenMP runtime, whatever other runtimes the process has loaded), or 0."""
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
    address = gomp_parallel_address(torch_cpu_library()) if wanted == "openmp" else 0
    _C.set_openmp_parallel(address)
    return _C.thread_runtime()
