"""qkern's ops: thin Python entry points over torch.ops.qkern.* (one module per family)."""
from .formats import dequantize, quantize
from .hadamard import hadamard, hadamard_, hadamard_quantize
from .gemm import PrepackedWeight, prepack, w4a16_linear  # noqa: F401

__all__ = ["quantize", "dequantize"]
__all__ += ["hadamard", "hadamard_", "hadamard_quantize"]
