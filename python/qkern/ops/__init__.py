"""qkern's ops: thin Python entry points over torch.ops.qkern.* (one module per family)."""
from .formats import dequantize, quantize

__all__ = ["quantize", "dequantize"]
