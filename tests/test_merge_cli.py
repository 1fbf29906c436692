"""`lrscan merge-exp` through the real command line (subprocess)."""
import json
import subprocess
import sys

import pandas as pd
import pytest


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "lrscan", "merge-exp", *args], capture_output=True, text=True, **kw)


TINY = ["--steps", "30", "--seeds", "1", "--widths", "12,6", "--n", "16"]


def test_synthetic_writes_all_outputs_and_prints_the_summary(tmp_path):
    r = cli("synthetic", *TINY, "--overlap", "0.5", "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    for f in ("curves.csv", "manifest.json", "report.html", "summary.txt"):
        assert (tmp_path / "o" / f).exists()
    assert "paper's claims" in r.stdout and "final training loss" in r.stdout
    df = pd.read_csv(tmp_path / "o" / "curves.csv")
    assert set(df.condition) == {"different", "same-inputs", "identical", "overlap-0.5"}
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["config"]["overlap"] == 0.5


@pytest.mark.parametrize("args, needle", [
    (["synthetic", "--lr", "-1"], "--lr"),
    (["synthetic", "--widths", ""], "--widths"),
    (["images", "--dataset", "fashion-mnist"], "--data-dir"),
])
def test_invalid_input_exits_2_with_one_line(tmp_path, args, needle):
    r = cli(*args, "--out", str(tmp_path / "bad"))
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr


@pytest.mark.parametrize("exp, kw, needle", [
    ("synthetic", {"lr": 0.0}, "--lr"),
    ("synthetic", {"weight_decay": -1e-4}, "--weight-decay"),
    ("synthetic", {"steps": 0}, "--steps"),
    ("synthetic", {"widths": ()}, "--widths"),
    ("synthetic", {"widths": (10, 0)}, "--widths"),
    ("synthetic", {"overlap": 1.5}, "--overlap"),
    ("synthetic", {"overlap": -0.1}, "--overlap"),
    ("lambda-sweep", {"lambdas": (0.0, -1.0)}, "grid"),
    ("images", {"dataset": "mnist"}, "dataset"),
])
def test_validation_raises_usage_error(exp, kw, needle):
    from lrscan.errors import UsageError
    from lrscan.merge.config import parse_widths, preset

    with pytest.raises(UsageError, match=needle) as ei:
        preset(exp, "quick", **kw)
    assert ei.value.exit_code == 2 and "\n" not in str(ei.value)
    with pytest.raises(UsageError, match="widths"):
        parse_widths("10,x")
    with pytest.raises(UsageError, match="preset"):
        preset("synthetic", "huge")


def test_divergence_exits_1_reports_the_step_and_keeps_the_curves(tmp_path):
    r = cli("synthetic", "--steps", "200", "--seeds", "1", "--widths", "12,6", "--n", "16", "--lr", "1e6",
            "--out", str(tmp_path / "d"))
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.startswith("lrscan:")]
    assert len(lines) == 1 and "diverged at step" in lines[0] and "last finite loss" in lines[0]
    assert len(pd.read_csv(tmp_path / "d" / "curves.csv")) > 0


def test_images_digits_and_fig2_run(tmp_path):
    r = cli("images", "--steps", "20", "--seeds", "1", "--widths", "8,4", "--out", str(tmp_path / "i"))
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(tmp_path / "i" / "curves.csv")
    assert {"different", "same-inputs", "identical"} <= set(df.condition)
    r = cli("fig2", "--steps", "3", "--seeds", "1", "--lambdas", "0,1e-3", "--out", str(tmp_path / "f"))
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(tmp_path / "f" / "curves.csv")
    assert set(df.condition) == {"freq-10", "freq-100"} and set(df.weight_decay) == {0.0, 1e-3}
    assert "inv_sr_avg" in df.columns
    page = (tmp_path / "f" / "report.html").read_text()  # the grid, not the unused single λ, is what ran
    assert "each λ of the grid" in page and "0, 0.001" in page


def test_lambda_sweep_help_names_its_figure():
    r = cli("lambda-sweep", "--help")
    assert r.returncode == 0 and "Figure 3" in r.stdout
