"""Runs the suite: machine description, peak probes, every case of the chosen families,
host overhead, then the derived numbers (GB/s, TFLOP/s, roofline fraction, speedups,
output checks) into one result document (its JSON schema is schema.json).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import torch

from .. import _ext, reference
from ..tensor import QuantizedTensor
from . import machine, probes, shapes
from .cases import FAMILIES, Case, Context, Impl, Unavailable
from .cases.base import tolerance
from .overhead import host_overhead
from .report import Progress
from .timing import CacheFlusher, TimerConfig, measure

SCHEMA_VERSION = 1

# Quick mode: fewer and shorter repetitions (medians of at least 3), so that the default
# suite stays under two minutes on a 2-core machine.
QUICK_TIMER = TimerConfig(warmup_s=0.05, target_s=0.25, min_reps=3, max_reps=40, max_s=5.0)
FULL_TIMER = TimerConfig(warmup_s=0.2, target_s=1.0, min_reps=5, max_reps=200, max_s=60.0)
# Probes get more repetitions than the cases: a peak is a best repetition, and more tries
# make it likelier that one of them catches a quiet moment of a shared machine.
QUICK_PROBE_TIMER = TimerConfig(warmup_s=0.05, target_s=1.0, min_reps=5, max_reps=50, max_s=3.0)
FULL_PROBE_TIMER = TimerConfig(warmup_s=0.2, target_s=3.0, min_reps=10, max_reps=200, max_s=10.0)
QUICK_OVERHEAD_TIMER = TimerConfig(warmup_s=0.02, target_s=0.1, min_reps=5, max_reps=20)
FULL_OVERHEAD_TIMER = TimerConfig(warmup_s=0.1, target_s=0.5, min_reps=10, max_reps=100)


@dataclass
class Config:
    device: Optional[str] = None  # "cpu" or "cuda"; None: cuda when usable, else cpu
    ops: Sequence[str] = tuple(FAMILIES)
    shapes: str = shapes.DEFAULT_SHAPES
    m_values: Optional[Sequence[int]] = None  # None: shapes.M_VALUES (QUICK_M_VALUES if quick)
    quick: bool = False
    threads: Optional[int] = None  # None: torch.get_num_threads()
    flush: bool = True
    cuda_graphs: bool = True
    progress: bool = True


def _cuda_usable() -> bool:
    return torch.cuda.is_available() and _ext.optional_module("_C_cuda") is not None


def resolve_device(name: Optional[str]) -> torch.device:
    if name is None:
        return torch.device("cuda" if _cuda_usable() else "cpu")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"--device: expected cpu or cuda, got {name!r}")
    if name == "cuda" and not _cuda_usable():
        raise ValueError("--device cuda: needs a CUDA GPU and qkern._C_cuda "
                         f"(torch.cuda.is_available()={torch.cuda.is_available()}, "
                         f"_C_cuda: {_ext.load_error('_C_cuda') or 'loaded'})")
    return torch.device(name)


def _check_ops(names: Sequence[str]) -> List[str]:
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not names:
        raise ValueError(f"--ops: unknown {', '.join(unknown) or 'empty list'}; "
                         f"expected a comma-separated subset of {','.join(FAMILIES)}")
    return list(dict.fromkeys(names))


# ----------------------------------------------------------------------------- checks


def _values(out: Any) -> List[torch.Tensor]:
    """The tensors of an op's output; a QuantizedTensor as its dequantized values."""
    if isinstance(out, QuantizedTensor):
        return [reference.dequantize(out.qdata, out.scale, out.zero, out.global_scale, out.fmt)]
    if isinstance(out, (list, tuple)):
        return [t for t in out if isinstance(t, torch.Tensor)]
    return [out]


def _raw(out: Any) -> List[torch.Tensor]:
    if isinstance(out, QuantizedTensor):
        return list(out.tensors().values())
    return _values(out)


def compare(out: Any, truth: Any, tol: float) -> Dict[str, Any]:
    """tol == 0: bit-exact (count of differing bytes); else the relative L2 error of the
    values, which a correct kernel keeps within tol and a wrong one exceeds by far."""
    if tol == 0:
        a, b = _raw(out), _raw(truth)
        if len(a) != len(b) or any(x.shape != y.shape or x.dtype != y.dtype for x, y in zip(a, b)):
            return {"tol": 0.0, "rel_err": None, "mismatched_bytes": None, "ok": False}
        bad = sum(int((x.reshape(-1).view(torch.uint8) != y.reshape(-1).view(torch.uint8)).sum())
                  for x, y in zip(a, b))
        return {"tol": 0.0, "rel_err": None, "mismatched_bytes": bad, "ok": bad == 0}
    a = torch.cat([t.double().flatten() for t in _values(out)])
    b = torch.cat([t.double().flatten() for t in _values(truth)])
    if a.shape != b.shape:
        return {"tol": tol, "rel_err": None, "mismatched_bytes": None, "ok": False}
    err = float((a - b).norm() / b.norm().clamp_min(1e-30))
    return {"tol": tol, "rel_err": err, "mismatched_bytes": None, "ok": err <= tol}


