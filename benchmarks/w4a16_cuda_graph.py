"""CUDA W4A16 kernel time with the weight hot in L2: 20 calls of qkern.ops.w4a16_linear
captured in one CUDA graph, replayed 10 times (no launch overhead, no cache flush; the
kernel-tuning loop). `qkern bench --device cuda --ops w4a16` gives the cold, flushed
numbers against torch's dense matmul.

    PYTHONPATH=python python benchmarks/w4a16_cuda_graph.py [fmt] [M] [--n 4096 --k 4096]
"""
from __future__ import annotations

import argparse

import torch

from qkern import ops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fmt", nargs="?", default="int4:g128:sym")
    ap.add_argument("m", nargs="?", type=int, default=1)
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--k", type=int, default=4096)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA GPU")
    q = ops.quantize(torch.randn(args.n, args.k).bfloat16(), args.fmt)
    weight = ops.prepack(q, "cuda")
    x = torch.randn(args.m, args.k, device="cuda").bfloat16()
    for _ in range(5):
        ops.w4a16_linear(x, weight)
    graph, calls, replays = torch.cuda.CUDAGraph(), 20, 10
    with torch.cuda.graph(graph):
        for _ in range(calls):
            ops.w4a16_linear(x, weight)
    graph.replay()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(replays):
        graph.replay()
    end.record()
    torch.cuda.synchronize()
    us = start.elapsed_time(end) * 1e3 / (calls * replays)
    print(f"{args.fmt} M={args.m} N={args.n} K={args.k}: {us:.2f} us per call "
          f"(graph of {calls}, {replays} replays, weight hot in L2)")


if __name__ == "__main__":
    main()
