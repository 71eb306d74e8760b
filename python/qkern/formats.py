"""Format descriptors: what a quantized tensor is, independent of any kernel.

Facts in ../shared/NUMERICS.md; policies in docs/formats.md. A format is a small frozen
dataclass with a stable text ``spec`` (used as the op argument and in checkpoints):

=============================  =====================================================
``INT4(128)``                  ``int4:g128:sym``   codes 0..15, value (q - 8) * s
``INT4(128, symmetric=False)`` ``int4:g128:asym``  value (q - z) * s, integer z
``INT4(None)``                 ``int4:channel:sym`` one group per row
``MXFP4()``                    ``mxfp4:floor``      E2M1, E8M0 scale per 32 (OCP rule)
``MXFP4("rceil")``             ``mxfp4:rceil``      E2M1, E8M0 scale per 32 (no clipping)
``NVFP4()``                    ``nvfp4``            E2M1, E4M3 scale per 16, fp32 global
``NVFP4(global_scale=False)``  ``nvfp4:single``     E2M1, E4M3 scale per 16
``INT8()``                     ``int8:row``         per-row symmetric INT8 (activations)
``FP8()``                      ``fp8:row``          per-row E4M3 (activations)
=============================  =====================================================
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar, Optional, Union

import torch

__all__ = ["Format", "INT4", "MXFP4", "NVFP4", "INT8", "FP8", "parse", "ALL_WEIGHT_FORMATS"]

# Format kind codes: the binding ABI of qkern/formats.h (FormatKind).
_KIND_INT4, _KIND_MXFP4, _KIND_NVFP4, _KIND_INT8, _KIND_FP8 = range(5)


@dataclass(frozen=True)
class Format:
    """Base of all formats. Subclasses set ``kind``, ``bits`` and ``name``."""

    kind: ClassVar[int]
    bits: ClassVar[int]
    name: ClassVar[str]

    def block_size(self, cols: int) -> int:
        """Elements that share one scale, for rows of ``cols`` elements."""
        raise NotImplementedError

    @property
    def spec(self) -> str:
        raise NotImplementedError

    @property
    def has_zero(self) -> bool:
        return False

    @property
    def has_global_scale(self) -> bool:
        return False

    def kernel_flags(self) -> dict:
        """The flags of the C++ FormatSpec (qkern/formats.h), as binding keyword args, in the
        bindings' order (after kind and block)."""
        return dict(symmetric=getattr(self, "symmetric", True),
                    rceil=getattr(self, "scale_rule", "floor") == "rceil",
                    global_scale=self.has_global_scale)

    def packed_cols(self, cols: int) -> int:
        """Columns of ``qdata`` for rows of ``cols`` elements."""
        return cols // 2 if self.bits == 4 else cols

    def scale_dtype(self, x_dtype: torch.dtype) -> torch.dtype:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.spec


@dataclass(frozen=True)
class INT4(Format):
    """Group-wise INT4. ``group_size`` in (32, 64, 128) or None for one group per row.

    Symmetric uses the GPTQ / compressed-tensors convention: scale = 2*amax/15, codes
    q in 0..15 with value (q - 8) * scale. Asymmetric maps [min(x, 0), max(x, 0)] onto
    0..15 with an integer zero point stored per group. Scales are stored in the input's
    dtype (fp32, fp16 or bf16), and elements are encoded with the rounded scale.
    """

    group_size: Optional[int] = 128
    symmetric: bool = True

    kind: ClassVar[int] = _KIND_INT4
    bits: ClassVar[int] = 4
    name: ClassVar[str] = "int4"
    GROUP_SIZES: ClassVar[tuple] = (32, 64, 128)

    def __post_init__(self):
        if self.group_size is not None and self.group_size not in self.GROUP_SIZES:
            raise ValueError(
                f"INT4: group_size must be one of {self.GROUP_SIZES} or None (per channel), "
                f"got {self.group_size!r}")

    def block_size(self, cols: int) -> int:
        return cols if self.group_size is None else self.group_size

    @property
    def has_zero(self) -> bool:
        return not self.symmetric

    @property
    def spec(self) -> str:
        g = "channel" if self.group_size is None else f"g{self.group_size}"
        return f"int4:{g}:{'sym' if self.symmetric else 'asym'}"

    def scale_dtype(self, x_dtype: torch.dtype) -> torch.dtype:
        return x_dtype


