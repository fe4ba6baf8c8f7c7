"""What a series goes through before any model sees it.

- Missing days stay missing (NaN), never zero: a gap in delivery is not a quiet day.
- Known incident days (an outage, a bot attack already written up) are masked as missing, so
  the day that is already explained does not teach the model a false spike.
- After a level shift (a policy or taxonomy change, a new detection model) the history before
  the shift describes a different series: it is trimmed, so the old level neither drags the
  forecast nor widens the band. Only a shift with at least ``min_after`` days behind it is
  trimmed; a younger one is left to the model's own adaptation. A step the series also took a
  year before is its yearly season and is kept.
- A count series with a median of a few events a day is flagged low-volume: the weekly models
  fall back to the recent level (``RecentLevel``), with the reason stated.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_pipelines.forecasting import transforms

SEASON = 7
LOW_VOLUME_MEDIAN = 5.0  # events a day, over the last eight weeks
# A shift must move the weekly mean by at least this much on the transformed scale
# (0.3 on the log scale is about +35 % / -26 %) ...
MIN_SHIFT = 0.3
# ... and happen mostly within one week: a trend moves every week a little, a shift one week
# a lot. This is the share of the total move that the week of the shift must carry.
MIN_STEP_SHARE = 0.5
BLOCKS_BEFORE = 8
# A step that the series also took a year before (52 weeks, judged on the 4 weeks after it)
# is its season and is not trimmed.
YEAR_WEEKS = 52
BLOCKS_AFTER_A_YEAR_BEFORE = 4


@dataclass
class PreparedSeries:
    index: pd.DatetimeIndex  # every day from the (possibly trimmed) start to the last day
    values: np.ndarray  # original scale, NaN for missing or masked days
    z: np.ndarray  # transformed scale, NaN likewise
    notes: list[str]
    low_volume: str = ""  # the reason, when the series is low-volume


def prepare_series(
    ds: np.ndarray,
    y: np.ndarray,
    kind: str,
    last: pd.Timestamp,
    excluded_days: Iterable = (),
    min_after: int = 28,
    keep_from: pd.Timestamp | None = None,
) -> PreparedSeries:
    """Daily grid to ``last``, masked incident days, level-shift trim and the low-volume flag.

    ``keep_from`` bounds the trim: a backfilled range still needs the days from which its
    earliest one-step forecast is made."""
    observed = pd.Series(y, index=pd.DatetimeIndex(ds)).sort_index()
    observed = observed[~observed.index.duplicated(keep="last")].dropna()
    index = pd.date_range(observed.index.min(), last, freq="D")
    values = observed.reindex(index).to_numpy(dtype=float, copy=True)
    notes = []
    masked = index.isin(pd.DatetimeIndex(list(excluded_days))) & ~np.isnan(values)
    if masked.any():
        values[masked] = np.nan
        notes.append(f"{int(masked.sum())} known incident day(s) left out")
    z = transforms.forward(values, kind)
    z[np.isnan(values)] = np.nan
    shift = level_shift_start(z, min_after)
    if shift is not None:
        start, size = shift
        if keep_from is not None:
            start = min(start, max(0, int(index.searchsorted(keep_from))))
        notes.append(
            f"level shift on {index[shift[0]].date()} ({size:+.2f} on the "
            f"{'logit' if kind == 'rate' else 'log'} scale): history from {index[start].date()}"
        )
        index, values, z = index[start:], values[start:], z[start:]
    low = ""
    if kind == "count":
        recent = values[-56:]
        recent = recent[np.isfinite(recent)]
        if len(recent) and np.median(recent) < LOW_VOLUME_MEDIAN:
            low = (
                f"low volume: median {np.median(recent):g} a day over the last "
                f"{len(recent)} days (< {LOW_VOLUME_MEDIAN:g}), so the recent level is "
                "forecast without a weekly pattern"
            )
    return PreparedSeries(index, values, z, notes, low)


def level_shift_start(z: np.ndarray, min_after: int = 28) -> tuple[int, float] | None:
    """The day the newest sustained level shift began, and its size, or None.

    Works on weekly means counted back from the last day (which removes the weekly pattern).
    A week k starts a shift when every week from k on lies on one side of all of the
    ``BLOCKS_BEFORE`` weeks before it, their medians differ by at least ``MIN_SHIFT``, and the
    step into week k carries at least ``MIN_STEP_SHARE`` of that difference. The exact day is
    then the split, within a week either side, that best separates the 7-day means.
    """
    n = len(z)
    n_blocks = n // SEASON
    after_min_blocks = max(1, min_after // SEASON)
    if n_blocks < BLOCKS_BEFORE + after_min_blocks:
        return None
    head = n - n_blocks * SEASON
    with _nan_quiet():
        weekly = np.nanmean(z[head:].reshape(n_blocks, SEASON), axis=1)
        # Separation first, for every k at once: all weeks from k on vs the 8 weeks before k.
        after_min = np.fmin.accumulate(weekly[::-1])[::-1]
        after_max = np.fmax.accumulate(weekly[::-1])[::-1]
        windows = np.lib.stride_tricks.sliding_window_view(weekly, BLOCKS_BEFORE)
        before_max, before_min = np.nanmax(windows, axis=1), np.nanmin(windows, axis=1)
    ks = np.arange(BLOCKS_BEFORE, n_blocks - after_min_blocks + 1)
    separated = (after_min[ks] > before_max[ks - BLOCKS_BEFORE]) | (
        after_max[ks] < before_min[ks - BLOCKS_BEFORE]
    )
    for k in ks[separated][::-1]:  # newest first
        before, after = weekly[k - BLOCKS_BEFORE : k], weekly[k:]
        if np.isnan(before).sum() > 2 or np.isnan(after).mean() > 0.25:
            continue
        size = float(np.nanmedian(after) - np.nanmedian(before))
        step = weekly[k] - weekly[k - 1]
        if abs(size) >= MIN_SHIFT and np.isfinite(step) and step / size >= MIN_STEP_SHARE:
            if _took_it_a_year_before(weekly, k, size):
                continue  # its season (the end of a holiday peak), not a new level
            return _refine(z, head + k * SEASON), size
    return None


def _took_it_a_year_before(weekly: np.ndarray, k: int, size: float) -> bool:
    """Whether the series moved the same way, by at least half as much, into the same week a
    year earlier: a step that recurs every year is the yearly season, and trimming the history
    at it would throw away the one thing that shows it (the year before)."""
    then = k - YEAR_WEEKS
    if then - BLOCKS_BEFORE < 0:
        return False
    with _nan_quiet():
        before = np.nanmedian(weekly[then - BLOCKS_BEFORE : then])
        after = np.nanmedian(weekly[then : then + BLOCKS_AFTER_A_YEAR_BEFORE])
    moved = after - before
    return bool(np.isfinite(moved) and moved / size >= 0.5)


def _refine(z: np.ndarray, day: int) -> int:
    best, best_gap = day, -1.0
    for split in range(max(SEASON, day - SEASON), min(len(z) - SEASON, day + SEASON) + 1):
        with _nan_quiet():
            gap = abs(np.nanmean(z[split : split + SEASON]) - np.nanmean(z[split - SEASON : split]))
        if np.isfinite(gap) and gap > best_gap:
            best, best_gap = split, gap
    return best


@contextmanager
def _nan_quiet():
    """numpy warns on the mean of an all-missing week; that week is simply NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
