"""qkern's ops: thin Python entry points over torch.ops.qkern.* (one module per family)."""
from .formats import dequantize, quantize
from .gemm import PrepackedWeight, prepack, w4a16_linear
from .hadamard import hadamard, hadamard_, hadamard_quantize

__all__ = ["quantize", "dequantize", "hadamard", "hadamard_", "hadamard_quantize", "PrepackedWeight",
           "prepack", "w4a16_linear"]
