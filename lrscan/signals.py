"""SIGTERM (what `kill`, job schedulers and containers send) handled like Ctrl-C: it raises
KeyboardInterrupt in the main thread, so the scan's `finally` flushes the rows computed so far
and the CLI prints one line and exits 130, exactly as for SIGINT.

    with sigterm_as_interrupt(): ...
"""
from __future__ import annotations

import contextlib
import signal
import threading


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def sigterm_as_interrupt():
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