# ----------------------------------------------------------------------------- cases


def _record(case: Case, impl: Optional[Impl], ctx: Context, status: str, note: str = "") -> Dict[str, Any]:
    dtype = impl.dtype if impl and impl.dtype else ctx.dtype
    return {"family": case.family, "op": case.op, "config": case.config, "shape": case.shape,
            "dims": dict(case.dims), "impl": impl.name if impl else "-",
            "role": impl.role if impl else "qkern", "dtype": probes.dtype_name(dtype),
            "status": status, "note": note,
            "bytes": impl.bytes if impl else 0.0, "flops": impl.flops if impl else 0.0,
            "time": None, "gbps": None, "tflops": None, "roofline_fraction": None, "bound": None,
            "speedup": {}, "check": None}


def fallback_note(op: str, device: torch.device) -> str:
    """Says so when torch.ops.qkern.<op> has no kernel for ``device`` and its calls go to
    the pure-PyTorch reference (ops/_registry.py): that row then times the reference."""
    name = f"qkern::{op}"
    if not hasattr(torch.ops.qkern, op) or torch._C._dispatch_has_kernel_for_dispatch_key(
            name, device.type.upper()):
        return ""
    return f"{name} has no {device.type} kernel in this build: this times its pure-PyTorch fallback"


@dataclass
class RunState:
    """What the cases of one run share."""

    progress: Progress
    flusher: Optional[CacheFlusher] = None
    cuda_graphs: bool = False
    cache_bytes: int = 0  # operands larger than twice this cannot be served from cache (0: unknown)
    shared: Dict[tuple, Any] = field(default_factory=dict)  # Impl.share_key -> (timing, where)
    evidence: List[Dict[str, Any]] = field(default_factory=list)  # see probes.peaks


def _offer_evidence(state: RunState, impl: Impl, rec: Dict[str, Any], timing) -> None:
    """A torch dense kernel's best repetition is a measurement of the machine as good as a
    probe's: offer it, so that a probe slowed by a busy neighbour does not stand as the
    peak. Its memory rate counts only when its operands cannot have been cached."""
    where = f"{impl.name} in {rec['op']} {rec['config']} {rec['shape']}".replace("  ", " ")
    best = min(timing.times)
    if impl.flops:
        state.evidence.append({"name": "matmul", "dtype": rec["dtype"], "best": impl.flops / best / 1e12,
                               "source": where})
    if state.cache_bytes and impl.bytes > 2 * state.cache_bytes:
        state.evidence.append({"name": "memory", "dtype": None, "best": impl.bytes / best / 1e9,
                               "source": where})


def _run_case(case: Case, ctx: Context, state: RunState) -> List[Dict[str, Any]]:
    """Records of each implementation of ``case``."""
    try:
        impls = case.build()
    except Exception as e:  # e.g. a shape a kernel rejects: reported, the suite goes on
        return [_record(case, None, ctx, "error", f"setup failed: {type(e).__name__}: {e}")]
    records, outputs = [], {}
    for impl in impls:
        rec = _record(case, impl, ctx, "unavailable" if impl.fn is None else "ok", impl.note)
        records.append(rec)
        if impl.fn is None:
            continue
        if impl.role == "qkern":
            fallback = fallback_note(case.kernel_op or case.op, ctx.device)
            rec["note"] = "; ".join(filter(None, [rec["note"], fallback]))
        state.progress.step(f"{case.op} {case.config} {case.shape}: {impl.name}")
        flusher = state.flusher
        flush = flusher if flusher is not None and impl.bytes < flusher.nbytes else None
        try:
            if impl.share_key in state.shared:
                outputs[impl.name] = impl.fn()
                timing, where = state.shared[impl.share_key]
                note = f"same work as in {where}: its timing"
            else:
                timing, outputs[impl.name] = measure(impl.fn, ctx.device, ctx.timer, flush=flush,
                                                     cuda_graph=state.cuda_graphs)
                note = timing.note
                if impl.share_key is not None:
                    state.shared[impl.share_key] = (timing, " ".join(filter(None, [case.config, case.shape])))
                if impl.peak_evidence:
                    _offer_evidence(state, impl, rec, timing)
        except Exception as e:
            rec.update(status="error", note=f"{type(e).__name__}: {e}")
            continue
        rec["time"] = timing.to_json()
        rec["note"] = "; ".join(filter(None, [rec["note"], note]))
    by_name = {i.name: i for i in impls}
    truth = case.truth
    if truth in outputs and by_name[truth].checked:
        for impl, rec in zip(impls, records):
            if impl.name != truth and impl.name in outputs and impl.checked:
                tol = case.tol
                if impl.dtype is not None and tol > 0:
                    tol = max(tol, tolerance(impl.dtype))
                rec["check"] = {"against": truth, **compare(outputs[impl.name], outputs[truth], tol)}
    return records


