"""The output folder is checked before anything is computed: created if needed, and written
to once (a probe file, removed at once), so an unwritable --out fails with one line up front.

    prepare_out_dir(path) -> Path
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lrscan.errors import LrscanError


class OutputError(LrscanError):
    """--out cannot be created or written."""


def prepare_out_dir(path: str | os.PathLike) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder: choose another output folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".lrscan-write-probe.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise OutputError(f"--out {out} is not writable ({why}): nothing was computed; choose another output folder") from None
    return out
