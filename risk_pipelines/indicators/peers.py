"""peer_divergence: a platform's category mix moving where its peers' does not.

A deployment with its own feed and the DSA dumps sees its own decisions per policy category and
every other platform's statements per category. A category whose share of one's own decisions
grows is a risk worth a look, unless the whole industry shows the same move (a taxonomy change,
a season, a regulator's campaign): what matters is the move that is one's own.

For each platform with derived ``decisions`` and each category, over the last ``window`` days
against the ``baseline_days`` before: the change of the category's share of the platform's own
decisions, minus the change of its share of the peers' DSA statements (every other platform in
the dump). Score: that difference over the binomial standard error of the own share,
``sqrt(base (1 - base) / n)``, positive when the platform's own share grows beyond the peers'
move; level from the score as for surprises. ``expected`` is the baseline share moved as the
peers moved; ``value`` the share now.

The DSA rows are dated by the dump's day (when statements were submitted), ours by the day of
the decision: over a week the two line up, which is why the window is a week, not a day.
"""

from __future__ import annotations

import math

import pandas as pd

from risk_pipelines.domain.series import series_id
from risk_pipelines.domain.taxonomy import ALL
from risk_pipelines.indicators.surprise import INDICATOR_COLUMNS, Z95, level_for

OWN_METRIC = "decisions"
PEER_METRIC = "dsa_statements"
# Too few decisions in the window make a share say nothing: a week of under this many is skipped.
MIN_OWN_DECISIONS = 70


def peer_divergence(
    metrics: pd.DataFrame, days: list, window: int = 7, baseline_days: int = 28
) -> pd.DataFrame:
    """``metrics``: daily_metrics rows reaching back ``window + baseline_days`` days."""
    own = _by_category(metrics, OWN_METRIC, source_is_dsa=False)
    peers = _by_category(metrics, PEER_METRIC, source_is_dsa=True)
    if own.empty or peers.empty:
        return pd.DataFrame(columns=INDICATOR_COLUMNS)
    rows = []
    for day in sorted(days):
        for platform in own.columns.get_level_values(0).unique():
            rows += _platform_rows(own[platform], _peers_of(peers, platform), day, window,
                                   baseline_days, platform)  # fmt: skip
    out = pd.DataFrame(rows).assign(indicator="peer_divergence") if rows else pd.DataFrame()
    for column in INDICATOR_COLUMNS:
        if column not in out:
            out[column] = None
    return out[INDICATOR_COLUMNS]


def _by_category(metrics: pd.DataFrame, metric: str, source_is_dsa: bool) -> pd.DataFrame:
    """Days x (platform, category): the metric summed over regions, every calendar day."""
    chosen = metrics[
        (metrics["metric"] == metric)
        & (metrics["policy_category"] != ALL)
        & (metrics["surface"] == ALL)
        & ((metrics["source"] == "dsa") == source_is_dsa)
    ]
    if source_is_dsa:  # the per-country series of followed platforms would count twice
        chosen = chosen[chosen["region"] == ALL]
    if chosen.empty:
        return pd.DataFrame()
    table = chosen.pivot_table(
        index="ds", columns=["platform", "policy_category"], values="value", aggfunc="sum"
    )
    table.index = pd.to_datetime(table.index)
    return table.asfreq("D").fillna(0.0)


def _peers_of(peers: pd.DataFrame, platform: str) -> pd.Series | pd.DataFrame:
    """Days x category: every other platform's statements."""
    others = peers.drop(columns=platform, level=0, errors="ignore")
    return others.T.groupby(level=1).sum().T


def _platform_rows(own, peers, day, window, baseline_days, platform) -> list[dict]:
    ts = pd.Timestamp(day)
    first_recent, first_base = (
        ts - pd.Timedelta(days=window - 1),
        ts - pd.Timedelta(days=window + baseline_days - 1),
    )
    if own.index.min() > first_base or peers.empty or peers.index.min() > first_base:
        return []  # not a full baseline yet
    before_recent = first_recent - pd.Timedelta(days=1)
    own_now, own_base = own.loc[first_recent:ts].sum(), own.loc[first_base:before_recent].sum()
    peer_now = peers.loc[first_recent:ts].sum()
    peer_base = peers.loc[first_base:before_recent].sum()
    n_now, n_base = own_now.sum(), own_base.sum()
    if n_now < MIN_OWN_DECISIONS or n_base <= 0 or peer_now.sum() <= 0 or peer_base.sum() <= 0:
        return []
    rows = []
    for category in own_now.index:
        if category not in peer_now.index:
            continue  # no peer has the category: nothing to compare with
        share, base = own_now[category] / n_now, own_base[category] / n_base
        peer_move = peer_now[category] / peer_now.sum() - peer_base[category] / peer_base.sum()
        expected = min(max(base + peer_move, 0.0), 1.0)
        sd = math.sqrt(max(base * (1 - base), 1e-9) / n_now)
        score = (share - expected) / sd
        rows.append({
            "ds": day, "unique_id": series_id(OWN_METRIC, platform, category, ALL, ALL),
            "metric": OWN_METRIC, "platform": platform, "policy_category": category,
            "region": ALL, "surface": ALL, "value": share, "expected": expected,
            "lower": max(0.0, expected - Z95 * sd), "upper": min(1.0, expected + Z95 * sd),
            "score": score, "level": level_for(score), "numerator": own_now[category],
            "denominator": n_now,
            "note": f"{share:.1%} of the last {window} days' decisions against {base:.1%} "
            f"before; peers' share moved {peer_move:+.1%}",
        })  # fmt: skip
    return rows
