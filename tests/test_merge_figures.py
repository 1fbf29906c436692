"""merge-exp figures: what a reader sees must not be an artefact of the plotting."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lrscan.merge import figures


def test_log_axis_band_stays_positive_where_sd_exceeds_the_mean():
    fig = go.Figure()
    mean, sd = np.array([0.5, 0.01, 0.004]), np.array([0.1, 0.03, 0.001])  # middle point: one seed's poor merge
    figures.band(fig, [1, 10, 100], mean, sd, "merged", "#1f77b4", log_y=True)
    edge = np.asarray(fig.data[0].y, float)
    upper, lower = edge[:3], edge[3:][::-1]
    np.testing.assert_allclose(upper, mean + sd)
    np.testing.assert_allclose(lower, [0.4, figures.LOG_BAND_FLOOR * 0.01, 0.003])
    assert (lower > 0).all()
    lin = go.Figure()
    figures.band(lin, [1, 10, 100], mean, sd, "merged", "#1f77b4")  # linear axes keep mean - sd as it is
    np.testing.assert_allclose(np.asarray(lin.data[0].y, float)[3:][::-1], mean - sd)


def test_stable_rank_axes_start_at_zero_so_a_rank_one_layer_is_a_flat_line():
    rows = [{"step": st, "seed": s, "condition": "different", "weight_decay": 1e-3, "task": 1, "model": m,
             "sr_1": 2.0 + s, "sr_2": 1.0 + 1e-12 * (-1) ** (st + s)}
            for st in (1, 10, 100) for s in (0, 1) for m in ("A", "B", "merged")]
    fig = figures.stable_ranks(pd.DataFrame(rows), 1e-3, "different", ["4x3", "1x4"], "t")
    assert fig.layout.yaxis.rangemode == "tozero" and fig.layout.yaxis2.rangemode == "tozero"
