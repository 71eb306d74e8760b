"""kv_attention: single-token decode attention over an INT4 KV cache.

qkern's kernel (qkern.ops.int4_kv_decode_attention) is not in this build, so its row says
so; the baseline is ready and runs: torch's scaled_dot_product_attention on the same
cache in the compute dtype, with the models' grouped-query heads. Memory-bound: the
roofline is the cache bytes over the measured memory bandwidth.
"""
from __future__ import annotations

from typing import List

import torch
import torch.nn.functional as F

from ..shapes import MODELS, Model
from .base import Case, Context, Impl, missing_note, nbytes

SEQ_LENS = (1024, 4096, 16384)  # cached tokens
QUICK_SEQ_LENS = (4096,)
OP = "int4_kv_decode_attention"


def _build(ctx: Context, model: Model, seq_len: int):
    def build() -> List[Impl]:
        d = model.head_dim
        q = torch.randn(1, model.heads, 1, d, device=ctx.device).to(ctx.dtype)
        k = torch.randn(1, model.kv_heads, seq_len, d, device=ctx.device).to(ctx.dtype)
        v = torch.randn_like(k)
        gqa = model.heads != model.kv_heads
        # The qkern case needs the op's cache layout; until the op lands there is none.
        note = missing_note(OP) or f"qkern.ops.{OP} has no bench case yet"
        return [Impl("qkern", None, role="qkern", note=note),
                Impl("torch sdpa", lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa),
                     nbytes(q, k, v, q), 4.0 * model.heads * seq_len * d)]
    return build


def kv_attention_cases(ctx: Context) -> List[Case]:
    # Attention shapes come from models only; custom NxK weights say nothing about heads.
    models = ctx.shapes.models or (MODELS["llama3-8b"],)
    lens = QUICK_SEQ_LENS if ctx.quick else SEQ_LENS
    return [Case("kv_attention", "decode_attention", m.name,
                 f"{m.heads}/{m.kv_heads} heads x{m.head_dim}, L={n}",
                 {"heads": m.heads, "kv_heads": m.kv_heads, "head_dim": m.head_dim, "seq_len": n},
                 _build(ctx, m, n)) for m in models for n in lens]
