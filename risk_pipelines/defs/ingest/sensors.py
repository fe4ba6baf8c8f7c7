"""The landing sensor: a file landing for a recent day runs the daily job for that day at
once, instead of waiting for the 02:00 schedule (late and corrected deliveries included)."""

import datetime as dt
import json
from pathlib import Path

import dagster as dg

from risk_pipelines.defs.resources import PipelineConfigResource
from risk_pipelines.defs.shared import DAILY_JOB
from risk_pipelines.domain.clock import utc_now
from risk_pipelines.sources.landing import landed_fingerprints

WATCHED_DAYS = 7  # older days are backfills: an engineer launches those on purpose


def _landing_sensor(job_name: str) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_sensor",
        job_name=job_name,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Every 30 s: when files land, change or disappear for one of the last "
        f"{WATCHED_DAYS} days, runs the daily job for that day (run key: day and file "
        "fingerprint, so the same delivery never runs twice). The first tick only records "
        "what is there.",
    )
    def landing_sensor(
        context: dg.SensorEvaluationContext, pipeline_config: PipelineConfigResource
    ) -> dg.SensorResult:
        today = utc_now().date()
        days = [today - dt.timedelta(days=n) for n in range(1, WATCHED_DAYS + 1)]
        seen = json.loads(context.cursor) if context.cursor else None
        now = landed_fingerprints(Path(pipeline_config.landing_dir), days)
        if seen is None:
            return dg.SensorResult(cursor=json.dumps(now))
        requests = [
            dg.RunRequest(partition_key=day, run_key=f"landing:{day}:{fingerprint}")
            for day, fingerprint in sorted(now.items())
            if seen.get(day) != fingerprint
        ]
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(now))

    return landing_sensor


landing_sensor = _landing_sensor(DAILY_JOB)
