"""Prophet behind the model interface, tuned for daily risk series.

Prophet fits the transformed series (log for counts, logit for rates), so its band maps back
through the same inverse as every other model's. Weekly seasonality is always on; yearly only
with enough history to see a year repeat; the region's public holidays are modelled when the
region is a country the ``holidays`` package knows. ``uncertainty_samples`` is modest: the band
comes from its quantiles, and 200 draws size a 95 % band well at a fraction of the default's
cost (zero would remove the band altogether).
"""

from __future__ import annotations

import logging
import warnings
from functools import cache

import numpy as np
import pandas as pd

from risk_pipelines.domain.holidays import holiday_country
from risk_pipelines.forecasting.models.base import SEASON, ModelFailed, ModelOutput, robust_sigma

Z95 = 1.959963984540054
# Prophet itself wants two full years before it turns yearly seasonality on; a year and a half
# already shows every month twice over most of the year, and risk series rarely have more.
YEARLY_FROM_DAYS = 548


class ProphetModel:
    name = "prophet"
    min_history = 4 * SEASON

    def __init__(
        self,
        region: str | None = None,
        max_history: int = 730,
        uncertainty_samples: int = 200,
        in_sample: bool = True,
    ) -> None:
        self.region = region
        self.max_history = max_history
        self.uncertainty_samples = uncertainty_samples
        # Backtests score the horizon only: skipping the in-sample fit saves a predict call.
        self.in_sample = in_sample

    def fit_predict(self, z, horizon, *, start=None, params=None) -> ModelOutput:
        if start is None:
            raise ValueError("Prophet needs the date of the series' first day")
        prophet_class = _quiet_prophet()
        window = np.asarray(z[-self.max_history :], dtype=float)
        offset = len(z) - len(window)
        # Prophet refuses time-zone-aware dates: the days are plain calendar dates.
        first = pd.Timestamp(start).tz_localize(None).normalize() + pd.Timedelta(days=offset)
        days = pd.date_range(first, periods=len(window), freq="D")
        history = pd.DataFrame({"ds": days, "y": window}).dropna()  # gaps stay gaps
        if history["y"].std() < 1e-9:
            raise ModelFailed("constant series")
        yearly = len(window) >= YEARLY_FROM_DAYS
        country = holiday_country(self.region)
        model = prophet_class(
            weekly_seasonality=True,
            yearly_seasonality=yearly,
            daily_seasonality=False,
            interval_width=0.95,
            uncertainty_samples=self.uncertainty_samples,
        )
        if country:
            model.add_country_holidays(country_name=country)
        with warnings.catch_warnings():
            # Prophet still calls pandas APIs that newer pandas deprecates; not ours to fix.
            warnings.filterwarnings("ignore", module="prophet")
            warnings.filterwarnings("ignore", category=FutureWarning)
            model.fit(history)
            features = {"yearly": yearly, "holidays": country}
            return self._forecast(model, days, window, len(z), offset, horizon, features)

    def _forecast(self, model, days, window, n, offset, horizon, features) -> ModelOutput:
        yearly, country = features["yearly"], features["holidays"]
        future = pd.DataFrame(
            {"ds": pd.date_range(days[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")}
        )
        # Prophet draws its band from numpy's global generator: seed it for repeatable runs,
        # and put the caller's state back.
        saved = np.random.get_state()
        np.random.seed(0)
        try:
            forecast = model.predict(future)
        finally:
            np.random.set_state(saved)
        mean = forecast["yhat"].to_numpy()
        sd = (forecast["yhat_upper"] - forecast["yhat_lower"]).to_numpy() / (2 * Z95)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(sd))):
            raise ModelFailed("non-finite forecast")
        fitted = np.full(n, np.nan)
        fitted_sd = np.full(n, np.nan)
        if self.in_sample:
            model.uncertainty_samples = 0  # the in-sample fit needs no band
            in_sample = model.predict(pd.DataFrame({"ds": days}))["yhat"].to_numpy()
            fitted[offset:] = in_sample
            fitted_sd[offset:] = robust_sigma(window - in_sample)
        notes = ["yearly seasonality" if yearly else "no yearly seasonality (short history)"]
        if country:
            notes.append(f"{country} holidays")
        return ModelOutput(mean, sd, fitted, fitted_sd, "; ".join(notes), dict(features))


@cache
def _quiet_prophet():
    """Import Prophet once, with cmdstanpy's and Prophet's per-fit chatter switched off."""
    # Set before the import: Prophet logs "Importing plotly failed" as it is imported (we draw
    # no interactive plots), and in a spawned worker nothing else would hold it back.
    # ERROR: its warning about yearly seasonality on under two years is our deliberate choice.
    logging.getLogger("prophet").setLevel(logging.ERROR)
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    import cmdstanpy
    from prophet import Prophet

    cmdstanpy.disable_logging()
    return Prophet
