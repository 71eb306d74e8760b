"""Arguments of ``qkern bench``; the COMMANDS entry of qkern.cli is ``COMMAND``.

qkern.cli loads this module for every command: it imports nothing beyond argparse at load.
"""
from __future__ import annotations

import argparse
import sys

HELP = "microbenchmarks: qkern vs baselines, as fractions of this machine's measured peaks"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .cases import FAMILIES
    from .shapes import DEFAULT_SHAPES, MODELS

    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="default: cuda when a GPU and qkern._C_cuda are usable, else cpu")
    p.add_argument("--ops", default=",".join(FAMILIES),
                   help=f"comma-separated op families (default: all of {','.join(FAMILIES)})")
    p.add_argument("--shapes", default=DEFAULT_SHAPES,
                   help=f"models ({', '.join(MODELS)}, all) and/or custom weights NxK, "
                        f"comma-separated (default: {DEFAULT_SHAPES})")
    p.add_argument("--m", default=None, help="token counts M for the GEMMs, e.g. 1,16,256,2048")
    p.add_argument("--quick", action="store_true",
                   help="the 4096x4096 weight, M=1,16, short timings (~1-2 minutes)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for qkern and torch alike (default: torch.get_num_threads())")
    p.add_argument("--no-flush", action="store_true", help="keep caches warm between repetitions")
    p.add_argument("--no-cuda-graphs", action="store_true", help="time eager launches on CUDA")
    p.add_argument("--json", metavar="OUT.json", help="write the full results (schema.json)")
    p.add_argument("--plot", metavar="OUT.png", help="plot roofline fractions (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    from . import report, runner, shapes

    try:
        cfg = runner.Config(device=args.device, ops=[s.strip() for s in args.ops.split(",") if s.strip()],
                            shapes=args.shapes, quick=args.quick, threads=args.threads,
                            m_values=shapes.parse_ints(args.m, "--m") if args.m else None,
                            flush=not args.no_flush, cuda_graphs=not args.no_cuda_graphs,
                            progress=not args.no_progress)
        if args.plot:  # fail before a long run, not after it
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                raise ValueError("--plot needs matplotlib: pip install qkern[bench]") from None
        doc = runner.run(cfg)
    except ValueError as e:
        print(f"qkern bench: {e}", file=sys.stderr)
        return 2
    print(report.format_report(doc))
    if args.json:
        report.write_json(doc, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        report.plot(doc, args.plot)
        print(f"wrote {args.plot}")
    return 0


COMMAND = (HELP, add_arguments, run)
