"""Streaming reader over the weight files of one folder: safetensors (single or sharded via
`*.safetensors.index.json`) or, when there are none, PyTorch `.bin` files loaded with
`torch.load(weights_only=True, mmap=True)`. Nothing builds the model; one tensor (or the slice
of it that is asked for) is materialised at a time.

    ck = Checkpoint(folder)            # reads headers only
    ck.names() / ck.info(name)         # TensorInfo(name, shape, dtype, file)
    ck.read(name, index=None)          # torch.Tensor in the stored dtype; index: tuple of slices
    ck.release()                       # unmap files read so far (the scan calls it after each layer)
    ck.close()                         # or `with Checkpoint(folder) as ck:`
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lrscan.errors import WeightsError

# safetensors header dtype codes -> torch dtype names
_ST_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
    "U16": "uint16", "U32": "uint32", "U64": "uint64", "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F8_E8M0": "float8_e8m0fnu",
}
SCANNABLE_DTYPES = ("float16", "bfloat16", "float32", "float64")
_NOT_WEIGHTS_BIN = ("training_args", "optimizer", "scheduler", "rng_state", "scaler")


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str  # torch dtype name as stored, e.g. "bfloat16"
    file: str  # file name inside the folder


def unscannable_reason(dtype: str) -> str | None:
    """Why a tensor of this stored dtype is not scanned (None when it is)."""
    if dtype in SCANNABLE_DTYPES:
        return None
    if dtype.startswith("float8") or dtype.startswith("float4"):
        return f"quantized dtype {dtype} (8/4-bit floats are not scanned)"
    return f"non-float dtype {dtype} (buffer, index or quantized weight)"


class Checkpoint:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise WeightsError(f"{self.folder} is not a folder")
        self._handles: dict[str, object] = {}
        self._validated: set[str] = set()
        self._infos: dict[str, TensorInfo] = {}
        files = self._weight_files("safetensors", "model.safetensors")
        if files:
            self.format = "safetensors"
            self._index_safetensors(files)
        else:
            files = self._weight_files("bin", "pytorch_model.bin", skip=_NOT_WEIGHTS_BIN)
            if not files:
                raise WeightsError(
                    f"no weights in {self.folder}: expected model.safetensors, a sharded "
                    "model.safetensors.index.json, or pytorch_model*.bin"
                )
            self.format = "bin"
            self._index_bin(files)
        self.files = files
        from lrscan.io.validate import check_weight_map

        check_weight_map(self.folder, self.format, self._infos)  # index vs what the shards hold

    # ---- discovery -------------------------------------------------------------------------
    def _from_index(self, index_path: Path) -> list[str]:
        try:
            weight_map = json.loads(index_path.read_text())["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise WeightsError(f"{index_path.name}: unreadable shard index ({type(e).__name__})") from None
        if not isinstance(weight_map, dict):
            raise WeightsError(f"{index_path.name}: 'weight_map' is not a mapping")
        files = sorted(set(weight_map.values()))
        missing = [f for f in files if not (self.folder / f).is_file()]
        if missing:
            raise WeightsError(f"{index_path.name} lists shard(s) missing from {self.folder}: {', '.join(missing[:3])}")
        return files

    def _weight_files(self, ext: str, single: str, skip: tuple[str, ...] = ()) -> list[str]:
        """The weight files of one format: those its index lists, else the single-file name, else every *.ext."""
        indexes = sorted(self.folder.glob(f"*.{ext}.index.json"))
        if indexes:
            return self._from_index(indexes[0])
        if (self.folder / single).is_file():
            return [single]
        return sorted(p.name for p in self.folder.glob(f"*.{ext}") if not p.name.startswith(skip))

    def _add(self, info: TensorInfo) -> None:
        if info.name in self._infos and self._infos[info.name].file != info.file:
            raise WeightsError(f"tensor {info.name} appears in both {self._infos[info.name].file} and {info.file}")
        self._infos[info.name] = info

    def _index_safetensors(self, files: list[str]) -> None:
        for fname in files:
            f = self._open_safetensors(fname)
            for name in f.keys():
                sl = f.get_slice(name)
                dtype = sl.get_dtype()
                self._add(TensorInfo(name, tuple(int(d) for d in sl.get_shape()), _ST_DTYPES.get(dtype, dtype.lower()), fname))

    def _open_safetensors(self, fname: str, keep: bool = True):
        """keep=False (reads): the handle is not cached. safetensors tensors are zero-copy views of
        the file's mmap, so a cached handle keeps every page ever read resident (RSS grows with
        the checkpoint); uncached, the mapping and its pages go away with the tensor."""
        if fname not in self._handles:
            from safetensors import safe_open

            from lrscan.io.validate import check_safetensors

            if fname not in self._validated:
                check_safetensors(self.folder / fname)  # one precise line for a corrupt header
                self._validated.add(fname)
            try:
                self._handles[fname] = safe_open(str(self.folder / fname), framework="pt", device="cpu")
            except Exception as e:  # SafetensorError, OSError: corrupt or truncated header
                raise WeightsError(f"{fname}: not a readable safetensors file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
        return self._handles[fname] if keep else self._handles.pop(fname)

    def _load_bin(self, fname: str) -> dict:
        if fname not in self._handles:
            from lrscan.io.safe_load import load_weights_only

            sd = load_weights_only(self.folder / fname)  # weights_only=True, one-line refusal
            if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
                sd = sd["state_dict"]
            if not isinstance(sd, dict):
                raise WeightsError(f"{fname}: expected a state dict (name -> tensor), got {type(sd).__name__}")
            self._handles[fname] = sd
        return self._handles[fname]

    def _index_bin(self, files: list[str]) -> None:
        import torch

        for fname in files:
            for name, t in self._load_bin(fname).items():
                if isinstance(t, torch.Tensor):
                    self._add(TensorInfo(str(name), tuple(t.shape), str(t.dtype).removeprefix("torch."), fname))

    # ---- access ----------------------------------------------------------------------------
    def names(self) -> list[str]:
        return list(self._infos)

    def __contains__(self, name: str) -> bool:
        return name in self._infos

    def info(self, name: str) -> TensorInfo:
        try:
            return self._infos[name]
        except KeyError:
            raise WeightsError(f"tensor {name} is not in the checkpoint at {self.folder}") from None

    def read(self, name: str, index: tuple[slice, ...] | None = None):
        """The tensor (or `tensor[index]`) in its stored dtype, on CPU."""
        info = self.info(name)
        try:
            if self.format == "safetensors":
                f = self._open_safetensors(info.file, keep=False)
                return f.get_slice(name)[index] if index is not None else f.get_tensor(name)
            t = self._load_bin(info.file)[name]
            return t[index] if index is not None else t
        except WeightsError:
            raise
        except Exception as e:
            raise WeightsError(f"cannot read tensor {name} from {info.file} ({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''})") from None

    def release(self) -> None:
        """Drop open file maps (pages read so far stop counting as resident); reopened lazily."""
        self._handles.clear()

    def close(self) -> None:
        self._handles.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
