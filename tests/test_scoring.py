"""Accuracy measures agree with values worked out by hand."""

import math

import numpy as np
import pytest

from risk_pipelines.forecasting.scoring import coverage, mase, smape, winkler


def test_mase_scales_the_error_by_last_weeks_naive_change():
    # In-sample weekly changes: |8-1|, |9-2| -> mean 7; errors |10-12|, |20-17| -> mean 2.5.
    insample = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert mase([10, 20], [12, 17], insample) == pytest.approx(2.5 / 7)


def test_mase_leaves_out_missing_actuals_and_is_undefined_on_a_flat_history():
    assert mase([10, np.nan], [12, 99], list(range(1, 10))) == pytest.approx(2 / 7)
    assert math.isnan(mase([1], [1], [5] * 14))


def test_smape_is_in_percent_and_treats_zero_against_zero_as_exact():
    # 2*|100-50|/150 = 0.6667; 2*0/0 -> 0; mean 0.3333 -> 33.33 %
    assert smape([100, 0], [50, 0]) == pytest.approx(100 / 3)


def test_coverage_counts_actuals_on_the_bounds_as_covered():
    assert coverage([1, 5, 9, 3], [0, 5, 0, 4], [2, 6, 8, 6]) == pytest.approx(0.5)


def test_winkler_adds_two_over_alpha_times_the_miss_to_the_width():
    # widths 4 and 4; second actual is 3 above the upper bound: 4 + (2/0.05)*3 = 124
    assert winkler([5, 12], [3, 5], [7, 9], alpha=0.05) == pytest.approx((4 + 124) / 2)
