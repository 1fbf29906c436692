"""Run `lrscan merge-exp ...` with a test hook that holds training mid-run, deterministically.

    python tests/_held_merge.py merge-exp synthetic ... --out OUT

Once training has reported LRSCAN_TEST_STEP steps through its progress callback, the hook
creates LRSCAN_TEST_READY and waits (up to 120 s) until LRSCAN_TEST_RELEASE exists, so the test
can send a signal mid-run (the trainer acts on it at its next step boundary).
"""
import os
import sys
import time
from pathlib import Path

import lrscan.merge.runner as runner

_run = runner.run


def _held_run(config, *, progress=None, **kw):
    def held(step, total):
        if progress is not None:
            progress(step, total)
        ready = Path(os.environ["LRSCAN_TEST_READY"])
        if step >= int(os.environ["LRSCAN_TEST_STEP"]) and not ready.exists():
            ready.touch()
            release = Path(os.environ["LRSCAN_TEST_RELEASE"])
            give_up = time.monotonic() + 120
            while time.monotonic() < give_up and not release.exists():
                time.sleep(0.02)

    return _run(config, progress=held, **kw)


runner.run = _held_run

from lrscan.cli import main  # noqa: E402

main(sys.argv[1:])
