"""The landing sensor runs the day a file lands for, once per delivery; a failed run becomes
one alert for data engineers however often it is reported."""

import datetime as dt

import dagster as dg

from risk_pipelines.alerting.notification.channels import LogChannel
from risk_pipelines.alerting.notification.routes import DEFAULT_ROUTES
from risk_pipelines.defs.alerting.sensors import pipeline_run_failure_sensor
from risk_pipelines.defs.ingest.sensors import landing_sensor
from risk_pipelines.defs.resources import explicit_resources
from risk_pipelines.stages.quality_alerts import record_run_failure
from risk_pipelines.warehouse import Warehouse


def test_a_landed_file_requests_its_day_once_and_the_first_tick_only_records(tmp_path):
    landing = tmp_path / "landing"
    (landing / "moderation_decisions").mkdir(parents=True)
    resources = explicit_resources("sqlite://", landing, id_hash_key="k")
    sensor = landing_sensor
    with dg.instance_for_test() as instance:

        def tick(cursor):
            context = dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor)
            return sensor(context)

        first = tick(None)
        assert first.run_requests == []
        day = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
        folder = landing / "moderation_decisions" / day
        folder.mkdir()
        (folder / "part-0.csv").write_text("event_id\n1\n")
        second = tick(first.cursor)
        assert [r.partition_key for r in second.run_requests] == [day]
        assert second.run_requests[0].run_key.startswith(f"landing:{day}:")
        assert tick(second.cursor).run_requests == []  # nothing new: nothing to run


def test_a_failed_run_is_one_alert_however_often_it_is_reported(tmp_path):
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    now = dt.datetime(2026, 3, 10, 3, 0)
    first = record_run_failure(
        warehouse, DEFAULT_ROUTES, job_name="daily_risk_job", run_id="r1",
        error="metric_forecasts failed\ntrace", now=now, channels={"log": LogChannel()},
    )  # fmt: skip
    assert first.sent == 1
    again = record_run_failure(
        warehouse, DEFAULT_ROUTES, job_name="daily_risk_job", run_id="r1", error="x", now=now
    )
    assert again is None
    alerts = warehouse.read_sql("SELECT rule_id, state, message FROM alerts")
    assert alerts["message"].tolist() == [
        "run r1 of daily_risk_job failed: metric_forecasts failed"
    ]


@dg.op
def step_that_breaks():
    raise RuntimeError("metric_forecasts could not reach the warehouse")


@dg.job
def job_that_fails():
    step_that_breaks()


def _failure_context(instance, resources, tags=None):
    result = job_that_fails.execute_in_process(
        instance=instance, raise_on_error=False, tags=tags or {}
    )
    return dg.build_run_status_sensor_context(
        sensor_name="pipeline_run_failure_sensor",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources=resources,
    ).for_run_failure()


def test_the_run_failure_sensor_tells_data_engineers_once_and_skips_runs_that_will_retry(
    tmp_path,
):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    resources = explicit_resources(url, tmp_path / "landing", id_hash_key="k")
    with dg.instance_for_test() as instance:
        retried = _failure_context(instance, resources, tags={"dagster/will_retry": "true"})
        skipped = pipeline_run_failure_sensor(retried)
        assert isinstance(skipped, dg.SkipReason)
        assert "will be retried" in skipped.skip_message

        failed = _failure_context(instance, resources)
        pipeline_run_failure_sensor(failed)
        pipeline_run_failure_sensor(failed)  # the daemon may hand the same run over again

    warehouse = Warehouse(url)
    alerts = warehouse.read_sql("SELECT alert_id, rule_id, unique_id, message FROM alerts")
    assert len(alerts) == 1
    assert alerts["unique_id"].iat[0] == f"job_that_fails|{failed.dagster_run.run_id}"
    assert "step_that_breaks" in alerts["message"].iat[0]
    sent = warehouse.read_sql(
        "SELECT channel, status FROM alert_notifications ORDER BY notification_id"
    )
    assert sent.to_dict("records") == [
        {"channel": "log", "status": "queued"},
        {"channel": "log", "status": "sent"},
    ]
