"""Fashion-MNIST from the standard IDX files (Xiao et al., 2017), optionally downloaded.

Reads `train-images-idx3-ubyte[.gz]` and `train-labels-idx1-ubyte[.gz]` from a folder. The
download (only when asked) fetches the official .gz files and verifies their published MD5
checksums before anything is used.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np

from lrscan.atomic import atomic_write
from lrscan.errors import LrscanError, UsageError

MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FILES = {  # official MD5 of each .gz file
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(LrscanError):
    """Missing, corrupt or unverifiable data files."""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (gzipped or not) as a numpy array of its declared type and shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(_DTYPES[raw[2]])
    count = int(np.prod(dims)) if dims else 0
    body = raw[4 + 4 * ndim :]
    if len(body) != count * dtype.itemsize:
        raise DataError(f"{path}: expected {count * dtype.itemsize} data bytes for shape {dims}, found {len(body)}")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def _find(data_dir: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (data_dir / name).exists():
            return data_dir / name
    return None


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(data_dir: Path, split: str = "train", mirror: str = MIRROR) -> None:
    """Fetch the split's two .gz files into data_dir, verifying the official MD5 (no partial files)."""
    import urllib.request

    data_dir.mkdir(parents=True, exist_ok=True)
    prefix = "train" if split == "train" else "t10k"
    for name, digest in FILES.items():
        if not name.startswith(prefix) or ((data_dir / name).exists() and md5(data_dir / name) == digest):
            continue

        def fetch_verified(tmp: str, name=name, digest=digest) -> None:
            try:
                urllib.request.urlretrieve(mirror + name, tmp)
            except OSError as e:
                raise DataError(f"cannot download {mirror + name} ({e}); put the IDX files in --data-dir instead") from None
            got = md5(Path(tmp))
            if got != digest:
                raise DataError(f"{name}: MD5 {got} does not match the published {digest}; file discarded")

        atomic_write(data_dir / name, fetch_verified)


def load_fashion_mnist(data_dir: str | os.PathLike | None, *, split: str = "train", download: bool = False,
                       mirror: str = MIRROR) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, 28, 28] uint8, labels [N]) of the split found in data_dir."""
    if data_dir is None:
        raise UsageError("--dataset fashion-mnist needs --data-dir DIR holding train-images-idx3-ubyte(.gz) and "
                         "train-labels-idx1-ubyte(.gz) (or add --download where a network is available)")
    d = Path(data_dir)
    prefix = "train" if split == "train" else "t10k"
    if download:
        globals()["download"](d, split, mirror)
    img, lab = _find(d, f"{prefix}-images-idx3-ubyte"), _find(d, f"{prefix}-labels-idx1-ubyte")
    if img is None or lab is None:
        raise DataError(f"{d}: missing {prefix}-images-idx3-ubyte(.gz) or {prefix}-labels-idx1-ubyte(.gz)")
    images, labels = read_idx(img), read_idx(lab)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{d}: images {images.shape} and labels {labels.shape} do not match")
    return images, labels
