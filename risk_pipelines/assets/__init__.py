"""Dagster assets: wiring of the pure stages, with metadata for the engineer in the UI."""
