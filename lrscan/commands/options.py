"""Options that `model`, `sweep` and `diff` share, defined once (same flag, same help, same meaning).

Use as `device: opts.Device = "auto"`; the default stays at the call site, where typer reads it.
"""
from __future__ import annotations

from typing import Annotated, Optional

import typer

Device = Annotated[str, typer.Option("--device", help="auto | cpu | cuda | cuda:N (auto: CUDA when available).")]
Precision = Annotated[str, typer.Option(
    "--precision", help="fp32 | fp64; fp16/bf16 weights are up-cast, never down-cast.")]
Method = Annotated[str, typer.Option("--method", help="Spectral-norm method (see lrscan.spectral.METHODS).")]
Layers = Annotated[Optional[str], typer.Option(
    "--layers", help="Blocks to scan, e.g. 0-5 or 0,3,7-9 (default: all).")]
Roles = Annotated[Optional[str], typer.Option(
    "--roles", help="Roles to scan, e.g. Q,K,QKV (Q K V O QKV M1 M1_gate M2 other).")]
Generic = Annotated[bool, typer.Option(
    "--generic", help="Unknown model_type: scan every 2-D weight with role 'other'.")]
Spectrum = Annotated[bool, typer.Option("--spectrum", help="Also save all singular values to spectrum.npz.")]
