"""Forecasting over long frames ``unique_id, ds, y`` (pure: no dagster import)."""

from risk_pipelines.forecasting.engine import ForecastConfig, forecast_series_frame

__all__ = ["ForecastConfig", "forecast_series_frame"]
