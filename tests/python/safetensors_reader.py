"""An independent safetensors reader for the Python tests (checks the layout strictly)."""
import collections
import json
import struct
from pathlib import Path

import numpy as np
import torch

NUMPY_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.int16, "I64": np.int64,
                "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
ELEMENT_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


class Entry:
    """One tensor of a safetensors file: dtype name, shape and raw little-endian bytes."""

    def __init__(self, dtype, shape, data):
        self.dtype, self.shape, self.data = dtype, shape, data

    def to_torch(self):
        array = np.frombuffer(self.data, dtype=NUMPY_DTYPES[self.dtype]).reshape(self.shape).copy()
        tensor = torch.from_numpy(array)
        return tensor.view(torch.bfloat16) if self.dtype == "BF16" else tensor


def read_safetensors(path):
    """Returns (OrderedDict name -> Entry in header order, metadata dict), checking the layout strictly."""
    blob = Path(path).read_bytes()
    assert len(blob) >= 8
    (header_len,) = struct.unpack("<Q", blob[:8])
    assert 8 + header_len <= len(blob)
    header_bytes = blob[8:8 + header_len]
    assert header_len % 8 == 0, "header padded to a multiple of 8"
    header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=collections.OrderedDict)
    metadata = header.pop("__metadata__", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    data = blob[8 + header_len:]
    entries = collections.OrderedDict()
    expected_begin = 0
    for name, info in header.items():
        assert set(info) == {"dtype", "shape", "data_offsets"}, name
        begin, end = info["data_offsets"]
        assert begin == expected_begin, f"{name}: tensors packed in order"
        numel = int(np.prod(info["shape"], dtype=np.int64))
        assert end - begin == numel * ELEMENT_SIZE[info["dtype"]], name
        entries[name] = Entry(info["dtype"], list(info["shape"]), data[begin:end])
        expected_begin = end
    assert expected_begin == len(data), "no trailing bytes"
    return entries, metadata
