"""What a benchmark run happens on, and the thread pinning it runs under."""
from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import torch

from .. import _C, info

# Used when the cache hierarchy cannot be read (non-Linux hosts, containers hiding /sys):
# larger than the last-level cache of current desktop and server parts, so that a flush
# buffer of twice this size still evicts everything.
_FALLBACK_LLC_BYTES = 64 << 20


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip()
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def llc_bytes() -> int:
    """Size of the last-level CPU cache (from sysfs), or a safe over-estimate."""
    best = (0, 0)
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            level = int((index / "level").read_text())
            size = _parse_size((index / "size").read_text())
        except (OSError, ValueError, IndexError):
            continue
        best = max(best, (level, size))
    return best[1] or _FALLBACK_LLC_BYTES


def git_commit() -> Optional[Dict[str, Any]]:
    """The commit of the qkern checkout being run, when it is one (editable installs)."""
    where = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"sha": sha, "dirty": bool(dirty)}


def gpu_info() -> Optional[Dict[str, Any]]:
    if not torch.cuda.is_available():
        return None
    p = torch.cuda.get_device_properties(torch.cuda.current_device())
    return {"name": p.name, "capability": f"{p.major}.{p.minor}", "sms": p.multi_processor_count,
            "memory_bytes": p.total_memory, "l2_bytes": getattr(p, "L2_cache_size", None),
            "cuda_runtime": torch.version.cuda}


def describe() -> Dict[str, Any]:
    """Everything about this machine and build that a reader needs to reproduce a result."""
    try:
        cpus_allowed = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus_allowed = os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_allowed": cpus_allowed,
        "llc_bytes": llc_bytes(),
        "platform": platform.platform(),
        "gpu": gpu_info(),
        "git": git_commit(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "qkern_info": info.collect(),
    }


def _thread_ids() -> List[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


@contextlib.contextmanager
def pinned_threads(threads: Optional[int]) -> Iterator[Dict[str, Any]]:
    """Run torch and qkern with the same thread count, every thread of the process confined
    to that many CPUs (Linux), so that qkern and its baselines compete for the same cores
    and no thread migrates to a CPU the run did not claim. Restores everything on exit.

    Affinity is set on every existing thread (torch's and qkern's pools are already running)
    and inherited by threads created later. Placement inside the CPU set is left to the OS
    and to OMP_PROC_BIND, which torch's OpenMP reads at start-up only: set it in the
    environment for one-thread-per-core binding of torch's threads.
    """
    before = (torch.get_num_threads(), _C.get_num_threads())
    n = threads or torch.get_num_threads()
    state: Dict[str, Any] = {"threads": n, "cpus": None,
                             "omp_proc_bind": os.environ.get("OMP_PROC_BIND")}
    saved = {}
    if hasattr(os, "sched_setaffinity"):
        original = os.sched_getaffinity(0)
        allowed = sorted(original)
        n = min(n, len(allowed))
        cpus = set(allowed[:n])
        for tid in _thread_ids():
            try:
                saved[tid] = os.sched_getaffinity(tid)
                os.sched_setaffinity(tid, cpus)
            except OSError:  # the thread ended meanwhile
                pass
        state.update(threads=n, cpus=sorted(cpus))
    torch.set_num_threads(n)
    _C.set_num_threads(n)
    try:
        yield state
    finally:
        torch.set_num_threads(before[0])
        _C.set_num_threads(before[1])
        # Threads started during the run inherited the narrowed set: widen them too.
        for tid in _thread_ids() if saved else []:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, saved.get(tid, original))
