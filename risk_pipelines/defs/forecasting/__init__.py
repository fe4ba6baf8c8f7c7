"""Forecasts: the weekly model selection (one run per policy area), the daily forecasts and
their accuracy."""
