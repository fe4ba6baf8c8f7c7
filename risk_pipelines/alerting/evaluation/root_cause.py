"""Which sub-dimensions explain an alert's deviation (regions, surfaces, categories), with
their shares, so leadership reads "DE explains 71 %" rather than only "reports are up".

Each candidate contributes its deviation from its own baseline in the alert's direction: the
forecast (``expected``) where the finer series has one, else the same weekday a week before.
For a rate, the deviation is weighed by its denominator (the excess numerator), so a tiny
market with a wild rate does not outrank a large one. Shares are per dimension and add up to
one across the contributors moving in the alert's direction.
"""

from __future__ import annotations

import pandas as pd

FINER_DIMENSIONS = ("region", "policy_category", "surface")


def finer_series(today: pd.DataFrame, dims: dict[str, str]) -> pd.DataFrame:
    """Rows of ``today`` (indicator rows of one day) that split the alert's series along one
    dimension it aggregates (``all``) and agree with it on every other dimension."""
    if today.empty:
        return today.assign(dimension=pd.Series(dtype=str))
    same = (today["metric"] == dims.get("metric")) & (today["platform"] == dims.get("platform"))
    if "indicator" in today:
        same &= today["indicator"] == today["metric"]
    frames = []
    for dimension in FINER_DIMENSIONS:
        if dims.get(dimension) != "all":
            continue
        mask = same & (today[dimension] != "all")
        for other in FINER_DIMENSIONS:
            if other != dimension:
                mask &= today[other] == dims.get(other)
        frames.append(today[mask].assign(dimension=dimension))
    return pd.concat(frames, ignore_index=True) if frames else today.iloc[0:0].assign(dimension="")


def top_contributors(
    candidates: pd.DataFrame, direction: str, limit: int = 3, rate: bool = False
) -> list[dict]:
    """``candidates``: dimension, value (the sub-dimension's own key), actual, baseline and,
    for rates, weight (the denominator). Returns at most ``limit`` per dimension."""
    if candidates.empty:
        return []
    frame = candidates.dropna(subset=["actual", "baseline"]).copy()
    frame["deviation"] = frame["actual"] - frame["baseline"]
    if rate:
        frame["deviation"] *= frame["weight"].fillna(0)
    if direction == "down":
        frame["deviation"] = -frame["deviation"]
    frame = frame[frame["deviation"] > 0]
    out = []
    for dimension, group in frame.groupby("dimension", sort=True):
        total = group["deviation"].sum()
        for row in group.nlargest(limit, "deviation").to_dict("records"):
            out.append(
                {
                    "dimension": dimension,
                    "value": row["value"],
                    "share": round(float(row["deviation"] / total), 3),
                    "actual": round(float(row["actual"]), 4),
                    "baseline": round(float(row["baseline"]), 4),
                }
            )
    return out


def candidates_from_indicators(
    finer: pd.DataFrame, week_before: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Candidate frame from finer indicator rows: the forecast as baseline, else the value of
    the same series a week before (``week_before``: indicator rows of that day)."""
    if finer.empty:
        return pd.DataFrame(columns=["dimension", "value", "actual", "baseline", "weight"])
    baseline = finer["expected"].astype(float)
    if week_before is not None and not week_before.empty:
        # The series' own rows only: derived indicators (week over week, ...) share its key.
        if "indicator" in week_before:
            week_before = week_before[week_before["indicator"] == week_before["metric"]]
        earlier = week_before.drop_duplicates("unique_id", keep="last").set_index("unique_id")
        earlier = earlier["value"]
        baseline = baseline.fillna(finer["unique_id"].map(earlier).astype(float))
    return pd.DataFrame(
        {
            "dimension": finer["dimension"],
            "value": [row[row["dimension"]] for row in finer.to_dict("records")],
            "actual": finer["value"].astype(float),
            "baseline": baseline,
            "weight": finer["denominator"].astype(float),
        }
    )
