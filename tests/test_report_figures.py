"""Unit tests of the report's figures and numbers against contract-shaped scan tables."""
import math

import numpy as np
import pytest

from lrscan.errors import LrscanError
from lrscan.report import figures, stats
from lrscan.report.data import as_model_frames
from report_fixtures import bert_like_scan, generic_scan

ROLES_BERT = ["Q", "K", "V", "O", "QKV", "M1", "M2"]
ROLES_GATED = ["Q", "K", "V", "O", "QKV", "M1", "M1_gate", "M2"]


@pytest.fixture
def two_models():
    bert, _ = bert_like_scan()
    llama, _ = bert_like_scan("test/llama-like", layers=4, gated=True, seed=3, bad_rows=False)
    return as_model_frames([bert, llama])


def traces_by(fig, label):
    return [t for t in fig.data if t.meta == label]


def test_rank_figure_has_two_traces_per_role_and_model_in_order(two_models):
    fig = figures.rank_norm_figure(two_models)
    assert len(fig.data) == 2 * len(ROLES_BERT) + 2 * len(ROLES_GATED)
    assert [t.name for t in traces_by(fig, "test/bert-like-6")] == [r for r in ROLES_BERT for _ in (0, 1)]
    assert [t.name for t in traces_by(fig, "test/llama-like")] == [r for r in ROLES_GATED for _ in (0, 1)]
    # first model's panels are row 1 (x/y, x2/y2), the second's row 2 (x3/y3, x4/y4)
    assert {(t.xaxis, t.yaxis) for t in traces_by(fig, "test/bert-like-6")} == {("x", "y"), ("x2", "y2")}
    assert {(t.xaxis, t.yaxis) for t in traces_by(fig, "test/llama-like")} == {("x3", "y3"), ("x4", "y4")}


def test_one_colour_and_legend_entry_per_role(two_models):
    fig = figures.rank_norm_figure(two_models)
    colours: dict[str, set] = {}
    for t in fig.data:
        colours.setdefault(t.name, set()).add(t.line.color)
        assert t.legendgroup == t.name
    assert all(len(c) == 1 for c in colours.values())
    assert len({next(iter(c)) for c in colours.values()}) == len(colours)  # roles differ in colour
    shown = [t.name for t in fig.data if t.showlegend]
    assert sorted(shown) == sorted(ROLES_GATED)  # every role once in the legend


def test_axis_titles_say_what_is_plotted(two_models):
    fig = figures.rank_norm_figure(two_models)
    for i in (1, 3):
        assert fig.layout[f"yaxis{'' if i == 1 else i}"].title.text == "stable rank ‖W‖_F / ‖W‖₂"
        assert fig.layout[f"yaxis{i + 1}"].title.text == "Frobenius norm ‖W‖_F"
    for i in (1, 2, 3, 4):
        assert fig.layout[f"xaxis{'' if i == 1 else i}"].title.text == "layer (block index)"
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["test/bert-like-6: stable rank", "test/bert-like-6: Frobenius norm",
                      "test/llama-like: stable rank", "test/llama-like: Frobenius norm"]


def test_trace_values_equal_the_scan_table_including_nan_rows(two_models):
    fig = figures.rank_norm_figure(two_models)
    for t in fig.data:
        f = two_models[t.meta]
        rows = f[f["role"] == t.name].sort_values("layer")
        column = "stable_rank" if t.yaxis in ("y", "y3") else "frobenius"
        np.testing.assert_array_equal(np.asarray(t.x), rows["layer"].to_numpy())
        np.testing.assert_array_equal(np.asarray(t.y, dtype=float), rows[column].to_numpy())
        # hover data: role, shape, exact norms and the stable rank relative to min(rows, cols)
        cd = np.asarray(t.customdata, dtype=object)
        assert list(cd[:, 0]) == [t.name] * len(rows)
        np.testing.assert_array_equal(cd[:, 4].astype(float), rows["spectral_norm"].to_numpy())
        np.testing.assert_allclose(cd[:, 6].astype(float),
                                   rows["stable_rank"].to_numpy() / np.minimum(rows["rows"], rows["cols"]))
    bert_v_sr = next(t for t in fig.data if t.meta == "test/bert-like-6" and t.name == "V" and t.yaxis == "y")
    assert math.isnan(bert_v_sr.y[2]) and not math.isnan(bert_v_sr.y[1])  # the nonfinite row is a gap


def test_shared_y_links_every_models_panels():
    frames = as_model_frames([bert_like_scan()[0], bert_like_scan("b", seed=5)[0], bert_like_scan("c", seed=6)[0]])
    fig = figures.rank_norm_figure(frames, shared_y=True)
    assert [fig.layout[f"yaxis{i}"].matches for i in (3, 5)] == ["y", "y"]
    assert [fig.layout[f"yaxis{i}"].matches for i in (4, 6)] == ["y2", "y2"]
    assert figures.rank_norm_figure(frames).layout.yaxis3.matches is None


