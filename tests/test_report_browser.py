"""The report in a real headless Chromium (Debian's; `make browser` installs it), network off.

If Chromium is missing these tests FAIL: a report that was never opened in a browser is not tested.
"""
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from lrscan.errors import LrscanError
from lrscan.report import render
from lrscan.report.browser import find_chromium
from report_browser import HeadlessChromium
from report_fixtures import bert_like_scan, generic_scan, write_scan_dir

pytestmark = pytest.mark.browser

PLOTS_READY = ("(() => { const g = Array.from(document.querySelectorAll('.js-plotly-plot'));"
               " return g.length > 0 && g.every(d => d._fullLayout && d.querySelector('.scatterlayer')); })()")
# rank/norm figure: 2 panels x (7 BERT roles + 8 gated roles + 1 generic) ; ratio figure: 3 ratios x 2 models
RANK_TRACES, RATIO_TRACES = 2 * (7 + 8 + 1), 3 * 2


def png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def chromium_path():
    try:
        return find_chromium()
    except LrscanError as e:
        pytest.fail(f"the browser test needs a headless Chromium: {e}. `make browser` installs Debian's.")


@pytest.fixture(scope="module")
def browser(chromium_path, tmp_path_factory):
    d = tmp_path_factory.mktemp("chromium")
    with HeadlessChromium(chromium_path, d / "profile", d / "chromium.log") as b:
        yield b


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    frames = [bert_like_scan()[0],
              bert_like_scan("test/llama-like", layers=4, gated=True, seed=3, bad_rows=False)[0],
              generic_scan()[0]]
    manifests = [bert_like_scan()[1], bert_like_scan("test/llama-like", layers=4, gated=True, seed=3,
                                                     bad_rows=False)[1], generic_scan()[1]]
    return render(frames, tmp_path_factory.mktemp("report") / "report.html", manifests=manifests)


def open_report(browser, report, dark=False):
    page = browser.open_page(width=1400, height=1000)
    if dark:
        page.send("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    page.goto(report.as_uri())
    page.wait_js(PLOTS_READY, "the plots to render")
    return page


def test_report_loads_offline_with_no_console_error_and_every_trace_drawn(browser, report, tmp_path):
    page = open_report(browser, report)
    counts = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot')).map(g => g.data.length)")
    assert counts == [RANK_TRACES, RATIO_TRACES]
    # traces actually drawn as SVG, not only present in the data
    drawn = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                          ".map(g => g.querySelectorAll('.scatterlayer .trace').length)")
    assert drawn == [RANK_TRACES, RATIO_TRACES]
    legend = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot')[0]"
                           ".querySelectorAll('.legend .traces')).map(e => e.textContent)")
    assert legend == ["Q", "K", "V", "O", "QKV", "M1", "M1_gate", "M2", "other"]
    assert page.console_errors() == []
    assert [u for u in page.requests if not u.startswith(("file:", "data:", "blob:"))] == []
    shot = page.screenshot(tmp_path / "report.png")
    width, height = png_size(shot)
    assert width == 1400 and height > 2000  # the whole page, not just the viewport


def test_dark_page_draws_plot_text_in_the_page_colour(browser, report, tmp_path):
    page = open_report(browser, report, dark=True)
    colours = page.evaluate("""(() => {
        const g = document.querySelector('.js-plotly-plot');
        const fill = sel => getComputedStyle(g.querySelector(sel)).fill;
        return {body: getComputedStyle(document.body).backgroundColor, text: getComputedStyle(document.body).color,
                ytitle: fill('.g-ytitle text'), tick: fill('.xtick text'), legend: fill('.legendtext'),
                button: fill('.updatemenu-item-text'),
                buttonFace: getComputedStyle(g.querySelector('.updatemenu-item-rect')).fill}; })()""")
    assert colours["body"] == "rgb(22, 22, 22)"
    assert colours["button"] == "rgb(27, 27, 27)" and colours["buttonFace"] != colours["button"]
    assert colours["ytitle"] == colours["tick"] == colours["legend"] == colours["text"] == "rgb(232, 232, 232)"
    assert page.console_errors() == []
    png_size(page.screenshot(tmp_path / "report-dark.png"))


