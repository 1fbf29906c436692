"""CLI command modules, one per feature. Each exposes `register(app)`.

Modules must keep heavy imports (torch, transformers, plotly) inside the command functions
so that `lrscan --help` stays fast.
"""
from __future__ import annotations

import importlib

_MODULES = ["scan_cmds", "report_cmds", "merge_cmds", "sweep_cmds"]


def register_all(app) -> None:
    for name in _MODULES:
        try:
            mod = importlib.import_module(f"lrscan.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"lrscan.commands.{name}":
                continue  # feature not present in this build
            raise
        mod.register(app)
