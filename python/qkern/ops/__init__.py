"""qkern's ops: thin Python entry points over torch.ops.qkern.* (one module per family)."""
from .formats import dequantize, quantize
from .hadamard import hadamard, hadamard_, hadamard_quantize

__all__ = ["quantize", "dequantize"]
__all__ += ["hadamard", "hadamard_", "hadamard_quantize"]
