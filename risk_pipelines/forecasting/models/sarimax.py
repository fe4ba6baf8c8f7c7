"""SARIMAX (statsmodels) behind the model interface: an opt-in, as it costs about twenty ETS
fits per series. The specification is fixed, ARIMA(1,0,1)(0,1,1)_7 on the transformed scale
(the "airline"-like weekly model); an automatic order search would cost far more again.
"""

from __future__ import annotations

import warnings

import numpy as np

from risk_pipelines.forecasting.models.base import SEASON, ModelFailed, ModelOutput, guard

ORDER = (1, 0, 1)
SEASONAL_ORDER = (0, 1, 1, SEASON)


class Sarimax:
    name = "sarimax"
    min_history = 8 * SEASON

    def __init__(self, max_history: int = 365) -> None:
        self.max_history = max_history

    def fit_predict(self, z, horizon, *, start=None, params=None) -> ModelOutput:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        window = np.asarray(z[-self.max_history :], dtype=float)
        offset = len(z) - len(window)
        if np.nanstd(window) < 1e-9:
            raise ModelFailed("constant series")
        # The Kalman filter takes missing days as they are: no interpolation needed.
        model = SARIMAX(window, order=ORDER, seasonal_order=SEASONAL_ORDER)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if params is None:
                result = model.fit(disp=False, maxiter=50)
            else:
                result = model.filter(np.asarray(params["coefficients"], dtype=float))
            forecast = result.get_forecast(horizon)
        mean = np.asarray(forecast.predicted_mean, dtype=float)
        var = np.asarray(forecast.var_pred_mean, dtype=float)
        spread = float(np.nanmax(window) - np.nanmin(window))
        guard(mean, var, window, spread)
        burn_in = 2 * SEASON  # the diffuse start of the seasonal difference
        fitted = np.full(len(z), np.nan)
        fitted[offset + burn_in :] = np.asarray(result.fittedvalues, dtype=float)[burn_in:]
        fitted_sd = np.full(len(z), np.nan)
        fitted_sd[offset + burn_in :] = float(np.sqrt(result.params[-1]))
        coefficients = [float(v) for v in result.params]
        return ModelOutput(
            mean, np.sqrt(var), fitted, fitted_sd, "", {"coefficients": coefficients}
        )
