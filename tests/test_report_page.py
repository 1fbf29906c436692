"""The report page file and the `lrscan report` command (no browser: see test_report_browser.py)."""
import re
import subprocess
import sys

import pandas as pd
import pytest

from lrscan.errors import LrscanError
from lrscan.report import render, render_scan_dirs, write_page
from lrscan.report.scan_report import load_scan_dirs
from report_fixtures import bert_like_scan, generic_scan, write_scan_dir

PLOTLY_BANNER = re.compile(r"\* plotly\.js v\d")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "lrscan", *args], capture_output=True, text=True)


@pytest.fixture
def scan_dirs(tmp_path):
    bert = write_scan_dir(tmp_path / "bert", *bert_like_scan())
    llama = write_scan_dir(tmp_path / "llama", *bert_like_scan("test/llama-like", layers=4, gated=True, seed=3,
                                                                bad_rows=False))
    return [bert, llama]


def test_page_is_one_file_with_plotly_inline_once_and_no_remote_resource(tmp_path, scan_dirs):
    out = render_scan_dirs(scan_dirs, tmp_path / "r.html")
    html = out.read_text(encoding="utf-8")
    assert len(PLOTLY_BANNER.findall(html)) == 1  # plotly.js embedded once, for both figures
    assert html.count('class="plotly-graph-div"') == 2
    assert not re.search(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)=""", html)  # nothing loaded from outside
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["r.html"]  # no temp file left behind


def test_header_shows_manifest_facts_and_collapsible_skipped_list(tmp_path, scan_dirs):
    html = render_scan_dirs(scan_dirs[:1], tmp_path / "r.html").read_text(encoding="utf-8")
    for text in ("test/bert-like-6", "abc123", "0.1.0", "2026-03-01 10:00 UTC", "fp32", "7.25 s"):
        assert text in html
    details = re.search(r'<details class="skipped">(.*?)</details>', html, re.S).group(1)
    assert "2 skipped tensors" in details
    assert "embeddings.word_embeddings.weight" in details and "pooler.dense.weight" in details
    not_ok = re.search(r'<details class="not-ok">(.*?)</details>', html, re.S).group(1)
    assert "layer 2 V: nonfinite" in not_ok and "layer 4 O: zero" in not_ok


def test_summary_and_table1_facts_are_on_the_page(tmp_path, scan_dirs):
    html = render_scan_dirs(scan_dirs, tmp_path / "r.html").read_text(encoding="utf-8")
    tables = [[re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S) for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", t, re.S)]
              for t in re.findall(r'<table[^>]*class="[^"]*table[^"]*"[^>]*>(.*?)</table>', html, re.S)]
    summary = next(t for t in tables if "harmonic mean (Lemma 4)" in t[0])
    assert summary[0][:2] == ["model", "role"]
    assert [r[:2] for r in summary[1:]] == [["test/bert-like-6", r] for r in ("Q", "K", "V", "O", "QKV", "M1", "M2")] \
        + [["test/llama-like", r] for r in ("Q", "K", "V", "O", "QKV", "M1", "M1_gate", "M2")]
    facts = next(t for t in tables if "FF dimension" in t[0])
    cols = [facts[0].index(c) for c in ("model", "number of layers", "model dimension", "FF dimension")]
    assert [[r[c] for c in cols] for r in facts[1:]] == [["test/bert-like-6", "6", "96", "384"],
                                                        ["test/llama-like", "4", "96", "384"]]


def test_model_names_are_escaped(tmp_path):
    f, m = bert_like_scan("<script>alert(1)</script>", layers=2)
    html = render({"<b>label</b>": f}, tmp_path / "r.html", manifests=[m]).read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html and "<b>label</b>" not in html
    assert "&lt;b&gt;label&lt;/b&gt;" in html


def test_render_accepts_a_list_of_frames_and_keeps_their_order(tmp_path):
    a, ma = bert_like_scan("m/a", layers=3)
    b, mb = generic_scan("m/b")
    html = render([b, a], tmp_path / "r.html", manifests=[mb, ma], title="Two").read_text(encoding="utf-8")
    assert html.index("<h3>m/b</h3>") < html.index("<h3>m/a</h3>")
    assert "<title>Two</title>" in html
    assert "Not shown (no QKV" in html and "m/b." in html  # the generic scan has no norm-ratio panel


def test_scan_dirs_read_parquet_when_there_is_no_csv(tmp_path):
    f, m = bert_like_scan(layers=2)
    d = write_scan_dir(tmp_path / "s", f, m)
    (d / "scan.csv").unlink()
    f.to_parquet(d / "scan.parquet")
    frames, manifests = load_scan_dirs([d])
    pd.testing.assert_series_equal(frames["test/bert-like-6"]["frobenius"], f["frobenius"], check_names=False)
    assert manifests["test/bert-like-6"]["config_facts"]["num_layers"] == 2


def test_the_same_model_twice_is_labelled_by_folder(tmp_path):
    d1 = write_scan_dir(tmp_path / "fp32", *bert_like_scan(layers=2))
    d2 = write_scan_dir(tmp_path / "fp64", *bert_like_scan(layers=2, seed=4))
    frames, _ = load_scan_dirs([d1, d2])
    assert list(frames) == ["test/bert-like-6", "test/bert-like-6 (fp64)"]


def test_missing_or_broken_scan_folders_are_one_line_errors(tmp_path):
    with pytest.raises(LrscanError, match="no scan.csv"):
        load_scan_dirs([tmp_path])
    d = write_scan_dir(tmp_path / "s", *bert_like_scan(layers=2))
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(LrscanError, match="manifest.json: not valid JSON"):
        load_scan_dirs([d])


def test_write_page_keeps_its_contract(tmp_path):
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    out = write_page(tmp_path / "p.html", "T", {"k": "v"},
                     [("Fig", fig), ("Table", pd.DataFrame({"a": [1.5]})), ("Html", "<p id=x>hi</p>")])
    html = out.read_text(encoding="utf-8")
    assert len(PLOTLY_BANNER.findall(html)) == 1 and "<p id=x>hi</p>" in html and "<dt>k</dt><dd>v</dd>" in html


def test_cli_writes_the_report(tmp_path, scan_dirs):
    out = tmp_path / "compare.html"
    r = run_cli("report", *map(str, scan_dirs), "-o", str(out), "--shared-y")
    assert r.returncode == 0, r.stderr
    assert out.is_file() and f"wrote {out}" in r.stdout and "2 models" in r.stdout
    assert '"matches":"y"' in out.read_text(encoding="utf-8").replace(" ", "")  # --shared-y reached the figure


def test_cli_folder_without_scan_csv_is_a_one_line_error(tmp_path, scan_dirs):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "x.html"
    r = run_cli("report", str(scan_dirs[0]), str(empty), "-o", str(out))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"lrscan: error: {empty}: no scan.csv (is this the --out folder of "
                                             "`lrscan model`?)"]
    assert not out.exists()


def test_cli_needs_at_least_one_folder_and_an_output(tmp_path):
    assert run_cli("report", "-o", str(tmp_path / "x.html")).returncode == 2
    assert run_cli("report", str(tmp_path)).returncode == 2
