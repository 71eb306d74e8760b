"""Presenting a run: progress on stderr, the terminal table, the JSON file, the plot."""
from __future__ import annotations

import json
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, TextIO


class Progress:
    """One status line on stderr: rewritten in place on a terminal, one line per step in a
    log (CI), nothing when disabled."""

    def __init__(self, enabled: bool = True, stream: Optional[TextIO] = None):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.total = self.done_cases = 0
        self.t0 = time.perf_counter()

    def _write(self, text: str, final: bool = False) -> None:
        if not self.enabled:
            return
        elapsed = int(time.perf_counter() - self.t0)
        line = f"[{elapsed // 60}:{elapsed % 60:02d}] {text}"
        if self.tty:
            self.stream.write("\r\x1b[K" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def start(self, total: int) -> None:
        self.total = total

    def note(self, text: str) -> None:
        self._write(text)

    def step(self, text: str) -> None:
        self._write(f"case {self.done_cases + 1}/{self.total}  {text}")

    def advance(self) -> None:
        self.done_cases += 1

    def done(self) -> None:
        self._write(f"done: {self.done_cases} cases", final=True)


# ----------------------------------------------------------------------------- table


def _num(v: float) -> str:
    """Three significant digits without an exponent (1.23, 12.3, 123, 1234)."""
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def format_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{_num(seconds / scale)} {unit}"
    return f"{_num(seconds / 1e-9)} ns"


def _check_text(check: Optional[Dict[str, Any]]) -> str:
    if check is None:
        return ""
    if check["tol"] == 0:
        if check["ok"]:
            return f"bit-exact vs {check['against']}"
        bad = check["mismatched_bytes"]
        return f"MISMATCH vs {check['against']}" + (f" ({bad} bytes)" if bad is not None else "")
    err = "shape differs" if check["rel_err"] is None else f"rel err {check['rel_err']:.1e}"
    return f"{'ok' if check['ok'] else 'FAIL'} vs {check['against']} ({err})"


def _columns(rows: List[List[str]], right: Sequence[int]) -> List[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.rjust(w) if i in right else c.ljust(w)
                      for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in rows]


def _cpu_ranges(cpus: List[int]) -> str:
    """[0, 1, 2, 5] -> "0-2,5"."""
    runs: List[List[int]] = []
    for c in sorted(cpus):
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return ",".join(f"{a}-{b}" if b > a else f"{a}" for a, b in runs)


def _header(doc: Dict[str, Any]) -> List[str]:
    m, cfg, pin, peaks = doc["machine"], doc["config"], doc["pinning"], doc["peaks"]
    info = m["qkern_info"]
    git = m["git"]
    commit = f", commit {git['sha'][:10]}{' (dirty)' if git['dirty'] else ''}" if git else ""
    where = m["gpu"]["name"] if cfg["device"] == "cuda" else m["cpu_model"]
    cpus = f" on CPUs {_cpu_ranges(pin['cpus'])}" if pin["cpus"] else ""
    def seen(slot: str) -> str:  # where a peak came from, when not from its probe
        source = peaks["sources"].get(slot, "")
        return "" if "probe" in source else f" (seen: {source})"

    mm = ", ".join(f"{d} {v:.3g} TFLOP/s{seen('matmul ' + d)}" for d, v in peaks["matmul_tflops"].items())
    return [
        f"qkern bench: {cfg['device']} ({where}), {cfg['dtype']}, {'quick' if cfg['quick'] else 'full'}"
        f" run, {pin['threads']} threads{cpus}",
        f"qkern {info['qkern']}{commit}, torch {info['torch']}, cpu kernels {info['cpu_isa']['active']}",
        f"measured peaks: memory {peaks['memory_gbps']:.3g} GB/s{seen('memory')} (copy "
        f"{peaks['copy_gbps']:.3g}, read {peaks['read_gbps']:.3g}); matmul {mm}",
        "roofline = max(bytes / memory peak, FLOPs / matmul peak) / time; "
        "speedup = baseline time / qkern time",
    ]


def format_results(records: List[Dict[str, Any]]) -> List[str]:
    rows = [["op", "config", "shape", "impl", "median", "IQR", "GB/s", "TFLOP/s", "roofline",
             "speedup", "check / note"]]
    last_case = None
    for r in records:
        case = (r["op"], r["config"], r["shape"])
        first = case != last_case
        last_case = case
        row = [r["op"], r["config"] or "-", r["shape"]] if first else ["", "", ""]
        t = r["time"]
        if t is None:
            row += [r["impl"], r["status"], "", "", "", "", "", r["note"]]
        else:
            frac = r["roofline_fraction"]
            row += [r["impl"], format_time(t["median_s"]), f"{100 * t['iqr_s'] / t['median_s']:.0f}%",
                    _num(r["gbps"]) if r["gbps"] else "-",
                    f"{r['tflops']:.3g}" if r["tflops"] else "-",
                    f"{100 * frac:.1f}%" if frac is not None else "-",
                    ", ".join(f"{v:.2f}x {k}" for k, v in r["speedup"].items()),
                    "; ".join(filter(None, [_check_text(r["check"]), r["note"]]))]
        rows.append(row)
    return _columns(rows, right={4, 5, 6, 7, 8})


def format_overhead(records: List[Dict[str, Any]]) -> List[str]:
    rows = [["call", "shape", "us/call", "IQR us", "note"]]
    for r in records:
        if r["us_per_call"] is None:
            rows.append([r["op"], r["shape"], r["status"], "", r["note"]])
        else:
            rows.append([r["op"], r["shape"], f"{r['us_per_call']:.1f}", f"{r['iqr_us']:.1f}", r["note"]])
    return _columns(rows, right={2, 3})


def format_report(doc: Dict[str, Any]) -> str:
    lines = _header(doc) + [""] + format_results(doc["results"])
    lines += ["", "host overhead per call (tiny inputs, back-to-back calls):"]
    lines += format_overhead(doc["host_overhead"])
    if doc["unavailable"]:
        lines += ["", "not available in this build:"]
        lines += [f"  {u['family']}: {u['op']} ({u['reason']})" for u in doc["unavailable"]]
    failed = [r for r in doc["results"] if r["check"] and not r["check"]["ok"]]
    if failed:
        lines += ["", f"WARNING: {len(failed)} result(s) differ from their reference beyond tolerance"]
    lines.append(f"\n{len(doc['results'])} results in {doc['duration_s']:.0f} s")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- files


def write_json(doc: Dict[str, Any], path: str) -> None:
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def plot(doc: Dict[str, Any], path: str) -> None:
    """Roofline fraction of every timed implementation, grouped by op and shape."""
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install qkern[bench]") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases: Dict[str, Dict[str, float]] = {}
    for r in doc["results"]:
        if r["roofline_fraction"] is not None:
            label = " ".join(filter(None, [r["op"], r["config"], r["shape"]]))
            cases.setdefault(label, {})[r["impl"]] = r["roofline_fraction"]
    colors = {impl: f"C{i % 10}" for i, impl in enumerate(dict.fromkeys(
        i for v in cases.values() for i in v))}
    # One bar per (case, impl), a case's bars together, a gap between cases.
    y, ticks, bars = 0.0, [], []
    for label, vals in cases.items():
        ticks.append((y + (len(vals) - 1) / 2, label))
        for impl, frac in vals.items():
            bars.append((y, frac, impl))
            y += 1
        y += 0.8
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.22 * max(1.0, y)))
    for impl, color in colors.items():
        mine = [(b[0], b[1]) for b in bars if b[2] == impl]
        ax.barh([b[0] for b in mine], [b[1] for b in mine], height=0.85, color=color, label=impl)
    for yy, frac, _ in bars:
        ax.text(frac, yy, f" {100 * frac:.1f}%", va="center", fontsize=6)
    ax.set_yticks([t[0] for t in ticks], [t[1] for t in ticks], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, max([1.1] + [b[1] * 1.1 for b in bars]))
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlabel("fraction of the measured roofline (1.0 = machine peak)")
    cfg, m = doc["config"], doc["machine"]
    where = m["gpu"]["name"] if cfg["device"] == "cuda" else m["cpu_model"]
    ax.set_title(f"qkern bench: {where}, {cfg['dtype']}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
