"""Variance-stabilising transforms, chosen by metric kind.

Models work on the transformed scale and intervals are mapped back through the inverse, which
keeps counts non-negative and rates inside [0, 1] by construction (quantiles survive a monotone
transform, so the mapped-back bounds are still the right quantiles).
"""

from __future__ import annotations

import numpy as np

_RATE_EPS = 1e-3


def forward(y: np.ndarray, kind: str) -> np.ndarray:
    if kind == "rate":
        p = np.clip(y, _RATE_EPS, 1 - _RATE_EPS)
        return np.log(p / (1 - p))
    return np.log1p(np.maximum(y, 0.0))


def inverse(z: np.ndarray, kind: str) -> np.ndarray:
    if kind == "rate":
        return 1.0 / (1.0 + np.exp(-z))
    return np.maximum(np.expm1(z), 0.0)
