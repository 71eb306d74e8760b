"""The timers: warm-up, many repetitions, median and interquartile range.

CPU: ``time.perf_counter`` around each call. GPU: CUDA events around each call in stream
order, optionally replaying a CUDA graph of the call (removes launch overhead, the way
serving engines run decode steps). Between repetitions a ``CacheFlusher`` can evict the
caches, so that an operand smaller than the cache is read from memory as it would be in a
model whose other layers ran in between; the flush itself is outside the timed region.

The number of repetitions adapts to the cost of a call: enough to fill ``target_s``, at
least ``min_reps`` (medians of fewer samples are not worth reporting) and at most
``max_reps``; but never past ``max_s`` in all, so that one slow baseline (a reference on
a prefill shape) cannot hold up the suite: such a timing notes its few repetitions.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch


@dataclass(frozen=True)
class TimerConfig:
    warmup_s: float = 0.1  # at least one call; the first includes lazy initialisation
    target_s: float = 1.0  # timed seconds per measurement
    min_reps: int = 5
    max_reps: int = 200
    max_s: float = 60.0  # timed seconds per measurement, even below min_reps


class CacheFlusher:
    """Evicts the caches of ``device`` by updating a buffer of ``nbytes`` in place.

    The buffer is read and written (``add_``): plain stores of a large fill may use
    non-temporal instructions that bypass the cache and evict nothing.
    """

    def __init__(self, device: torch.device, nbytes: int):
        self.nbytes = int(nbytes)
        self.buf = torch.zeros(max(1, self.nbytes // 4), dtype=torch.int32, device=device)

    def __call__(self) -> None:
        self.buf.add_(1)


@dataclass
class Timing:
    """Seconds per call of each repetition, and how they were taken."""

    times: List[float]
    flushed: bool
    graph: bool = False
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def quartiles(self) -> Tuple[float, float]:
        if len(self.times) < 2:
            return self.times[0], self.times[0]
        q = statistics.quantiles(self.times, n=4, method="inclusive")
        return q[0], q[2]

    def to_json(self) -> Dict[str, Any]:
        q1, q3 = self.quartiles
        return {"median_s": self.median, "q1_s": q1, "q3_s": q3, "iqr_s": q3 - q1,
                "min_s": min(self.times), "reps": len(self.times),
                "cache": "flushed" if self.flushed else "warm", "cuda_graph": self.graph}


def _reps(cfg: TimerConfig, per_call_s: float) -> int:
    per_call_s = max(per_call_s, 1e-9)
    wanted = min(cfg.max_reps, max(cfg.min_reps, cfg.target_s / per_call_s))
    return int(max(1, min(wanted, cfg.max_s / per_call_s)))


def _few_reps_note(cfg: TimerConfig, times: List[float]) -> str:
    if len(times) >= cfg.min_reps:
        return ""
    return f"only {len(times)} repetition(s): {statistics.median(times):.1f} s per call"


def measure(fn: Callable[[], Any], device: torch.device, cfg: TimerConfig, *,
            flush: Optional[CacheFlusher] = None, inner: int = 1,
            cuda_graph: bool = False) -> Tuple[Timing, Any]:
    """Time ``fn()``; returns the timing and the output of its first call.

    ``inner`` calls run back to back inside each timed repetition (for calls too short to
    time one by one); the flush, when given, runs once before each repetition.
    """
    if device.type == "cuda":
        return _measure_cuda(fn, cfg, flush, inner, cuda_graph)
    return _measure_cpu(fn, cfg, flush, inner)


def _measure_cpu(fn, cfg: TimerConfig, flush, inner: int) -> Tuple[Timing, Any]:
    start = time.perf_counter()
    first = fn()
    per_call = time.perf_counter() - start
    while time.perf_counter() - start < cfg.warmup_s:
        t0 = time.perf_counter()
        fn()
        per_call = time.perf_counter() - t0
    times = []
    for _ in range(_reps(cfg, per_call * inner)):
        if flush is not None:
            flush()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return Timing(times, flushed=flush is not None, note=_few_reps_note(cfg, times)), first


def _capture(fn, inner: int) -> Callable[[], Any]:
    """A CUDA graph of ``inner`` calls of fn, after the side-stream warm-up capture needs."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(inner):
            fn()
    return graph.replay


def _measure_cuda(fn, cfg: TimerConfig, flush, inner: int, cuda_graph: bool) -> Tuple[Timing, Any]:
    first = fn()
    note = ""

    def step():
        for _ in range(inner):
            fn()

    graph = False
    if cuda_graph:
        try:
            step, graph = _capture(fn, inner), True
        except Exception as e:  # e.g. an op that synchronises; the eager timing still counts
            note = f"CUDA graph capture failed ({type(e).__name__}: {e}); timed eagerly"

    def timed(reps: int) -> List[float]:
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                  for _ in range(reps)]
        for begin, end in events:
            if flush is not None:
                flush()
            begin.record()
            step()
            end.record()
        torch.cuda.synchronize()
        return [begin.elapsed_time(end) / 1e3 / inner for begin, end in events]

    start = time.perf_counter()
    per_call = min(timed(1))
    while time.perf_counter() - start < cfg.warmup_s:
        per_call = min(timed(1))
    times = timed(_reps(cfg, per_call * inner))
    note = "; ".join(filter(None, [note, _few_reps_note(cfg, times)]))
    return Timing(times, flushed=flush is not None, graph=graph, note=note), first
