"""Scan one model: per (layer, role) Frobenius norm, spectral norm and stable rank.

    scan_model(model, *, revision=None, out=None, device="auto", precision="fp32",
               method="auto", layers=None, roles=None, generic=False, resume=False,
               spectrum=False, progress=False, html=False, format="auto",
               max_memory=None) -> pandas.DataFrame

Data flows one way: folder/hub id -> Checkpoint (streamed tensors) -> Plan (roles, splits) ->
lrscan.spectral.matrix_metrics -> rows. Rows are written to `out` as they come (atomically,
at most a second apart), with manifest.json "complete": false until the last one, so an
interrupted scan leaves a valid partial table that `resume=True` continues.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import time
import warnings
from pathlib import Path

import pandas as pd

from lrscan._version import __version__
from lrscan.errors import LrscanError, UsageError, WeightsError

WRITE_EVERY_S = 1.0


class ScanWarning(UserWarning):
    """A matrix could not be measured normally (NaN/Inf, all-zero); the scan went on."""


class OutputLocked(LrscanError):
    """Another scan holds the lock on this output folder."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def read_config(folder: Path, *, required: bool) -> tuple[dict, str]:
    """config.json parsed as plain JSON (remote code is never run) and its sha256."""
    path = folder / "config.json"
    if not path.is_file():
        if required:
            raise WeightsError(f"no config.json in {folder}: it says which architecture this is (--generic scans without it)")
        return {}, ""
    raw = path.read_bytes()
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise WeightsError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise WeightsError(f"{path}: expected a JSON object")
    return config, hashlib.sha256(raw).hexdigest()


def _device_name(dev) -> str:
    import torch

    if dev.type == "cuda" and dev.index is None:
        return f"cuda:{torch.cuda.current_device()}"
    return str(dev)


def _progress_bar(total: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description:<16}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=Console(stderr=True), transient=False,
    )


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def add_task(self, *a, **k):
        return 0

    def update(self, *a, **k):
        pass


