"""Dagster sensors: alert evaluation after indicators materialise."""