def _derive(records: List[Dict[str, Any]], peaks: Dict[str, Any]) -> None:
    """GB/s, TFLOP/s, roofline fraction and speedups, from the medians and the peaks.

    Roofline time = max(bytes / memory peak, FLOPs / dense matmul peak in the record's
    compute dtype); the fraction is roofline time over measured time (1.0 = at the peak)."""
    bw = peaks["memory_gbps"] * 1e9
    for r in records:
        if r["time"] is None:
            continue
        flops_peak = peaks["matmul_tflops"].get(r["dtype"], 0.0) * 1e12
        t = r["time"]["median_s"]
        t_mem = r["bytes"] / bw if bw else 0.0
        t_cmp = r["flops"] / flops_peak if flops_peak else 0.0
        r["gbps"] = r["bytes"] / t / 1e9 if r["bytes"] else None
        r["tflops"] = r["flops"] / t / 1e12 if r["flops"] else None
        if t_mem or t_cmp:
            r["roofline_fraction"] = max(t_mem, t_cmp) / t
            r["bound"] = "memory" if t_mem >= t_cmp else "compute"
    cases: Dict[tuple, List[Dict[str, Any]]] = {}
    for r in records:
        cases.setdefault((r["family"], r["op"], r["config"], r["shape"]), []).append(r)
    for group in cases.values():
        timed = [r for r in group if r["time"] is not None]
        for r in timed:
            if r["role"] == "qkern":
                r["speedup"] = {b["impl"]: b["time"]["median_s"] / r["time"]["median_s"]
                                for b in timed if b["role"] == "baseline"}


# ----------------------------------------------------------------------------- run


def run(cfg: Config) -> Dict[str, Any]:
    """Run the suite; returns the result document (see schema.json)."""
    started = time.perf_counter()
    device = resolve_device(cfg.device)
    families = _check_ops(cfg.ops)
    if cfg.threads is not None and cfg.threads < 1:
        raise ValueError(f"--threads: expected a positive count, got {cfg.threads}")
    shape_set = shapes.parse(cfg.shapes)
    quick_m = shapes.QUICK_M_VALUES if cfg.quick else shapes.M_VALUES
    m_values = tuple(cfg.m_values) if cfg.m_values else quick_m
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    timer = QUICK_TIMER if cfg.quick else FULL_TIMER
    ctx = Context(device, dtype, shape_set, m_values, cfg.quick, timer)
    progress = Progress(enabled=cfg.progress)

    with machine.pinned_threads(cfg.threads) as pinning:
        info = machine.describe()
        gpu = info["gpu"]
        cache = (gpu["l2_bytes"] or 0) if device.type == "cuda" else info["llc_bytes"]
        matmul_dtypes = (torch.float32, torch.bfloat16)
        progress.note("probing memory bandwidth and matmul peaks")
        probe_timer = QUICK_PROBE_TIMER if cfg.quick else FULL_PROBE_TIMER
        probe_runs = probes.run_probes(device, cache, probe_timer, matmul_dtypes)

        items: List[Any] = []
        for fam in families:
            try:
                items += FAMILIES[fam](ctx)
            except Exception as e:  # a family that cannot even list its cases is reported
                items.append(Unavailable(fam, "-", f"listing cases failed: {type(e).__name__}: {e}"))
        cases = [c for c in items if isinstance(c, Case)]
        unavailable = [asdict(u) for u in items if isinstance(u, Unavailable)]
        # Twice the cache, so that every line of it is replaced (see CacheFlusher).
        state = RunState(progress, CacheFlusher(device, 2 * cache) if cfg.flush and cache else None,
                         cfg.cuda_graphs and device.type == "cuda", cache)
        progress.start(len(cases))
        records: List[Dict[str, Any]] = []
        for case in cases:
            records += _run_case(case, ctx, state)
            progress.advance()
        state.flusher = None  # free its buffer
        progress.note("measuring host overhead per call")
        overhead = host_overhead(ctx, QUICK_OVERHEAD_TIMER if cfg.quick else FULL_OVERHEAD_TIMER)
        progress.note("probing peaks again")
        probe_runs += probes.run_probes(device, cache, probe_timer, matmul_dtypes)
    progress.done()

    peaks = probes.peaks(probe_runs, state.evidence)
    _derive(records, peaks)
    return {
        "schema_version": SCHEMA_VERSION,
        "config": {"device": device.type, "dtype": probes.dtype_name(dtype), "ops": families,
                   "shapes": cfg.shapes, "m_values": list(m_values), "quick": cfg.quick, "flush": cfg.flush,
                   "cuda_graphs": cfg.cuda_graphs and device.type == "cuda",
                   "timer": asdict(timer)},
        "machine": info,
        "pinning": pinning,
        "probes": probe_runs,
        "peaks": peaks,
        "results": records,
        "host_overhead": overhead,
        "unavailable": unavailable,
        "duration_s": time.perf_counter() - started,
    }
