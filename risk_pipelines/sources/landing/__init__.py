"""Landing-folder readers: ``<landing>/<dataset>/<YYYY-MM-DD>/*.csv|*.parquet``.

Each reader returns the canonical rows plus the rows it could not use, each naming file, row,
column and reason, so nothing is dropped silently: rows read = rows kept + rows quarantined,
per day. A day that cannot be read at all (no folder, an unreadable file, a missing required
column) is reported in ``day_errors`` with a message naming the file, and none of it is kept.
"""

from risk_pipelines.sources.files import LandingError
from risk_pipelines.sources.landing.batch import FileRecord, LandingBatch
from risk_pipelines.sources.landing.columns import (
    DECISION_OPTIONAL,
    DECISION_REQUIRED,
    INCIDENT_OPTIONAL,
    INCIDENT_REQUIRED,
    METRIC_DIMENSIONS,
    METRIC_OPTIONAL,
    METRIC_REQUIRED,
)
from risk_pipelines.sources.landing.daily_metrics import read_daily_metrics
from risk_pipelines.sources.landing.decisions import read_moderation_decisions
from risk_pipelines.sources.landing.incidents import read_incidents
from risk_pipelines.sources.landing.layout import (
    DATASETS,
    SUFFIXES,
    dataset_deployed,
    landed_fingerprints,
    partition_files,
)
from risk_pipelines.sources.landing.rejects import KEYED, REJECT_COLUMNS

__all__ = [
    "DATASETS",
    "DECISION_OPTIONAL",
    "DECISION_REQUIRED",
    "INCIDENT_OPTIONAL",
    "INCIDENT_REQUIRED",
    "KEYED",
    "METRIC_DIMENSIONS",
    "METRIC_OPTIONAL",
    "METRIC_REQUIRED",
    "REJECT_COLUMNS",
    "SUFFIXES",
    "FileRecord",
    "LandingBatch",
    "LandingError",
    "dataset_deployed",
    "landed_fingerprints",
    "partition_files",
    "read_daily_metrics",
    "read_incidents",
    "read_moderation_decisions",
]
