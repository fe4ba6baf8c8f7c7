"""The Dagster shell, one folder per domain; dg.load_from_defs_folder finds every definition
here."""
