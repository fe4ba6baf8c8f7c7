"""Alert rules, the alert state machine and delivery channels (no dagster import)."""
