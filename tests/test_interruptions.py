"""Issue 5, interruptions: Ctrl-C / SIGTERM mid-scan keep every computed row in a valid table and
--resume computes only the missing rows; two scans on one --out never corrupt each other.

The scan runs as a child process held after a known number of rows by tests/_held_scan.py, so
the signal always lands mid-scan without any timing assumption."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _hostile import (
    assert_one_error_line, assert_valid_partial, cli_env, count_metrics, error_lines, run_cli,
)
from tiny_models import build_tiny

HELD = str(Path(__file__).with_name("_held_scan.py"))
PLANNED = 16  # tiny llama: 2 layers x (Q K V O QKV M1 M1_gate M2)
METRICS = ["frobenius", "spectral_norm", "stable_rank", "stable_rank_sq"]


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return build_tiny("llama", tmp_path_factory.mktemp("interrupt") / "llama", sharded=True)


def start_held(folder, out, tmp_path, rows: int, release: Path | None = None, *extra):
    ready = tmp_path / f"ready-{rows}"
    env = cli_env(LRSCAN_TEST_ROWS=rows, LRSCAN_TEST_READY=ready, LRSCAN_TEST_RELEASE=release or "")
    proc = subprocess.Popen([sys.executable, HELD, "model", str(folder), "--out", str(out), "--no-progress", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    give_up = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > give_up:
            proc.kill()
            out_, err = proc.communicate()
            pytest.fail(f"held scan never reached row {rows} (rc {proc.returncode}): {err}")
        time.sleep(0.02)
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_scan_keeps_rows_and_resume_computes_only_the_missing(sig, llama, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    k = 5
    proc = start_held(llama, out, tmp_path, k)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, err)
    assert "Traceback" not in err
    lines = error_lines(err)
    assert len(lines) == 1 and "interrupted" in lines[0] and "--resume" in lines[0], err

    # every row computed before the signal is on disk, in a valid table; the manifest says partial
    part = assert_valid_partial(out)
    assert len(part) == k
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False and manifest["rows"] == k

    # --resume computes exactly the missing rows and keeps the ones on disk
    calls = count_metrics(monkeypatch)
    rc, _, err = run_cli(capsys, "model", llama, "--out", out, "--no-progress", "--resume")
    assert rc == 0, err
    assert len(calls) == PLANNED - k
    full = assert_valid_partial(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["rows"] == PLANNED and manifest["resumed_rows"] == k
    merged = part.merge(full, on=["layer", "role"], suffixes=("_before", "_after"))
    assert len(merged) == k
    for m in METRICS:
        assert (merged[f"{m}_before"] == merged[f"{m}_after"]).all(), m


def test_two_scans_on_one_out_one_fails_clearly_neither_corrupts(llama, tmp_path, capsys):
    out = tmp_path / "out"
    release = tmp_path / "release"
    first = start_held(llama, out, tmp_path, 3, release)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name in ("scan.csv", "manifest.json")}
    assert set(before) == {"scan.csv", "manifest.json"}

    other = build_tiny("gpt2", tmp_path / "gpt2")
    rc, _, err = run_cli(capsys, "model", other, "--out", out, "--no-progress")
    assert_one_error_line(rc, err, contains=(str(out), "another lrscan scan"))
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in before} == before

    release.touch()
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    df = assert_valid_partial(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and len(df) == PLANNED and manifest["model"] == str(llama)
    assert (df["model"] == str(llama)).all()
