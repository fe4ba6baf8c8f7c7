"""Readers that turn landing files into the canonical schemas (pure: no dagster import)."""