def test_log_toggle_switches_every_y_axis(two_models):
    fig = figures.rank_norm_figure(two_models)
    (menu,) = fig.layout.updatemenus
    labels = [b.label for b in menu.buttons]
    assert labels == ["linear y", "log y"]
    log_args = menu.buttons[1].args[0]
    assert {k for k in log_args if k.endswith(".type")} == {"yaxis.type", "yaxis2.type", "yaxis3.type", "yaxis4.type"}
    assert set(v for k, v in log_args.items() if k.endswith(".type")) == {"log"}


def test_norm_ratios_are_frobenius_over_qkv(two_models):
    fig = figures.norm_ratio_figure(two_models)
    assert len(fig.data) == 3 * 2
    assert fig.layout.yaxis.title.text == "‖W‖_F / ‖QKV‖_F"
    assert any(s.y0 == 1 and s.y1 == 1 for s in fig.layout.shapes)  # 1 is marked
    f = two_models["test/llama-like"]
    fro = f.pivot(index="layer", columns="role", values="frobenius")
    for t in fig.data[3:]:
        role = {"‖M1‖_F / ‖QKV‖_F": "M1", "‖M2‖_F / ‖QKV‖_F": "M2", "‖O‖_F / ‖QKV‖_F": "O"}[t.name]
        np.testing.assert_allclose(np.asarray(t.y, dtype=float), (fro[role] / fro["QKV"]).to_numpy())


def test_qkv_norm_falls_back_to_q_k_v_when_no_qkv_row():
    f, _ = bert_like_scan(bad_rows=False)
    full = stats.qkv_frobenius(f)
    without = stats.qkv_frobenius(f[f["role"] != "QKV"])
    # ||[Q; K; V]||_F² = ||Q||² + ||K||² + ||V||², checked on the spectra behind the fixture
    np.testing.assert_allclose(without.to_numpy(), full.to_numpy(), rtol=1e-12)


def test_generic_scan_plots_markers_and_has_no_ratio_panel():
    frames = as_model_frames([generic_scan()[0]])
    fig = figures.rank_norm_figure(frames)
    assert [t.name for t in fig.data] == ["other", "other"]
    assert all(t.mode == "markers" for t in fig.data)  # several matrices per layer: no line through them
    assert -1 in list(fig.data[0].x)
    assert figures.norm_ratio_figure(frames) is None


def test_summary_statistics_per_role():
    f, _ = bert_like_scan()
    s = stats.role_summary(as_model_frames([f]))
    assert list(s["role"]) == ROLES_BERT
    v = s.set_index("role").loc["V"]
    finite = f[(f["role"] == "V") & (f["status"] == "ok")]["stable_rank"].to_numpy()
    assert len(finite) == 5 and v["not ok"] == 1 and v["matrices"] == 6
    assert v["stable rank median"] == pytest.approx(np.median(finite))
    assert v["min"] == pytest.approx(finite.min()) and v["max"] == pytest.approx(finite.max())
    assert v["harmonic mean (Lemma 4)"] == pytest.approx(len(finite) / np.sum(1 / finite))
    assert v["shape"] == "96×96"


def test_harmonic_mean_is_inverse_of_mean_inverse_stable_rank():
    assert stats.harmonic_mean([1, 2, 4]) == pytest.approx(3 / (1 + 0.5 + 0.25))
    assert stats.harmonic_mean([2, float("nan"), 2]) == 2
    assert math.isnan(stats.harmonic_mean([float("nan")]))


def test_model_facts_come_from_the_manifest():
    _, m = bert_like_scan()
    facts = stats.model_facts(["test/bert-like-6", "missing"], {"test/bert-like-6": m})
    row = facts.iloc[0]
    assert (row["number of layers"], row["model dimension"], row["FF dimension"]) == (6, 96, 384)
    assert facts.iloc[1].isna()[["number of layers", "model dimension", "FF dimension"]].all()


def test_frames_missing_contract_columns_are_refused():
    f, _ = bert_like_scan()
    with pytest.raises(LrscanError, match="missing column.*stable_rank"):
        as_model_frames([f.drop(columns=["stable_rank"])])


def test_dict_labels_and_order_are_kept():
    a, _ = bert_like_scan("same/model")
    b, _ = bert_like_scan("same/model", seed=9)
    frames = as_model_frames({"second": b, "first": a})
    assert list(frames) == ["second", "first"]
    with pytest.raises(LrscanError, match="given twice"):
        as_model_frames([a, b])


def test_print_copy_drops_buttons_and_has_opaque_background(two_models):
    fig = figures.rank_norm_figure(two_models)
    printable = figures.for_print(fig)
    assert printable.layout.updatemenus == () and printable.layout.paper_bgcolor == "white"
    assert fig.layout.updatemenus  # the page's figure keeps its buttons
    assert len(printable.data) == len(fig.data)
