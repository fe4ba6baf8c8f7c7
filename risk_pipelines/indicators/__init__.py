"""Risk indicators from actuals and forecasts (pure: no dagster import)."""
