"""Run the lrscan CLI with a test hook that holds a scan in the middle, deterministically.

    python tests/_held_scan.py model FOLDER --out OUT ...

Environment: after LRSCAN_TEST_ROWS matrices have been computed, the hook creates the file
LRSCAN_TEST_READY and then waits until LRSCAN_TEST_RELEASE exists (or 120 s pass), so a test
can send a signal, or start a second scan, while rows are known to be computed. Used by
tests/test_interruptions.py; lrscan itself has no test hooks.
"""
import os
import sys
import time
from pathlib import Path

import lrscan.spectral as spectral

_orig = spectral.matrix_metrics
_done = 0


def _held(w, *a, **k):
    global _done
    if _done == int(os.environ["LRSCAN_TEST_ROWS"]):
        Path(os.environ["LRSCAN_TEST_READY"]).touch()
        release = os.environ.get("LRSCAN_TEST_RELEASE")
        give_up = time.monotonic() + 120
        while time.monotonic() < give_up and not (release and Path(release).exists()):
            time.sleep(0.02)
    _done += 1
    return _orig(w, *a, **k)


spectral.matrix_metrics = _held

from lrscan.cli import main  # noqa: E402

main(sys.argv[1:])
