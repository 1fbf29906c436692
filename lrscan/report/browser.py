"""Which local Chromium to drive (static image export, the browser test). Never downloads one.

    find_chromium() -> str     $LRSCAN_CHROMIUM, else chromium / chromium-browser / google-chrome on PATH
"""
from __future__ import annotations

import os
import shutil

from lrscan.errors import LrscanError

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str:
    explicit = os.environ.get("LRSCAN_CHROMIUM")
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit
        raise LrscanError(f"LRSCAN_CHROMIUM={explicit} is not an executable file")
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise LrscanError("no Chromium found on PATH (install Debian's: apt-get install chromium, "
                      "or set LRSCAN_CHROMIUM to a Chrome/Chromium binary)")
