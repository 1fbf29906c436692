"""Helpers for the hostile-input, interruption and resource tests (issue 5).

    run_cli(capsys, *args)            the real CLI entry point in this process -> (rc, stdout, stderr)
    run_cli_subprocess(*args, env=)   `python -m lrscan ...` in a child (signals, warnings, RSS)
    assert_one_error_line(rc, err)    non-zero exit, exactly one `lrscan: error:` line, no traceback
    assert_no_output(out)             nothing half-written: no table, no manifest, no temp files
    assert_valid_partial(out)         scan.csv parses, manifest agrees with it; returns the table
    count_metrics(monkeypatch)        counts lrscan.spectral.matrix_metrics calls (rows computed)
    edit_safetensors_header(path, fn) rewrite a safetensors header in place (data untouched)
    interrupt_held_merge(args, tmp, hold_at, sig)  signal `merge-exp` once it holds at a step; its stderr
"""
from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


def cli_env(**extra) -> dict:
    env = dict(os.environ)
    env.pop("LRSCAN_DEBUG", None)
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "tests"), env.get("PYTHONPATH", "")])
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(capsys, *args) -> tuple[int, str, str]:
    from lrscan.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    cap = capsys.readouterr()
    return e.value.code, cap.out, cap.err


def run_cli_subprocess(*args, env: dict | None = None, script: str | None = None, **kw):
    cmd = [sys.executable, script] if script else [sys.executable, "-m", "lrscan"]
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                          env=env or cli_env(), timeout=300, **kw)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def assert_one_error_line(rc: int, err: str, *, contains=(), code: int | None = None) -> str:
    assert rc != 0, f"exit code 0; stderr: {err}"
    if code is not None:
        assert rc == code, f"exit code {rc}, expected {code}; stderr: {err}"
    assert "Traceback" not in err, err
    lines = error_lines(err)
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert lines[0].startswith("lrscan: error: "), lines[0]
    assert "internal error" not in lines[0], lines[0]
    for text in contains:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


def assert_no_output(out: Path) -> None:
    if not out.exists():
        return
    left = sorted(p.name for p in out.iterdir() if p.name != ".lrscan.lock")
    assert left == [], f"half-written output in {out}: {left}"


def assert_valid_partial(out: Path) -> pd.DataFrame:
    """scan.csv is a complete, parseable table and the manifest's row count matches it."""
    from lrscan.scan_table import COLUMNS

    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")], "temporary files left behind"
    df = pd.read_csv(out / "scan.csv")
    assert list(df.columns) == COLUMNS
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"] == len(df), (manifest["rows"], len(df))
    ok = df[df["status"] == "ok"]
    assert ok[["frobenius", "spectral_norm", "stable_rank"]].notna().all().all(), "an 'ok' row has NaN metrics"
    assert not df.duplicated(["layer", "role"]).any()
    return df


def count_metrics(monkeypatch) -> list:
    """Every matrix_metrics call appends its matrix shape to the returned list."""
    import lrscan.spectral as spectral

    calls: list = []
    orig = spectral.matrix_metrics

    def counting(w, *a, **k):
        calls.append(tuple(w.shape))
        return orig(w, *a, **k)

    monkeypatch.setattr(spectral, "matrix_metrics", counting)
    return calls


def read_header(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_header(path: Path, header: dict, data: bytes) -> None:
    hb = json.dumps(header).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(hb)) + hb + data)


def edit_safetensors_header(path: Path, fn) -> None:
    header, data = read_header(path)
    fn(header)
    write_header(path, header, data)


def tensors_by_offset(header: dict) -> list[str]:
    return sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])


HELD_MERGE = str(Path(__file__).with_name("_held_merge.py"))


def interrupt_held_merge(args, tmp: Path, hold_at: int, sig=signal.SIGINT, timeout: float = 120) -> str:
    """Run `lrscan <args>` (a merge-exp command) through _held_merge.py, send `sig` once `hold_at` steps are
    done, and check it stops cleanly: exit 130, no traceback, exactly one `lrscan: ... interrupted` line.
    Returns its stderr."""
    ready, release = tmp / f"ready{hold_at}", tmp / f"release{hold_at}"
    proc = subprocess.Popen([sys.executable, HELD_MERGE, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=cli_env(LRSCAN_TEST_STEP=hold_at, LRSCAN_TEST_READY=ready, LRSCAN_TEST_RELEASE=release))
    give_up = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > give_up:
            proc.kill()
            pytest.fail(f"merge-exp never reached step {hold_at}: {proc.communicate()[1][-2000:]}")
        time.sleep(0.02)
    proc.send_signal(sig)
    release.touch()
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    lines = [line for line in error_lines(err) if line.startswith("lrscan:")]
    assert len(lines) == 1 and "interrupted" in lines[0], err[-2000:]
    return err
