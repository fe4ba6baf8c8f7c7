"""The DSA dump sensor: a new (or replaced) daily dump in <landing>/dsa/ runs its day."""

import json
from pathlib import Path

import dagster as dg

from risk_pipelines.defs.resources import PipelineConfigResource
from risk_pipelines.defs.shared import DAILY_PARTITIONS, DSA_JOB
from risk_pipelines.sources.dsa_dump import DUMP_NAME, dump_fingerprints


@dg.sensor(
    name="dsa_dump_sensor",
    job_name=DSA_JOB,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 5 min: when a DSA Transparency Database dump appears or is replaced in "
    "<landing>/dsa/, runs dsa_statements for its day (run key: file name and fingerprint, so "
    "one publication runs once). The first tick only records what is there: a backlog is a "
    "backfill an engineer launches on purpose.",
)
def dsa_dump_sensor(
    context: dg.SensorEvaluationContext, pipeline_config: PipelineConfigResource
) -> dg.SensorResult:
    dsa_dir = Path(pipeline_config.landing_dir) / "dsa"
    now = dump_fingerprints(dsa_dir)
    if context.cursor is None:
        return dg.SensorResult(cursor=json.dumps(now), skip_reason=f"recorded {len(now)} dump(s)")
    before = json.loads(context.cursor)
    keys = set(DAILY_PARTITIONS.get_partition_keys())
    requests, outside = [], []
    for name, fingerprint in now.items():
        if before.get(name) == fingerprint:
            continue
        day = DUMP_NAME.match(name).group(1)
        if day not in keys:
            outside.append(name)
            continue
        requests.append(
            dg.RunRequest(
                partition_key=day, run_key=f"dsa:{name}:{fingerprint}", tags={"dsa/dump": name}
            )  # fmt: skip
        )
    if outside:
        context.log.warning(f"dumps outside the daily partitions, not run: {', '.join(outside)}")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(now))
