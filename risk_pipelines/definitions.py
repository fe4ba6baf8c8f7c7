"""The Dagster code location (workspace.yaml, ``dg`` and ``dagster -m`` load this module).

Every definition lives in ``risk_pipelines/defs/<domain>/`` beside its domain's assets, checks,
sensors and schedules, and is found there by ``load_from_defs_folder``; resources and the
executor come from one definitions function in ``defs/resources.py``.
"""

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
