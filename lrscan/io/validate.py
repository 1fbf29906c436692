"""Checks on weight files before they are opened, so a corrupt file gives one precise line.

    check_safetensors(path)              header length, JSON, dtype/shape/offsets vs the file size
    check_weight_map(folder, fmt, infos) a shard index against what the shards really hold

safetensors itself rejects all of these too, but its messages do not say which tensor or how
many bytes are missing; these say both. Only the header is read (never the data).
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from lrscan.errors import WeightsError

MAX_HEADER_BYTES = 100_000_000  # the limit safetensors itself enforces
_ITEMSIZE = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
    "U16": 2, "U32": 4, "U64": 8, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
}


def _fail(name: str, msg: str):
    raise WeightsError(f"{name}: not a readable safetensors file: {msg}")


def _is_count(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def read_header(path: Path) -> tuple[dict, int]:
    """(header dict, size of the data section in bytes); WeightsError when unreadable."""
    name = path.name
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            if size < 8:
                _fail(name, f"{size} bytes, too short (truncated?)")
            (n,) = struct.unpack("<Q", f.read(8))
            if n > size - 8:
                _fail(name, f"header length {n} is larger than the file ({size} bytes): truncated, or not safetensors at all")
            if n > MAX_HEADER_BYTES:
                _fail(name, f"header length {n} exceeds {MAX_HEADER_BYTES} bytes")
            raw = f.read(n)
    except OSError as e:
        _fail(name, f"cannot be read ({e.strerror or type(e).__name__})")
    try:
        header = json.loads(raw.decode("utf-8"))
    except ValueError:  # includes UnicodeDecodeError
        _fail(name, "the JSON header is garbage (not valid UTF-8 JSON)")
    if not isinstance(header, dict):
        _fail(name, "the JSON header is not an object")
    return header, size - 8 - n


def check_safetensors(path: str | Path) -> None:
    """Raise WeightsError naming the tensor when the header does not describe the file."""
    path = Path(path)
    name = path.name
    header, data_bytes = read_header(path)
    spans = []
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(entry, dict):
            _fail(name, f"tensor {key}: header entry is not an object")
        dtype, shape, offs = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            _fail(name, f"tensor {key}: bad dtype/shape in header ({dtype!r}, {shape!r})")
        if not (isinstance(offs, list) and len(offs) == 2 and all(_is_count(o) for o in offs) and offs[0] <= offs[1]):
            _fail(name, f"tensor {key}: bad data_offsets {offs!r}")
        start, end = offs
        if end > data_bytes:
            _fail(name, f"tensor {key} needs bytes {start}-{end} of the data section, but the file holds only "
                        f"{data_bytes}: truncated, or offsets point past the end")
        if dtype in _ITEMSIZE and end - start != math.prod(shape) * _ITEMSIZE[dtype]:
            _fail(name, f"tensor {key}: shape {shape} x {dtype} is {math.prod(shape) * _ITEMSIZE[dtype]} bytes, "
                        f"but its offsets span {end - start}")
        spans.append((start, end, key))
    spans.sort()
    for (s0, e0, k0), (s1, e1, k1) in zip(spans, spans[1:]):
        if s1 < e0:
            _fail(name, f"tensors {k0} (bytes {s0}-{e0}) and {k1} (bytes {s1}-{e1}) overlap in the data section")


def _index_file(folder: Path, fmt: str) -> Path | None:
    suffix = "*.safetensors.index.json" if fmt == "safetensors" else "*.bin.index.json"
    found = sorted(folder.glob(suffix))
    return found[0] if found else None


def check_weight_map(folder: str | Path, fmt: str, infos: dict) -> None:
    """Every tensor the shard index names must be in the shard it names (infos: name -> TensorInfo)."""
    index = _index_file(Path(folder), fmt)
    if index is None:
        return
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # the reader reports an unreadable index itself
    if not isinstance(weight_map, dict):
        return
    for tensor, shard in weight_map.items():
        info = infos.get(tensor)
        if info is None:
            raise WeightsError(f"{index.name} maps tensor {tensor} to {shard}, but no shard holds it")
        if info.file != shard:
            raise WeightsError(f"{index.name} maps tensor {tensor} to {shard}, but it is stored in {info.file}: "
                               "the index does not match the shards")
