"""A dependency-free reader of .safetensors files (format: 8-byte little-endian header
length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw tensor bytes)."""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Callable, Dict, Optional, Union

import torch

_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn,
}


def load_safetensors(path: Union[str, Path],
                     select: Optional[Callable[[str, list], bool]] = None) -> Dict[str, torch.Tensor]:
    """Tensors of a .safetensors file (CPU, copied out of the file); ``select(name, shape)``
    picks which ones."""
    data = Path(path).read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    body = memoryview(data)[8 + header_len:]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__" or (select is not None and not select(name, meta["shape"])):
            continue
        if meta["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {meta['dtype']}")
        begin, end = meta["data_offsets"]
        raw = torch.frombuffer(bytearray(body[begin:end]), dtype=torch.uint8)
        out[name] = raw.view(_DTYPES[meta["dtype"]]).reshape(meta["shape"])
    return out
