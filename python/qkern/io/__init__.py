"""Checkpoint I/O."""
from .safetensors import load_safetensors

__all__ = ["load_safetensors"]
