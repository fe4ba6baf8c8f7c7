"""Per-series model selection from backtest scores (the weekly job; daily runs reuse it).

The model with the lowest mean MASE over the backtest windows wins; the 95 % Winkler score
breaks near-ties (within ``tie``), so of two equally accurate models the one with the more
honest band is kept. A series no model could be scored on keeps the default.
"""

from __future__ import annotations

import pandas as pd


def select_models(scores: pd.DataFrame, default: str = "ets", tie: float = 0.02) -> pd.DataFrame:
    """One row per series: ``model``, its mean ``mase`` and ``winkler_95``, and ``reason``."""
    summary = (
        scores.groupby(["unique_id", "model"], sort=True)[["mase", "winkler_95"]]
        .mean()
        .reset_index()
    )
    rows = []
    for uid, group in summary.groupby("unique_id", sort=True):
        scored = group.dropna(subset=["mase"])
        if scored.empty:
            rows.append({"unique_id": uid, "model": default, "mase": None, "winkler_95": None,
                         "reason": "no model could be backtested: default kept"})  # fmt: skip
            continue
        best_mase = scored["mase"].min()
        close = scored[scored["mase"] <= best_mase * (1 + tie)]
        winner = close.sort_values(["winkler_95", "mase"]).iloc[0]
        reason = (
            f"lowest mean MASE {winner['mase']:.3f}"
            if len(close) == 1
            else f"MASE within {tie:.0%} of the best; narrowest honest band "
            f"(Winkler {winner['winkler_95']:.1f})"
        )
        rows.append({"unique_id": uid, "model": winner["model"], "mase": winner["mase"],
                     "winkler_95": winner["winkler_95"], "reason": reason})  # fmt: skip
    return pd.DataFrame(rows)
