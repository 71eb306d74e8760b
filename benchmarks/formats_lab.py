"""Kernel lab: CPU quantize / dequantize throughput per instruction-set level.

For a [rows, cols] weight (default 4096 x 4096) and INT4 g128 / MXFP4 / NVFP4, times
  * the kernel: qkern._C.quantize / dequantize into preallocated outputs, per ISA level;
  * the op: qkern.ops.quantize / dequantize, which also allocates its outputs;
  * reference.py (the pure-PyTorch definition);
and reports GB/s as (bytes read + bytes written) / time, against this machine's copy
bandwidth measured the same way (torch `dst.copy_(src)` of a 64 MiB fp32 tensor into a
preallocated dst). Results are validated against reference.py first. Times are medians
of --reps runs; the levels are timed interleaved, so that a noisy neighbour hits them
alike.

    PYTHONPATH=python python benchmarks/formats_lab.py [--reps 9] [--threads 2]

On the 2-core development VM a fresh 64 MiB output costs about as much as the kernel
itself in page faults; the kernel columns measure the kernel, the op column what a
caller sees.

Measured (2-core AMD EPYC VM shared with other jobs, 2 threads, 4096 x 4096; median over
4 runs of the per-run %copy, copy probe 8-16 GB/s; x ref / x scalar: avx2 speedups):

    op          format          from/to    avx2 %copy   x ref   x scalar
    dequantize  int4:g128:sym   fp32          112        40        8
    dequantize  int4:g128:sym   bf16          120        98       15
    dequantize  mxfp4:floor     fp32           97        57       19
    dequantize  mxfp4:floor     bf16           74        75       28
    dequantize  nvfp4           fp32           99        38       17
    dequantize  nvfp4           bf16           74        59       28
    quantize    int4:g128:sym   fp32 / bf16  69 / 32   71 / 83   21 / 20
    quantize    mxfp4:floor     fp32 / bf16  40 / 20   60 / 47   11 / 10
    quantize    nvfp4           fp32 / bf16  19 /  9   32 / 23    7 /  7

Single runs vary by up to 2x with the neighbours' load (worst dequantize row seen: 47%).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import qkern
from qkern import _C, reference
from qkern._ext import data_ptr, dtype_code
from qkern.formats import INT4, MXFP4, NVFP4


def time_once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_time(fn, reps: int) -> float:
    fn()  # warm-up
    return statistics.median(time_once(fn) for _ in range(reps))


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.dtype == b.dtype and torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))


def nbytes(*tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def quantize_kernel(x, fmt, out):
    """qkern._C.quantize of x into the preallocated tensor list `out` (reference layout)."""
    cols = x.shape[-1]
    zero = out[2] if fmt.has_zero else None
    gscale = out[-1] if fmt.has_global_scale else None
    _C.quantize(kind=fmt.kind, block=fmt.block_size(cols), **fmt.kernel_flags(), rows=x.numel() // cols,
                cols=cols, x=x.data_ptr(), x_dtype=dtype_code(x.dtype), qdata=out[0].data_ptr(),
                scale=out[1].data_ptr(), scale_dtype=dtype_code(out[1].dtype), zero=data_ptr(zero),
                global_scale_out=data_ptr(gscale))


def dequantize_kernel(q, out):
    cols = out.shape[-1]
    _C.dequantize(kind=q.fmt.kind, block=q.fmt.block_size(cols), **q.fmt.kernel_flags(),
                  rows=out.numel() // cols, cols=cols, qdata=q.qdata.data_ptr(), scale=q.scale.data_ptr(),
                  scale_dtype=dtype_code(q.scale.dtype), zero=data_ptr(q.zero),
                  global_scale_in=data_ptr(q.global_scale), out=out.data_ptr(), out_dtype=dtype_code(out.dtype))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--ref-reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    qkern.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    isas = list(_C.compiled_isas())
    torch.manual_seed(0)

    copy = Copy()
    print(f"threads {args.threads}, {args.rows} x {args.cols}, medians of {args.reps} interleaved rounds; "
          "GB/s = (bytes read + written) / time; %copy: of the copy probe in the same rounds")
    print(f"{'op':<10} {'format':<14} {'dtype':<9} {'copy':>6}" + "".join(f" {i + ' GB/s':>12} {'%copy':>6}" for i in isas)
          + f" {'op GB/s':>8} {'ref GB/s':>9} {'x ref':>6} {'x scalar':>8}")

    w32 = torch.randn(args.rows, args.cols)
    for fmt in (INT4(128), MXFP4(), NVFP4()):
        for dtype in (torch.float32, torch.bfloat16):
            x = w32.to(dtype)
            out = reference.empty_quantized(x.shape, x.dtype, fmt, x.device)
            want = reference.quantize(x, fmt)
            runs = {"op": lambda: qkern.ops.quantize(x, fmt)}
            for isa in isas:
                _C.set_isa(isa)
                quantize_kernel(x, fmt, out)
                assert all(same_bits(a, b) for a, b in zip(out, want)), isa
                runs[isa] = lambda isa=isa: (_C.set_isa(isa), quantize_kernel(x, fmt, out))
            report("quantize", fmt, dtype, nbytes(x, *out), runs, lambda: reference.quantize(x, fmt),
                   isas, copy, args)
        q = qkern.ops.quantize(w32, fmt)
        for dtype in (torch.float32, torch.bfloat16):
            y = torch.empty(args.rows, args.cols, dtype=dtype)
            want = reference.dequantize(q.qdata, q.scale, q.zero, q.global_scale, fmt, dtype)
            runs = {"op": lambda: qkern.ops.dequantize(q, dtype)}
            for isa in isas:
                _C.set_isa(isa)
                dequantize_kernel(q, y)
                assert same_bits(y, want), isa
                runs[isa] = lambda isa=isa: (_C.set_isa(isa), dequantize_kernel(q, y))
            read = nbytes(*q.tensors().values())
            report("dequantize", fmt, dtype, read + nbytes(y), runs,
                   lambda: reference.dequantize(q.qdata, q.scale, q.zero, q.global_scale, fmt, dtype),
                   isas, copy, args)
    _C.set_isa(isas[-1])


def report(op, fmt, dtype, moved, runs, ref_fn, isas, copy, args):
    """One table row. Every round times the copy probe and each run once, so that the
    ratios to copy compare runs made under the same machine load."""
    runs = {"copy": copy, **runs}
    times = {k: [] for k in runs}
    for _ in range(args.reps):
        for k, fn in runs.items():
            times[k].append(time_once(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    copy_bytes = nbytes(*copy.tensors)
    ref = median_time(ref_fn, args.ref_reps)
    best = isas[-1]
    line = f"{op:<10} {fmt.spec:<14} {str(dtype)[6:]:<9} {copy_bytes / med['copy'] / 1e9:6.2f}"
    for isa in isas:
        ratio = statistics.median(moved / t / (copy_bytes / c) for t, c in zip(times[isa], times["copy"]))
        line += f" {moved / med[isa] / 1e9:12.2f} {100 * ratio:5.0f}%"
    line += f" {moved / med['op'] / 1e9:8.2f} {moved / ref / 1e9:9.2f} {ref / med[best]:6.1f}"
    line += f" {med['scalar'] / med[best]:8.1f}" if "scalar" in med else ""
    print(line, flush=True)


class Copy:
    """The bandwidth probe: torch dst.copy_(src), 64 MiB of fp32, dst preallocated."""

    def __init__(self):
        src = torch.randn(16 << 20)
        self.tensors = (src, torch.empty_like(src))

    def __call__(self):
        self.tensors[1].copy_(self.tensors[0])


if __name__ == "__main__":
    main()