def scan_model(
    model,
    *,
    revision: str | None = None,
    out=None,
    device: str = "auto",
    precision: str = "fp32",
    method: str = "auto",
    layers=None,
    roles=None,
    generic: bool = False,
    resume: bool = False,
    spectrum: bool = False,
    progress: bool = False,
    html: bool = False,
    format: str = "auto",
    max_memory=None,
    label: str | None = None,
) -> pd.DataFrame:
    """Scan `model` (hub id or folder); returns the table also written to `out` (see README).

    `label` replaces the `model` column and manifest entry (e.g. the hub id of a folder that
    holds a copy of it); the folder actually read is always recorded as the manifest's `path`.
    """
    from filelock import FileLock, Timeout

    from lrscan import scan_table as st
    from lrscan.arch import build_plan, iter_matrices
    from lrscan.arch.shapes import check_shapes
    from lrscan.io.config import check_config
    from lrscan.io.outdir import prepare_out_dir
    from lrscan.resources import check_memory_budget, parse_size, return_freed_buffers_to_os
    from lrscan.io import Checkpoint, resolve_model
    from lrscan.io.resolve import model_slug
    from lrscan.selection import parse_layers, parse_roles
    from lrscan.spectral import METHODS, compute_dtype, matrix_metrics, resolve_device

    # ---- validate arguments before touching anything ------------------------------------
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if format not in st.FORMATS:
        raise UsageError(f"unknown format {format!r}; choose one of {', '.join(st.FORMATS[1:])}")
    if format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ModuleNotFoundError:
            raise UsageError("--format parquet needs pyarrow (pip install pyarrow)") from None
    compute_dtype(precision)
    if max_memory is not None:
        parse_size(max_memory)
    dev = resolve_device(device)
    dev_name = _device_name(dev)
    layer_sel, role_sel = parse_layers(layers), parse_roles(roles)
    model_str = os.fspath(model)

    resolved = resolve_model(model_str, revision)
    if resolved.is_local and revision:
        raise UsageError(f"--revision {revision} applies to hub ids; {model_str} is a local folder")
    if label:
        resolved = dataclasses.replace(resolved, model=label)
    out_dir = Path(out) if out is not None else Path("reports") / model_slug(model_str, revision)
    started, t_start = _now(), time.perf_counter()

    with Checkpoint(resolved.path) as ck:
        config, config_hash = read_config(resolved.path, required=not generic)
        check_config(config, generic)  # remote-code configs refused (hostile-input hook)
        infos = {n: ck.info(n) for n in ck.names()}
        plan = build_plan(config, infos, generic=generic, layers=layer_sel, roles=role_sel)
        check_shapes(plan, infos, config)  # config dims vs tensor shapes (hostile-input hook)
        check_memory_budget(plan, infos, precision, max_memory)  # --max-memory (hostile-input hook)
        return_freed_buffers_to_os()  # bounded peak RSS over many large tensors (glibc heap)

        prepare_out_dir(out_dir)  # unwritable --out fails here, before any maths
        lock = FileLock(str(out_dir / ".lrscan.lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise OutputLocked(
                f"{out_dir} is being written by another lrscan scan (lock {out_dir / '.lrscan.lock'}); "
                "wait for it to finish or choose another --out"
            ) from None
        try:
            return _run(
                ck, plan, resolved, config, config_hash, out_dir, dev, dev_name, precision, method,
                resume, spectrum, progress, html, format, started, t_start, layer_sel, role_sel,
                matrix_metrics, iter_matrices, st,
            )
        finally:
            lock.release()


def _run(ck, plan, resolved, config, config_hash, out_dir, dev, dev_name, precision, method, resume,
         spectrum, progress, html, fmt, started, t_start, layer_sel, role_sel, matrix_metrics,
         iter_matrices, st) -> pd.DataFrame:
    rows: list[dict] = []
    spectra: dict = {}
    if resume:
        prev, prev_manifest = st.read_existing(out_dir)
        if prev is not None:
            if prev_manifest and (prev_manifest.get("model"), prev_manifest.get("revision")) != (resolved.model, resolved.revision):
                raise UsageError(
                    f"--resume: {out_dir} holds a scan of {prev_manifest.get('model')!r} "
                    f"(revision {prev_manifest.get('revision')!r}), not {resolved.model!r}; use another --out"
                )
            rows = prev.to_dict("records")
            if spectrum:
                spectra = st.read_spectrum(out_dir)
    done = {(int(r["layer"]), str(r["role"])) for r in rows}
    todo = [pm for pm in plan.matrices if pm.key not in done]

    scan_warnings: list[str] = []
    manifest = {
        "model": resolved.model,
        "revision": resolved.revision,
        "family": plan.family,
        "model_type": plan.model_type,
        "config_hash": config_hash,
        "config_facts": plan.facts.as_dict(),
        "lrscan_version": __version__,
        "device": dev_name,
        "precision": precision,
        "method": method,
        "skipped": plan.skipped,
        "started_at": started,
        "finished_at": None,
        "total_seconds": None,
        "rows": len(rows),
        "complete": False,
        # additions (beyond the README contract)
        "commit": resolved.commit,
        "path": str(resolved.path),
        "weights_format": ck.format,
        "weight_files": list(ck.files),
        "tensor_prefix": plan.prefix,
        "planned_rows": len(plan.matrices),
        "resumed_rows": len(done),
        "layers_selected": layer_sel,
        "roles_selected": role_sel,
        "quantization_config": config.get("quantization_config") is not None,
        "warnings": scan_warnings,
    }

    def flush(final: bool = False) -> None:
        df = st.to_frame(rows)
        st.write_table(out_dir, df, fmt if final else "csv")
        if spectrum and spectra:
            st.write_spectrum(out_dir, spectra)
        manifest["rows"] = len(rows)
        manifest["total_seconds"] = round(time.perf_counter() - t_start, 3)
        st.write_manifest(out_dir, manifest)

    order = {pm.key: n for n, pm in enumerate(plan.matrices)}
    bar = _progress_bar(len(todo)) if progress else _NoProgress()
    last_write = 0.0
    with bar:
        task = bar.add_task("scanning", total=len(todo))
        try:
            flush()
            for pm, mat, read_s in iter_matrices(ck, plan, todo):
                bar.update(task, description=f"layer {pm.layer} {pm.role}")
                t0 = time.perf_counter()
                m = matrix_metrics(mat, method=method, device=dev, precision=precision, want_spectrum=spectrum)
                secs = read_s + (time.perf_counter() - t0)
                if m.status != "ok":
                    msg = f"layer {pm.layer} {pm.role} ({';'.join(pm.tensors)}): {m.note or m.status}"
                    scan_warnings.append(msg)
                    if m.status == "nonfinite":
                        warnings.warn(msg + "; row flagged, scan continues", ScanWarning, stacklevel=2)
                dtypes = sorted({ck.info(t).dtype for t in pm.tensors})
                rows.append({
                    "model": resolved.model, "revision": resolved.revision, "layer": pm.layer, "role": pm.role,
                    "rows": int(mat.shape[0]), "cols": int(mat.shape[1]),
                    "frobenius": m.frobenius, "spectral_norm": m.spectral_norm,
                    "stable_rank": m.stable_rank, "stable_rank_sq": m.stable_rank_sq,
                    "dtype": ";".join(dtypes), "device": dev_name, "method": m.method,
                    "seconds": round(secs, 6), "status": m.status, "note": m.note,
                    "tensors": ";".join(pm.tensors),
                })
                if spectrum and m.singular_values is not None:
                    spectra[st.spectrum_key(pm.layer, pm.role)] = m.singular_values
                del mat
                bar.update(task, advance=1)
                now = time.perf_counter()
                if now - last_write >= WRITE_EVERY_S:
                    flush()
                    last_write = now
        finally:
            # sort in plan order (resumed rows first keep theirs), then write what we have
            rows.sort(key=lambda r: order.get((int(r["layer"]), str(r["role"])), -1))
            have = {(int(r["layer"]), str(r["role"])) for r in rows}
            done_all = all(pm.key in have for pm in plan.matrices)
            if done_all:
                manifest["complete"] = True
                manifest["finished_at"] = _now()
            flush(final=done_all)

    df = st.to_frame(rows)
    if html:
        report = _render_html(out_dir)
        if report is not None:
            manifest["report"] = str(report)
            st.write_manifest(out_dir, manifest)
    return df


def _render_html(out_dir: Path) -> Path | None:
    try:
        from lrscan.report import render_scan_dirs
    except (ModuleNotFoundError, ImportError, AttributeError):
        msg = "the report module (lrscan.report.scan_report) is not installed in this build: report.html not written"
        warnings.warn(msg, ScanWarning, stacklevel=3)
        return None
    return render_scan_dirs([out_dir], out_dir / "report.html")
