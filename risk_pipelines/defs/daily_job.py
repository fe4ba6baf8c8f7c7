"""The daily cadence, across domains: one partitioned job runs ingest -> metrics -> forecasts
-> indicators for yesterday (UTC); the alert sensor reacts to its indicators.

The job selects by group, so it needs no import of the assets it runs, and an asset added to
one of these groups joins the daily run by being defined."""

import dagster as dg

from risk_pipelines.defs.shared import DAILY_JOB

DAILY_GROUPS = ("ingest", "metrics", "forecasting", "indicators")

daily_risk_job = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.groups(*DAILY_GROUPS),
    description="Ingest, metrics, forecasts and indicators for a day or a range of days.",
)
daily_risk_schedule = dg.build_schedule_from_partitioned_job(
    daily_risk_job,
    name="daily_risk_schedule",
    hour_of_day=2,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 02:00 UTC, the previous UTC day's partition.",
)
