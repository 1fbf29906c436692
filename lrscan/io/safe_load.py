"""PyTorch `.bin` weights, loaded only with `torch.load(weights_only=True)`: the restricted
unpickler that builds tensors and plain containers and refuses every other global, so a pickle
that would run code (os.system, eval, ...) is refused, never executed.

    load_weights_only(path) -> object       WeightsError (one line) when refused or unreadable

Zip archives (torch >= 1.6) are memory-mapped; legacy pickles cannot be, so they are read
whole (with a warning, once they have loaded). torch's own chatter while refusing a file is
silenced: the user gets one line that says why.
"""
from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from pathlib import Path

from lrscan.errors import WeightsError


def _refusal(msg: str) -> str:
    m = re.search(r"GLOBAL ([\w.]+)", msg)
    if m:
        return f"its pickle calls {m.group(1)}, which is code, not weights"
    m = re.search(r"(Unsupported [^\n]+)", msg)
    if m:
        return f"its pickle uses instructions a weights file never needs ({m.group(1).strip()})"
    return (msg.strip().splitlines() or ["unsupported pickle content"])[0][:160]


def load_weights_only(path: str | Path):
    import torch

    path = Path(path)
    name = path.name
    mmap = zipfile.is_zipfile(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        raise WeightsError(
            f"{name}: refused to load: {_refusal(str(e))}; lrscan unpickles files only with "
            "torch.load(weights_only=True) and never runs code from them"
        ) from None
    except Exception as e:  # truncated/corrupt archives
        detail = str(e).splitlines()[0][:160] if str(e) else ""
        raise WeightsError(f"{name}: not a readable PyTorch checkpoint ({type(e).__name__}: {detail})") from None
    if not mmap:
        warnings.warn(f"{name}: legacy (pre-zip) .bin format cannot be memory-mapped; loaded it whole")
    return obj
