"""The landing sensor runs the day a file lands for, once per delivery; a failed run becomes
one alert for data engineers however often it is reported."""

import datetime as dt

import dagster as dg

from risk_pipelines.alerting.channels import LogChannel
from risk_pipelines.alerting.routes import DEFAULT_ROUTES
from risk_pipelines.alerting.run_failures import record_run_failure
from risk_pipelines.definitions import defs
from risk_pipelines.resources import explicit_resources
from risk_pipelines.warehouse import Warehouse


def test_a_landed_file_requests_its_day_once_and_the_first_tick_only_records(tmp_path):
    landing = tmp_path / "landing"
    (landing / "moderation_decisions").mkdir(parents=True)
    resources = explicit_resources("sqlite://", landing, id_hash_key="k")
    sensor = defs.get_sensor_def("landing_sensor")
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
