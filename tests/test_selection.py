"""Weekly model selection picks, per series, the model that backtested best."""

import numpy as np
import pandas as pd

from risk_pipelines.forecasting.selection import select_models


def scores(rows):
    return pd.DataFrame(rows, columns=["unique_id", "model", "cutoff", "mase", "winkler_95"])


def test_the_lowest_mean_mase_over_the_windows_wins():
    table = scores([
        ("a", "ets", 1, 0.8, 90), ("a", "ets", 2, 1.0, 95),
        ("a", "seasonal_naive", 1, 1.1, 80), ("a", "seasonal_naive", 2, 1.3, 85),
    ])  # fmt: skip
    (choice,) = select_models(table).to_dict("records")
    assert choice["model"] == "ets" and choice["mase"] == 0.9
    assert choice["reason"] == "lowest mean MASE 0.900"


def test_a_near_tie_goes_to_the_model_with_the_better_interval_score():
    table = scores([("b", "ets", 1, 1.00, 120), ("b", "seasonal_naive", 1, 1.01, 70)])
    (choice,) = select_models(table).to_dict("records")
    assert choice["model"] == "seasonal_naive" and "narrowest honest band" in choice["reason"]


def test_a_series_no_model_could_score_keeps_the_default():
    table = scores([("c", "ets", 1, np.nan, np.nan)])
    (choice,) = select_models(table, default="ets").to_dict("records")
    assert choice["model"] == "ets" and choice["reason"].startswith("no model could be")


def test_a_costly_model_must_beat_the_best_cheap_one_by_the_cost_margin():
    slightly = scores([("d", "prophet", 1, 0.97, 90), ("d", "ets", 1, 1.00, 95)])
    (choice,) = select_models(slightly, cost_margin=0.05).to_dict("records")
    assert choice["model"] == "ets"
    assert "prophet MASE 0.970 is only 3.0% better than ets" in choice["reason"]
    clearly = scores([("e", "prophet", 1, 0.80, 90), ("e", "ets", 1, 1.00, 95)])
    (choice,) = select_models(clearly, cost_margin=0.05).to_dict("records")
    assert choice["model"] == "prophet" and choice["reason"] == "lowest mean MASE 0.800"


def test_only_models_scored_at_every_cutoff_compete():
    # Prophet was raced out after the newest window: its one good score is not a mean.
    table = scores([
        ("f", "prophet", 3, 0.50, 60),
        ("f", "ets", 1, 1.00, 95), ("f", "ets", 2, 1.00, 95), ("f", "ets", 3, 1.00, 95),
    ])  # fmt: skip
    (choice,) = select_models(table).to_dict("records")
    assert choice["model"] == "ets"