def _click_element(page, js_element: str) -> None:
    rect = page.evaluate(f"(() => {{ const e = {js_element}; e.scrollIntoView({{block: 'center'}});"
                         " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    page.click(*rect)


def test_legend_click_hides_a_role_in_every_model_row(browser, report):
    page = open_report(browser, report)
    _click_element(page, "Array.from(document.querySelectorAll('.js-plotly-plot')[0].querySelectorAll("
                         "'.legend .traces')).find(e => e.textContent === 'QKV')")
    page.wait_js("document.querySelectorAll('.js-plotly-plot')[0].querySelectorAll('.scatterlayer .trace').length"
                 f" === {RANK_TRACES - 4}", "QKV's 4 traces (2 models x 2 panels) to be hidden")
    hidden = page.evaluate("document.querySelectorAll('.js-plotly-plot')[0].data"
                           ".filter(t => t.visible === 'legendonly').map(t => t.name + '@' + t.meta)")
    assert sorted(hidden) == sorted(["QKV@test/bert-like-6"] * 2 + ["QKV@test/llama-like"] * 2)


def test_log_button_switches_every_y_axis(browser, report):
    page = open_report(browser, report)
    _click_element(page, "Array.from(document.querySelectorAll('.js-plotly-plot')[0].querySelectorAll("
                         "'.updatemenu-button')).find(e => e.textContent === 'log y')")
    page.wait_js("(() => { const l = document.querySelectorAll('.js-plotly-plot')[0]._fullLayout;"
                 " return Object.keys(l).filter(k => /^yaxis\\d*$/.test(k)).every(k => l[k].type === 'log'); })()",
                 "every y axis of the rank/norm figure to be logarithmic")
    assert page.console_errors() == []


def test_the_checks_can_fail_console_errors_and_network_requests_are_seen(browser, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><img src='http://example.invalid/x.png'>"
                   "<script>console.error('boom'); undefinedFunction();</script></body></html>")
    page = browser.open_page()
    page.goto(bad.as_uri())
    errors = page.console_errors()
    assert any("boom" in e for e in errors) and any("undefinedFunction" in e for e in errors)
    assert "http://example.invalid/x.png" in page.requests


def test_png_and_svg_export_offline_from_the_cli(chromium_path, tmp_path):
    d1 = write_scan_dir(tmp_path / "bert", *bert_like_scan())
    d2 = write_scan_dir(tmp_path / "llama", *bert_like_scan("test/llama-like", layers=4, gated=True, seed=3,
                                                            bad_rows=False))
    out = tmp_path / "out" / "compare.html"
    r = subprocess.run([sys.executable, "-m", "lrscan", "report", str(d1), str(d2), "-o", str(out), "--png", "--svg"],
                       capture_output=True, text=True, env={"LRSCAN_CHROMIUM": chromium_path, "PATH": "/usr/bin:/bin",
                                                            "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in out.parent.iterdir())
    assert names == ["compare-norm-ratios.png", "compare-norm-ratios.svg", "compare-ranks.png", "compare-ranks.svg",
                     "compare.html"]
    width, height = png_size(out.parent / "compare-ranks.png")
    assert width == 2 * 1100 and height > 2 * 500  # 2x scale for print
    svg = ET.parse(out.parent / "compare-ranks.svg").getroot()
    assert svg.tag.endswith("svg")
    texts = [t.text or "" for t in svg.iter() if t.tag.endswith("text")]
    assert "stable rank ‖W‖_F / ‖W‖₂" in texts and "Frobenius norm ‖W‖_F" in texts
    assert "linear y" not in texts  # no buttons in the paper figure
    traces = [e for e in svg.iter() if {"trace", "scatter"} <= set((e.get("class") or "").split())]
    assert len(traces) == 2 * (7 + 8)  # every trace drawn: 2 panels x roles of both models
    assert re.search(r"wrote .*compare-ranks\.png", r.stdout)


def test_hover_shows_shape_exact_values_and_spectral_norm(browser, report):
    page = open_report(browser, report)
    text = page.evaluate("""(() => { const g = document.querySelectorAll('.js-plotly-plot')[0];
        Plotly.Fx.hover(g, [{curveNumber: 0, pointNumber: 1}], 'xy');
        return g.querySelector('.hoverlayer .hovertext').textContent; })()""")
    bert, _ = bert_like_scan()
    q1 = bert[(bert["role"] == "Q") & (bert["layer"] == 1)].iloc[0]
    assert "Q · layer 1" in text and "shape 96 × 96" in text
    assert f"‖W‖₂ (spectral norm) = {q1['spectral_norm']:.8g}" in text
    assert f"stable rank ‖W‖_F/‖W‖₂ = {q1['stable_rank']:.8g}" in text
    assert f"stable rank / min(rows, cols) = {q1['stable_rank'] / 96:.4g}" in text
    assert "test/bert-like-6" in text and "%{" not in text
