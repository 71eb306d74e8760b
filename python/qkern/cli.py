"""The `qkern` command. Each subcommand is a (help, add_arguments, run) entry in COMMANDS."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Dict, List, Optional, Tuple


def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _info(args) -> int:
    from . import info

    data = info.collect()
    print(json.dumps(data, indent=2) if args.json else info.format_info(data))
    return 0


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, default=1024)
    p.add_argument("--cols", type=int, default=1024)
    p.add_argument("--no-model", action="store_true", help="skip the MiniLM weight table")


def _demo(args) -> int:
    from . import demo

    demo.run(rows=args.rows, cols=args.cols, with_model=not args.no_model)
    return 0


Command = Tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
COMMANDS: Dict[str, Command] = {
    "info": ("backends, CPU features, CUDA archs and versions", _info_args, _info),
    "demo": ("quantize a random weight (and MiniLM's) in every format; print errors",
             _demo_args, _demo),
    "bench": __import__("qkern.bench.cli", fromlist=["COMMAND"]).COMMAND,
}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="qkern", description="qkern: 4-bit LLM inference kernels")
    sub = parser.add_subparsers(dest="command")
    for name, (help_text, add_args, _) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["info", *(argv or [])])
    return COMMANDS[args.command][2](args)


if __name__ == "__main__":
    sys.exit(main())
