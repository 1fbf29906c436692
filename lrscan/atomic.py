"""Atomic file output: every file lrscan writes appears whole or not at all.

    atomic_write(path, writer)   writer(tmp_path) fills a temp file in the same folder, which is
                                 then renamed over `path` (os.replace); on any failure, Ctrl-C
                                 included, the temp file is removed and `path` is untouched.
    write_text(path, text)       the same for a string (UTF-8)

Files get the usual permissions (0666 minus the umask), not mkstemp's private 0600.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, writer: Callable[[str], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
