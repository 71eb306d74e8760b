"""CPU W4A16 benchmark: qkern.ops.w4a16_linear against torch's own int4 CPU kernel, the
dense fp32 GEMV and the machine's copy bandwidth, all measured in the same run.

    PYTHONPATH=python python benchmarks/w4a16_cpu.py [--n 4096 --k 4096 --reps 50]
        [--isa avx2,avx512]   (qkern CPU levels to time side by side; default: the active one)

Baselines (torch 2.13 CPU):
  torch int4  torch.ops.aten._weight_int4pack_mm_for_cpu(x_bf16, w_packed, group, sz) with
              w_packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q_int32[N, K], 1)
              (q in 0..15) and sz [K/group, N, 2] bf16 = (scale, offset): value (q - 8) * s + z.
  dense fp32  x_f32 @ W_f32.T (the GEMV reads 4 bytes per weight).
  copy        dst.copy_(src) of a 256 MiB fp32 tensor, bytes read + written.
Run with ATEN_CPU_CAPABILITY=avx2 to compare against torch's AVX2 code paths on an AVX-512
machine. With several --isa levels, every qkern candidate selects its level before each
call (an atomic store), so all levels are timed in the same run.

Timings are medians over --reps calls, in blocks per candidate repeated over 5 rounds
(see median_times). "hot": the same weight every call (an
8 MiB INT4 weight stays in a 32 MiB L3); "cold": a rotation over copies of the weight
totalling > 64 MiB, so each call streams its weight from memory, as in a real decode step.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import qkern
from qkern import formats, ops


CLOCK = time.perf_counter


def median_times(fns: dict, reps: int, rounds: int = 5, warmup: int = 2) -> dict:
    """Median wall time of each fn. The candidates run in blocks of reps / rounds calls,
    block after block, `rounds` times over: slow drifts of the shared machine's load hit
    all alike, while a candidate does not run right after another library's call (torch's
    OpenMP threads keep spinning for a while after an op and would take the cores from
    the next candidate's threads: a real effect in mixed models, but not the kernel's)."""
    times = {name: [] for name in fns}
    per_block = max(1, reps // rounds)
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(warmup):
                fn()
            for _ in range(per_block):
                t0 = CLOCK()
                fn()
                times[name].append(CLOCK() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def copy_bandwidth(reps: int) -> float:
    n = 64 * 2**20  # 256 MiB of fp32
    src, dst = torch.randn(n), torch.empty(n)
    t = median_times({"copy": lambda: dst.copy_(src)}, reps)["copy"]
    return 2 * n * 4 / t


def weight_bytes(p: ops.PrepackedWeight) -> int:
    return sum(t.numel() * t.element_size() for name, t in p.tensors().items() if name != "meta")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--k", type=int, default=4096)
    ap.add_argument("--group", type=int, default=128)
    ap.add_argument("--ms", default="1,16")
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sweep-m", action="store_true", help="time M = 1..16 (GEMV/GEMM crossover)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="with --threads 1: time the calling thread's CPU time instead of wall "
                         "time (robust to a loaded machine descheduling the benchmark)")
    ap.add_argument("--isa", default=None,
                    help="comma-separated qkern CPU levels (from qkern._C.compiled_isas())")
    args = ap.parse_args()
    isas = args.isa.split(",") if args.isa else [qkern._C.get_isa()]
    for isa in isas:
        qkern._C.set_isa(isa)  # ValueError if not available here
    if args.cpu_time:
        if args.threads != 1:
            ap.error("--cpu-time measures one thread: use it with --threads 1")
        global CLOCK
        CLOCK = time.thread_time
    torch.set_num_threads(args.threads)
    qkern.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, k, g = args.n, args.k, args.group

    bw = copy_bandwidth(max(10, args.reps // 5))
    print(f"machine: {torch.get_num_threads()} threads ({'thread CPU time' if args.cpu_time else 'wall time'}), "
          f"qkern ISA {','.join(isas)}, torch CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, "
          f"copy bandwidth {bw / 1e9:.1f} GB/s (read + write), load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    w = torch.randn(n, k)
    fmts = {"int4": formats.INT4(g), "mxfp4": formats.MXFP4(), "nvfp4": formats.NVFP4()}
    packed = {name: ops.prepack(ops.quantize(w.bfloat16(), f)) for name, f in fmts.items()}
    # cold runs: 8 copies of each format's weight (> 64 MiB), streamed from memory as in a
    # decode step, where the formats differ mostly by their bytes
    copies = {name: [packed[name]] + [ops.prepack(ops.quantize(w.bfloat16() * (i + 2), f)) for i in range(7)]
              for name, f in fmts.items()}
    rot = {name: 0 for name in fmts}

    # torch's int4 CPU kernel on the same codes and scales (zero offset 0 = symmetric)
    q = packed["int4"]
    canon = ops.quantize(w.bfloat16(), fmts["int4"])
    codes = qkern.reference.unpack_nibbles(canon.qdata).to(torch.int32)
    t_packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes, 1)
    sz = torch.stack([canon.scale.t(), torch.zeros_like(canon.scale.t())], -1).contiguous()
    w_dense = w.contiguous()

    if args.sweep_m:
        ms = list(range(1, 17))
    else:
        ms = [int(m) for m in args.ms.split(",")]
    print(f"\nN = {n}, K = {k}, INT4 group {g}; weight bytes (codes + scales): "
          + ", ".join(f"{name} {weight_bytes(p) / 2**20:.2f} MiB" for name, p in packed.items()))
    header = f"{'M':>3} {'case':<25} {'ms':>8} {'GB/s':>7} {'%copy':>6} {'GMAC/s':>7}"
    print(header)
    for m in ms:
        x = torch.randn(m, k).bfloat16()
        xf = x.float()

        def hot(p, isa):
            def fn():
                qkern._C.set_isa(isa)
                return ops.w4a16_linear(x, p)
            return fn

        def cold(name, isa):
            def fn():
                qkern._C.set_isa(isa)
                rot[name] = (rot[name] + 1) % len(copies[name])
                return ops.w4a16_linear(x, copies[name][rot[name]])
            return fn

        fns = {}
        for isa in isas:
            fns.update({f"qkern {name} hot {isa}": hot(p, isa) for name, p in packed.items()})
            fns.update({f"qkern {name} cold {isa}": cold(name, isa) for name in packed})
        fns["torch int4"] = lambda: torch.ops.aten._weight_int4pack_mm_for_cpu(x, t_packed, g, sz)
        fns["dense fp32"] = lambda: xf @ w_dense.t()
        reps = args.reps if m <= 4 else max(5, args.reps // 4)
        t = median_times(fns, reps)
        for name, sec in t.items():
            nbytes = (weight_bytes(packed[name.split()[1]]) if name.startswith("qkern")
                      else t_packed.numel() + sz.numel() * 2 if name == "torch int4" else n * k * 4)
            print(f"{m:>3} {name:<25} {sec * 1e3:8.3f} {nbytes / sec / 1e9:7.1f} "
                  f"{100 * nbytes / sec / bw:6.0f} {m * n * k / sec / 1e9:7.1f}")
        for isa in isas:
            i4 = t[f"qkern int4 hot {isa}"]
            print(f"{m:>3} ratios {isa}: torch int4 / qkern int4 hot = {t['torch int4'] / i4:.2f}x, "
                  f"dense fp32 / qkern int4 hot = {t['dense fp32'] / i4:.2f}x, "
                  + ", ".join(f"{name} / int4 {mode} = {t[f'qkern {name} {mode} {isa}'] / t[f'qkern int4 {mode} {isa}']:.2f}x"
                              for mode in ("hot", "cold") for name in ("mxfp4", "nvfp4")))


if __name__ == "__main__":
    main()
