"""Daily metric series in long format (pure: no dagster import)."""
