"""Daily metric series: the daily_metrics asset and the checks of the landed pre-aggregated
metrics."""
