"""CPU Hadamard rotation against its baselines, measured in the same run (ratios, since the
machines are shared and noisy): a dense `x @ H` in torch, the copy bandwidth of
`dst.copy_(src)` (bytes read + written), and the fused hadamard_quantize (with nvfp4 also
"nvfp4 static": a given global_scale, as calibrated serving uses, so no amax pass).

    PYTHONPATH=python python benchmarks/hadamard/bench_cpu.py [--rows 64] [--sizes 4096 14336 11008]
        [--threads 1]

Each variant is timed as the best mean over interleaved batches (all variants take turns,
so a burst of load from other processes hits them alike).
"""
from __future__ import annotations

import argparse
import time

import torch

import qkern
from qkern import hadamard as had


def _time_all(fns: dict, batches: int, min_batch_s: float) -> dict:
    reps = {}
    for name, fn in fns.items():  # warm up and size the batches
        fn()
        t0 = time.perf_counter()
        fn()
        reps[name] = max(1, int(min_batch_s / max(time.perf_counter() - t0, 1e-7)))
    best = {name: float("inf") for name in fns}
    for _ in range(batches):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(reps[name]):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / reps[name])
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--sizes", type=int, nargs="+", default=[4096, 14336, 11008])
    ap.add_argument("--formats", nargs="+", default=["int4:g128:sym", "mxfp4:floor", "nvfp4", "int8:row"])
    ap.add_argument("--batches", type=int, default=15)
    ap.add_argument("--min-batch-ms", type=float, default=20.0)
    ap.add_argument("--no-dense", action="store_true", help="skip the dense x @ H baseline")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for torch and qkern alike (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        qkern.set_num_threads(args.threads)

    print(f"qkern {qkern.__version__}, ISA {qkern._C.get_isa()}, qkern threads "
          f"{qkern._C.get_num_threads()}, torch threads {torch.get_num_threads()}, fp32, "
          f"{args.rows} rows; times in us, GB/s = (bytes read + written) / time")
    header = ("n", "K*2^p", "dense x@H", "hadamard", "hadamard_", "copy", "dense/had",
              "had/copy", "had_/copy", "had GB/s", "copy GB/s")
    print(" | ".join(header))
    fused_rows = []
    for n in args.sizes:
        k, p = had.decompose(n)
        x = torch.randn(args.rows, n)
        y = x.clone()
        dst = torch.empty_like(x)
        fns = {
            "hadamard": lambda: qkern.ops.hadamard(x),
            "hadamard_": lambda: qkern.ops.hadamard_(y),
            "copy": lambda: dst.copy_(x),
        }
        fused = list(args.formats)
        for f in args.formats:
            fns[f] = (lambda f=f: qkern.ops.hadamard_quantize(x, f))
        if "nvfp4" in args.formats:
            d = qkern.ops.hadamard_quantize(x, "nvfp4").global_scale.item()
            fns["nvfp4 static"] = lambda: qkern.ops.hadamard_quantize(x, "nvfp4", global_scale=d)
            fused.append("nvfp4 static")
        if not args.no_dense:
            h = had.hadamard_matrix(n, torch.float32) / n ** 0.5
            fns["dense"] = lambda: x @ h
        t = _time_all(fns, args.batches, args.min_batch_ms / 1e3)
        nbytes = 2 * x.numel() * x.element_size()
        dense = t.get("dense", float("nan"))
        print(" | ".join([
            str(n), f"{k}*2^{p}", f"{dense * 1e6:.0f}", f"{t['hadamard'] * 1e6:.0f}",
            f"{t['hadamard_'] * 1e6:.0f}", f"{t['copy'] * 1e6:.0f}", f"{dense / t['hadamard']:.0f}x",
            f"{t['hadamard'] / t['copy']:.2f}", f"{t['hadamard_'] / t['copy']:.2f}",
            f"{nbytes / t['hadamard'] / 1e9:.1f}", f"{nbytes / t['copy'] / 1e9:.1f}"]))
        fused_rows.append((n, {f: t[f] for f in fused}, t["hadamard"]))
    print()
    print("fused hadamard_quantize: time in us (ratio to hadamard)")
    print(" | ".join(["n", *fused_rows[0][1]]))
    for n, fused, plain in fused_rows:
        print(" | ".join([str(n), *(f"{v * 1e6:.0f} ({v / plain:.2f}x)" for v in fused.values())]))


if __name__ == "__main__":
    main()
