"""Alerts: the alerts asset the sensors write, and the sensors that evaluate rules, report
failed runs and data-quality problems."""
