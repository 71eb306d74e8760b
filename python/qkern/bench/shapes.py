"""Layer shapes of real models, and custom shapes from the command line.

Sizes are those of each model's Hugging Face ``config.json`` (hidden_size,
intermediate_size, num_attention_heads, num_key_value_heads, head dim 128). The linear
layers of one decoder layer are listed as serving engines run them, with Q/K/V and
gate/up fused into one GEMM each; a weight is [N, K] (out features, in features).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

# Token counts M of a GEMM: decode (1), small batched decode (16), a prefill chunk (256)
# and a long prefill (2048).
M_VALUES = (1, 16, 256, 2048)
QUICK_M_VALUES = (1, 16)


@dataclass(frozen=True)
class Weight:
    """A weight [n, k]; ``label`` names where it comes from (model.layer or "custom")."""

    label: str
    n: int
    k: int

    @property
    def dims(self) -> str:
        return f"{self.n}x{self.k}"

    def __str__(self) -> str:
        return self.dims if self.label in ("square", "custom") else f"{self.label} {self.dims}"


@dataclass(frozen=True)
class Model:
    name: str
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int = 128

    def linears(self) -> List[Weight]:
        qkv = (self.heads + 2 * self.kv_heads) * self.head_dim
        return [Weight(f"{self.name}.qkv", qkv, self.hidden),
                Weight(f"{self.name}.o", self.hidden, self.heads * self.head_dim),
                Weight(f"{self.name}.gate_up", 2 * self.intermediate, self.hidden),
                Weight(f"{self.name}.down", self.hidden, self.intermediate)]


MODELS: Dict[str, Model] = {m.name: m for m in (
    Model("llama3-8b", hidden=4096, intermediate=14336, heads=32, kv_heads=8),
    Model("llama2-7b", hidden=4096, intermediate=11008, heads=32, kv_heads=32),
    Model("mistral-7b", hidden=4096, intermediate=14336, heads=32, kv_heads=8),
    Model("qwen2.5-7b", hidden=3584, intermediate=18944, heads=28, kv_heads=4),
)}

DEFAULT_SHAPES = "llama3-8b"
# The square weight every family reports first: the size the foundation's acceptance
# numbers (quantize / dequantize GB/s) are quoted at.
SQUARE = Weight("square", 4096, 4096)


@dataclass(frozen=True)
class ShapeSet:
    """What ``--shapes`` asked for: model names and/or custom NxK weights."""

    models: Tuple[Model, ...] = ()
    custom: Tuple[Weight, ...] = field(default=())

    def weights(self, *, quick: bool = False) -> List[Weight]:
        """Custom weights if any were given, else SQUARE and (unless quick) the models'
        linears; weights of the same size are listed once, under a model's name if one has
        it (llama3-8b.o is SQUARE)."""
        if self.custom:
            chosen = list(self.custom)
        elif quick:
            chosen = [SQUARE]
        else:
            chosen = [w for m in self.models for w in m.linears()]
            if all((w.n, w.k) != (SQUARE.n, SQUARE.k) for w in chosen):
                chosen.insert(0, SQUARE)
        seen, out = set(), []
        for w in chosen:
            if (w.n, w.k) not in seen:
                seen.add((w.n, w.k))
                out.append(w)
        return out

    def row_sizes(self) -> List[int]:
        """Distinct activation row lengths: the models' hidden and intermediate sizes
        (the inputs of their linears), or the K of each custom weight."""
        if self.custom:
            sizes = [w.k for w in self.custom]
        else:
            sizes = [s for m in self.models for s in (m.hidden, m.intermediate)]
        return sorted(set(sizes), key=sizes.index)


def parse(spec: str) -> ShapeSet:
    """``llama3-8b``, ``llama3-8b,qwen2.5-7b``, ``all``, ``4096x4096,14336x4096`` (NxK)."""
    models: List[Model] = []
    custom: List[Weight] = []
    for item in (s.strip().lower() for s in spec.split(",") if s.strip()):
        if item == "all":
            models += MODELS.values()
        elif item in MODELS:
            models.append(MODELS[item])
        else:
            try:
                n, k = (int(v) for v in item.split("x"))
            except ValueError:
                raise ValueError(
                    f"--shapes: {item!r} is neither a model ({', '.join(MODELS)}, all) nor a "
                    "weight NxK such as 4096x14336") from None
            if n <= 0 or k <= 0:
                raise ValueError(f"--shapes: {item!r} must have positive sizes")
            custom.append(Weight("custom", n, k))
    if not models and not custom:
        raise ValueError(f"--shapes: nothing given in {spec!r}")
    return ShapeSet(tuple(dict.fromkeys(models)), tuple(custom))


def parse_ints(spec: str, what: str) -> Tuple[int, ...]:
    try:
        values = tuple(int(v) for v in spec.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{what}: expected comma-separated positive integers, got {spec!r}") from None
    if not values or min(values) <= 0:
        raise ValueError(f"{what}: expected comma-separated positive integers, got {spec!r}")
    return values
