"""The `lrscan` command line: a thin typer layer over the Python API.

Each feature registers its commands from its own module under lrscan/commands/, so the CLI
stays a few lines per command. `main()` turns every expected failure into one line on
stderr and a non-zero exit code, never a traceback (set LRSCAN_DEBUG=1 to see one).
"""
from __future__ import annotations

import os
import sys

import typer

from lrscan._version import __version__

app = typer.Typer(
    name="lrscan",
    help="Rank and norm structure of network weights, and model merging by summing weights.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool):
    if value:
        typer.echo(f"lrscan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True, help="Print the version."),
):
    """lrscan: weight rank/norm scans of pretrained transformers and model-merging experiments."""


def _register_all() -> None:
    from lrscan.commands import register_all

    register_all(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, mapping errors to one line + exit code."""
    from lrscan.errors import LrscanError
    from lrscan.signals import stop_signal, stop_signals_as_interrupt

    _register_all()
    try:
        # standalone_mode=False hands back typer.Exit(code) as the return value instead of raising
        with stop_signals_as_interrupt():  # SIGTERM stops as cleanly as Ctrl-C
            rv = app(args=argv, standalone_mode=False)
        if stop_signal() or rv == 130:  # typer turns KeyboardInterrupt into a silent `return 130`
            raise KeyboardInterrupt
    except LrscanError as e:
        typer.echo(f"lrscan: error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        typer.echo("lrscan: interrupted; what was computed so far is on disk (rerun with --resume to continue)", err=True)
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        typer.echo("lrscan: aborted", err=True)
        sys.exit(130)
    except Exception as e:  # click usage errors (typer vendors click) and anything unexpected
        if callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            sys.exit(e.exit_code)
        if os.environ.get("LRSCAN_DEBUG"):
            raise
        typer.echo(f"lrscan: internal error: {type(e).__name__}: {e} (set LRSCAN_DEBUG=1 for a traceback)", err=True)
        sys.exit(3)
    sys.exit(rv if isinstance(rv, int) else 0)