@dataclass(frozen=True)
class MXFP4(Format):
    """OCP MX FP4: E2M1 elements, one E8M0 scale (its uint8 code) per 32.

    ``scale_rule="floor"`` is the OCP v1.0 shared-exponent rule (floor(log2 amax) - 2; the
    block max can clip by up to 25%); ``"rceil"`` is ceil(log2(amax / 6)), which never clips.
    """

    scale_rule: str = "floor"

    kind: ClassVar[int] = _KIND_MXFP4
    bits: ClassVar[int] = 4
    name: ClassVar[str] = "mxfp4"
    BLOCK: ClassVar[int] = 32

    def __post_init__(self):
        if self.scale_rule not in ("floor", "rceil"):
            raise ValueError(f"MXFP4: scale_rule must be 'floor' or 'rceil', got {self.scale_rule!r}")

    def block_size(self, cols: int) -> int:
        return self.BLOCK

    @property
    def spec(self) -> str:
        return f"mxfp4:{self.scale_rule}"

    def scale_dtype(self, x_dtype: torch.dtype) -> torch.dtype:
        return torch.uint8


@dataclass(frozen=True)
class NVFP4(Format):
    """NVIDIA FP4: E2M1 elements, one E4M3 scale (its uint8 code) per 16, and (by default) an fp32
    per-tensor decode scale d = amax / (448 * 6); value = e2m1 * (s_b * d)."""

    global_scale: bool = True

    kind: ClassVar[int] = _KIND_NVFP4
    bits: ClassVar[int] = 4
    name: ClassVar[str] = "nvfp4"
    BLOCK: ClassVar[int] = 16

    @property
    def has_global_scale(self) -> bool:
        return self.global_scale

    def block_size(self, cols: int) -> int:
        return self.BLOCK

    @property
    def spec(self) -> str:
        return "nvfp4" if self.global_scale else "nvfp4:single"

    def scale_dtype(self, x_dtype: torch.dtype) -> torch.dtype:
        return torch.uint8  # E4M3 codes


@dataclass(frozen=True)
class INT8(Format):
    """Per-row symmetric INT8 for activations: scale = amax/127 (fp32), q in -127..127."""

    kind: ClassVar[int] = _KIND_INT8
    bits: ClassVar[int] = 8
    name: ClassVar[str] = "int8"

    def block_size(self, cols: int) -> int:
        return cols

    @property
    def spec(self) -> str:
        return "int8:row"

    def scale_dtype(self, x_dtype: torch.dtype) -> torch.dtype:
        return torch.float32


@dataclass(frozen=True)
class FP8(Format):
    """Per-row FP8 E4M3 for activations: scale = amax/448 (fp32), saturating cast."""

    kind: ClassVar[int] = _KIND_FP8
    bits: ClassVar[int] = 8
    name: ClassVar[str] = "fp8"

    def block_size(self, cols: int) -> int:
        return cols

    @property
    def spec(self) -> str:
        return "fp8:row"

    def scale_dtype(self, x_dtype: torch.dtype) -> torch.dtype:
        return torch.float32


def qdata_dtype(fmt: Format) -> torch.dtype:
    """dtype of ``qdata``: int8 for INT8, else uint8 bytes (packed 4-bit codes, E4M3 codes)."""
    return torch.int8 if isinstance(fmt, INT8) else torch.uint8


ALL_WEIGHT_FORMATS = (INT4(128), INT4(128, symmetric=False), MXFP4(), MXFP4("rceil"), NVFP4(),
                      NVFP4(global_scale=False))


def parse(spec: Union[str, Format]) -> Format:
    """The format named by ``spec`` (see the table above); a Format is returned as is."""
    if isinstance(spec, Format):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"fmt: expected a qkern.formats.Format or a spec string, got {type(spec).__name__}")
    return _parse_spec(spec)


@functools.lru_cache(maxsize=64)
def _parse_spec(spec: str) -> Format:
    # cached: ops parse their spec string on every call, and formats are immutable
    parts = spec.lower().split(":")
    head, rest = parts[0], parts[1:]
    try:
        if head == "int4" and len(rest) == 2 and rest[1] in ("sym", "asym"):
            g = None if rest[0] == "channel" else int(rest[0].removeprefix("g"))
            return INT4(g, symmetric=rest[1] == "sym")
        if head == "mxfp4" and len(rest) <= 1:
            return MXFP4(rest[0] if rest else "floor")
        if head == "nvfp4" and rest in ([], ["single"]):
            return NVFP4(global_scale=not rest)
        if head == "int8" and rest in ([], ["row"]):
            return INT8()
        if head == "fp8" and rest in ([], ["row"]):
            return FP8()
    except ValueError as e:
        raise ValueError(f"fmt: cannot parse format spec {spec!r}: {e}") from None
    raise ValueError(
        f"fmt: unknown format spec {spec!r}; expected e.g. 'int4:g128:sym', 'int4:channel:asym', "
        "'mxfp4:floor', 'mxfp4:rceil', 'nvfp4', 'nvfp4:single', 'int8:row', 'fp8:row'")
