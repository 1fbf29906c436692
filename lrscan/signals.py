"""Ctrl-C (SIGINT) and SIGTERM (what `kill`, job schedulers and containers send) stop a command
the same clean way: the handler records which signal came and raises KeyboardInterrupt in the
main thread, so `finally` blocks flush what was computed (the scan writes its partial table),
and lrscan.cli.main prints one line and exits 130.

Without this, SIGTERM killed the process on the spot (rows computed since the last periodic
write were lost), and typer turns KeyboardInterrupt into a silent exit 130, so the CLI's
"interrupted" line was never printed; the recorded signal lets main() say it.

    with stop_signals_as_interrupt(): ...
    stop_signal() -> "SIGINT" | "SIGTERM" | None      the signal that stopped the last run
"""
from __future__ import annotations

import contextlib
import signal
import threading

_received: list[str] = []


def _raise_interrupt(signum, frame):
    _received.append(signal.Signals(signum).name)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def stop_signal() -> str | None:
    return _received[-1] if _received else None


@contextlib.contextmanager
def stop_signals_as_interrupt():
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be installed from the main thread
        return
    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
