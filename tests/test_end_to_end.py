"""The whole pipeline on demo data, on SQLite and on PostgreSQL, with a real Dagster instance."""

import datetime as dt
import json

import dagster as dg
import pandas as pd
import pytest

from risk_pipelines.config import PACKAGED_CONFIG_DIR, load_alert_config
from risk_pipelines.defs.alerting.sensors import risk_alerts_sensor
from risk_pipelines.runs import materialise_range, materialise_selection
from risk_pipelines.stages.alerts import evaluate_with_config
from risk_pipelines.stages.forecasts import describe_selection, latest_selection, policy_area_of
from risk_pipelines.warehouse import Warehouse
from risk_pipelines.warehouse.forecast_runs import newest_runs
from risk_pipelines.warehouse.views import VIEWS
from tests.conftest import DEMO_END, DEMO_START, forget_alert_state, make_resources

PARTITION_TABLES = ("moderation_decisions", "incidents", "daily_metrics", "risk_indicators")


def test_every_stage_wrote_every_day_of_the_range(pipeline):
    warehouse = Warehouse(pipeline["url"])
    days = (DEMO_END - DEMO_START).days + 1
    for table in ("moderation_decisions", "daily_metrics", "risk_indicators"):
        per_day = warehouse.read_sql(f"SELECT COUNT(DISTINCT ds) AS n FROM {table}")
        assert int(per_day["n"].iloc[0]) == days, table
    forecasts = warehouse.read_sql(
        "SELECT model, COUNT(DISTINCT unique_id) AS n, MAX(horizon) AS h FROM metric_forecasts "
        "WHERE as_of = :d GROUP BY model",
        {"d": DEMO_END},
    )
    series = dict(zip(forecasts["model"], forecasts["n"], strict=True))
    # Every series has the seasonal-naive baseline beside its own model: ETS, or the recent
    # level for the low-volume ones.
    assert set(series) <= {"ets", "seasonal_naive", "recent_level"}
    assert series["seasonal_naive"] > 150
    assert series["ets"] + series.get("recent_level", 0) >= series["seasonal_naive"] - 5
    assert (forecasts["h"] == 28).all()
    levels = warehouse.read_sql("SELECT DISTINCT level FROM risk_indicators")
    assert set(levels["level"]) <= {"ok", "elevated", "high", "critical"}
    rates = warehouse.read_sql(
        "SELECT indicator, AVG(value) AS v FROM risk_indicators WHERE indicator IN "
        "('proactive_rate', 'overturn_rate') AND policy_category = 'all' GROUP BY indicator"
    )
    assert set(rates["indicator"]) == {"proactive_rate", "overturn_rate"}


def test_every_quality_check_ran_and_the_demo_passes_them(pipeline):
    checks = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in pipeline["run"].all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    expected = {
        f"{asset}_{check}"
        for asset in ("moderation_decisions", "incidents", "daily_metrics")
        for check in ("suite", "freshness", "schema")
    } | {"daily_metrics_series", "daily_metrics_category_set"}
    assert set(checks) == expected
    assert all(evaluation.passed for evaluation in checks.values())


def test_the_forecast_asset_carries_a_chart_and_counts(pipeline):
    materialisation = next(
        e.event_specific_data.materialization
        for e in pipeline["run"].all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
        and e.event_specific_data.materialization.asset_key.path == ["metric_forecasts"]
    )
    metadata = materialisation.metadata
    assert "data:image/png;base64," in metadata["chart"].value
    assert metadata["series_forecast"].value > 150
    assert metadata["dagster/row_count"].value > 0


def test_the_sensor_raises_the_injected_surge_and_a_quiet_tick_creates_nothing(pipeline):
    instance, resources = pipeline["instance"], pipeline["resources"]
    forget_alert_state(pipeline["url"])  # other tests of the session may have evaluated
    context = dg.build_sensor_context(instance=instance, resources=resources)
    result = risk_alerts_sensor(context)
    assert isinstance(result, dg.SensorResult)
    cursor = json.loads(result.cursor)
    assert cursor["indicators_storage_id"] > 0
    warehouse = Warehouse(pipeline["url"])
    truth = json.loads((pipeline["landing"] / "ground_truth.json").read_text())
    surge = next(e for e in truth["events"] if e["kind"] == "report_surge")
    firing = warehouse.read_sql("SELECT * FROM alerts WHERE state = 'firing'")
    surge_alerts = firing[
        firing["rule_id"].isin(REPORT_RULES)
        & (firing["policy_category"] == surge["policy_category"])
        & (firing["region"] == surge["region"])
    ]
    assert len(surge_alerts) >= 1
    assert surge["start"] <= str(surge_alerts["first_breach_ds"].iloc[0])[:10] <= surge["end"]
    sent = warehouse.read_sql("SELECT * FROM alert_notifications WHERE status = 'sent'")
    assert (sent["channel"] == "log").all() and len(sent) >= 1

    alerts_before = warehouse.count("alerts")
    notifications_before = warehouse.count("alert_notifications")
    quiet = dg.build_sensor_context(instance=instance, resources=resources, cursor=result.cursor)
    assert isinstance(risk_alerts_sensor(quiet), dg.SkipReason)
    again = evaluate_with_config(warehouse, resources["pipeline_config"].config().alerts)
    assert again.days == []
    assert warehouse.count("alerts") == alerts_before
    assert warehouse.count("alert_notifications") == notifications_before


def test_the_proactive_rate_drop_is_detected_while_it_happens(pipeline):
    warehouse = Warehouse(pipeline["url"])
    evaluate_with_config(warehouse, pipeline["resources"]["pipeline_config"].config().alerts)
    truth = json.loads((pipeline["landing"] / "ground_truth.json").read_text())
    drop = next(e for e in truth["events"] if e["kind"] == "proactive_rate_drop")
    alerts = warehouse.read_sql(
        "SELECT * FROM alerts WHERE rule_id = 'proactive_detection_drop' AND unique_id = :u",
        {"u": drop["series"][0]},
    )
    opened = [str(d)[:10] for d in alerts["first_breach_ds"]]
    assert any(drop["start"] <= d <= drop["end"] for d in opened), opened
    elsewhere = warehouse.read_sql(
        "SELECT unique_id FROM alerts "
        "WHERE rule_id = 'proactive_detection_drop' AND unique_id != :u",
        {"u": drop["series"][0]},
    )
    assert elsewhere.empty  # the 48 other rates of the demo are thin and noisy, not regressing


# A report surge is caught by the one-day spike rule when its first day is big enough, else by
# the two-day surge rule.
REPORT_RULES = ("report_spike", "report_surge")
INTENDED_RULE = {
    "report_surge": REPORT_RULES,
    "proactive_rate_drop": ("proactive_detection_drop",),
    "incident_cluster": ("incident_spike",),
}


# On this short demo's seed the classifier regression's second and third days are 0.76 of 59
# and 0.84 of 64 decisions against 0.87 expected: ordinary days for a rate that thin, so the
# first days together are not beyond chance, and its rule fires four days after its start (the
# previous test). The two-year demo's regression fires on its second day
# (bench/bench_demo_alerts.py, docs/alerting.md), where a one-day line fired 28 times on noise.
WITHIN_TWO_DAYS = ("report_surge", "incident_cluster")


def test_each_injected_event_fires_its_rule_within_two_days_of_its_start(pipeline):
    warehouse = Warehouse(pipeline["url"])
    evaluate_with_config(warehouse, pipeline["resources"]["pipeline_config"].config().alerts)
    truth = json.loads((pipeline["landing"] / "ground_truth.json").read_text())
    assert {e["kind"] for e in truth["events"]} == set(INTENDED_RULE)
    for event in (e for e in truth["events"] if e["kind"] in WITHIN_TWO_DAYS):
        fired = warehouse.read_sql(
            "SELECT rule_id, first_breach_ds, fired_at, contributors FROM alerts "
            "WHERE unique_id = :u AND fired_at IS NOT NULL",
            {"u": event["series"][0]},
        )
        fired = fired[fired["rule_id"].isin(INTENDED_RULE[event["kind"]])]
        start = dt.date.fromisoformat(event["start"])
        delays = [(pd.Timestamp(d).date() - start).days for d in fired["first_breach_ds"]]
        assert any(0 <= d <= 2 for d in delays), (event["kind"], delays)


def test_alerts_carry_their_top_contributing_sub_dimensions(pipeline):
    warehouse = Warehouse(pipeline["url"])
    evaluate_with_config(warehouse, pipeline["resources"]["pipeline_config"].config().alerts)
    fired = warehouse.read_sql(
        "SELECT rule_id, unique_id, contributors FROM alerts WHERE fired_at IS NOT NULL "
        "AND rule_id NOT LIKE 'data_quality%'"
    )
    assert len(fired) > 0
    with_contributors = fired[fired["contributors"].notna()]
    assert len(with_contributors) >= 0.8 * len(fired)
    for text in with_contributors["contributors"]:
        for contributor in json.loads(text):
            assert contributor["dimension"] in {
                "region", "policy_category", "surface", "detection_source"
            }  # fmt: skip
            assert 0 < contributor["share"] <= 1


def test_rules_backtest_replays_a_rule_walk_forward_and_finds_the_incident_cluster(
    pipeline, monkeypatch, capsys
):
    from risk_pipelines.cli import main

    truth = json.loads((pipeline["landing"] / "ground_truth.json").read_text())
    cluster = next(e for e in truth["events"] if e["kind"] == "incident_cluster")
    monkeypatch.setenv("RISK_WAREHOUSE_URL", pipeline["url"])
    start = DEMO_START + dt.timedelta(days=30)
    code = main(["rules", "backtest", "incident_spike", "--start", str(start),
                 "--end", str(DEMO_END), "--workers", "1"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"rule incident_spike over {start}..{DEMO_END}" in out and "3 series" in out
    fired = [line.split()[1] for line in out.splitlines() if line.strip().startswith("fired ")]
    cluster_start = dt.date.fromisoformat(cluster["start"])
    assert any(0 <= (dt.date.fromisoformat(d) - cluster_start).days <= 2 for d in fired), out
    assert "alerts per week: mean" in out
    # Kept for the console's rules page, beside what the rule raised live.
    kept = (
        Warehouse(pipeline["url"])
        .read_sql(
            "SELECT start_ds, series, alerts FROM rule_backtests WHERE rule_id = 'incident_spike' "
            "ORDER BY backtest_id DESC"
        )
        .iloc[0]
    )
    assert (str(kept["start_ds"])[:10], kept["series"], kept["alerts"]) == (
        str(start),
        3,
        len(fired),
    )
    assert main(["rules", "backtest", "no_such_rule", "--start", "2026-06-01",
                 "--end", "2026-06-02"]) == 2  # fmt: skip


def test_a_partition_re_run_three_times_leaves_identical_rows(pipeline):
    day = DEMO_END - dt.timedelta(days=3)
    warehouse = Warehouse(pipeline["url"])

    def snapshot():
        out = {t: warehouse.count(t, {"ds": day}) for t in PARTITION_TABLES}
        out["metric_forecasts"] = newest_run_rows(warehouse, day)
        out["metric_sum"] = warehouse.read_sql(
            "SELECT SUM(value) AS s FROM daily_metrics WHERE ds = :d", {"d": day}
        )["s"].iloc[0]
        return out

    runs_before = forecast_runs(warehouse, day)
    snapshots = []
    for _ in range(3):
        result = materialise_range(
            day, day, instance=pipeline["instance"], resources=pipeline["resources"]
        )
        assert result.success
        snapshots.append(snapshot())
    assert snapshots[0] == snapshots[1] == snapshots[2]
    assert snapshots[0]["metric_forecasts"] > 0 and snapshots[0]["moderation_decisions"] > 0
    assert forecast_runs(warehouse, day) == runs_before + 3  # every forecast run is kept


def forecast_runs(warehouse: Warehouse, as_of: dt.date) -> int:
    frame = warehouse.read_sql(
        "SELECT COUNT(DISTINCT run_id) AS n FROM metric_forecasts WHERE as_of = :d", {"d": as_of}
    )
    return int(frame["n"].iloc[0])


def newest_run_rows(warehouse: Warehouse, as_of: dt.date) -> int:
    frame = warehouse.read_sql(
        "SELECT COUNT(*) AS n FROM metric_forecasts WHERE as_of = :d AND created_at = "
        "(SELECT MAX(created_at) FROM metric_forecasts WHERE as_of = :d)",
        {"d": as_of},
    )
    return int(frame["n"].iloc[0])


def test_accuracy_scores_each_earlier_forecast_against_the_actual_that_came(pipeline):
    warehouse = Warehouse(pipeline["url"])
    accuracy = warehouse.read_sql("SELECT * FROM forecast_accuracy WHERE is_primary")
    assert len(accuracy) > 1000
    one = accuracy[accuracy["horizon"] == 1].iloc[0]
    forecast = warehouse.read_sql(
        "SELECT * FROM metric_forecasts WHERE unique_id = :u AND ds = :d AND as_of = :a "
        "AND model = :m",
        {"u": one["unique_id"], "d": one["ds"], "a": one["as_of"], "m": one["model"]},
    ).iloc[-1]
    actual = warehouse.read_sql(
        "SELECT value FROM daily_metrics WHERE unique_id = :u AND ds = :d",
        {"u": one["unique_id"], "d": one["ds"]},
    )["value"].iloc[0]
    assert one["actual"] == pytest.approx(actual) and one["yhat"] == pytest.approx(forecast["yhat"])
    assert bool(one["covered_95"]) == (forecast["yhat_lo_95"] <= actual <= forecast["yhat_hi_95"])
    next_day = accuracy[accuracy["horizon"] == 1]
    # The backfill's one-step bands are sized from the errors before each day only (0.83 on
    # this short demo; 0.85-0.99 while their width still came from the whole range).
    assert 0.8 <= next_day["covered_95"].mean() <= 0.99
    assert next_day["covered_80"].mean() < next_day["covered_95"].mean()


def test_the_weekly_selection_is_stored_and_the_next_daily_run_uses_it(pipeline):
    instance, resources = pipeline["instance"], pipeline["resources"]
    selection_run = materialise_selection(instance=instance, resources=resources)
    assert selection_run.success
    warehouse = Warehouse(pipeline["url"])
    chosen = warehouse.read_sql(
        "SELECT * FROM forecast_model_selection WHERE run_id = :r", {"r": selection_run.run_id}
    )
    assert len(chosen) > 150
    assert set(chosen["model"]) <= {
        "seasonal_naive", "ets", "combined", "ets_yearly", "prophet", "recent_level"
    }  # fmt: skip
    # Series too young to backtest keep ETS by default, and the daily run estimates afresh.
    ets = chosen[(chosen["model"] == "ets") & ~chosen["reason"].str.contains("default kept")]
    assert not ets.empty and all(set(json.loads(p)) == {"alpha", "beta", "gamma", "phi"}
                                 for p in ets["params"])  # fmt: skip
    assert (chosen["factor_95"] > 0).all() and chosen["reason"].str.len().gt(0).all()
    scores = warehouse.read_sql(
        "SELECT * FROM forecast_backtests WHERE run_id = :r", {"r": chosen["run_id"].iloc[0]}
    )
    assert set(scores["model"]) >= {"seasonal_naive", "ets", "combined", "prophet"}
    materialisation = selection_run.asset_materializations_for_node("forecast_model_selection")[0]
    for key in ("series_per_model", "backtest_scores", "calibration", "selection_preview"):
        assert key in materialisation.metadata

    rerun = materialise_range(DEMO_END, DEMO_END, instance=instance, resources=resources)
    assert rerun.success
    forecast_event = rerun.asset_materializations_for_node("metric_forecasts")[0]
    assert forecast_event.metadata["specs_from"].value.startswith("weekly selection")
    newest = warehouse.read_sql(
        "SELECT unique_id, model FROM metric_forecasts WHERE as_of = :d AND is_primary "
        "AND run_id = :r GROUP BY unique_id, model",
        {"d": DEMO_END, "r": rerun.run_id},
    )
    used = newest.merge(chosen[["unique_id", "model"]], on="unique_id", suffixes=("", "_chosen"))
    assert (used["model"] == used["model_chosen"]).mean() > 0.95


def test_a_policy_area_selected_again_alone_supersedes_only_its_own_series(pipeline):
    instance, resources = pipeline["instance"], pipeline["resources"]
    warehouse = Warehouse(pipeline["url"])
    before = latest_selection(warehouse).set_index("unique_id")
    assert not before.empty, "runs after the weekly selection test"
    rerun = materialise_selection("violence", instance=instance, resources=resources)
    assert rerun.success
    event = rerun.asset_materializations_for_node("forecast_model_selection")[0]
    assert event.partition == "violence" and event.metadata["policy_areas"].value == "violence"
    after = latest_selection(warehouse).set_index("unique_id")
    assert set(after.index) == set(before.index)
    redone = after["run_id"] == rerun.run_id
    assert redone.any()
    assert all(policy_area_of(uid) == "violence" for uid in after.index[redone])
    kept = after.index[~redone]
    assert (after.loc[kept, "run_id"] == before.loc[kept, "run_id"]).all()
    assert describe_selection(after.reset_index()).startswith("2 runs of ")


def test_a_deployment_with_only_pre_aggregated_metrics_alerts_all_the_same(tmp_path, warehouse_url):
    landing, config = tmp_path / "landing", tmp_path / "config"
    config.mkdir()
    (config / "alert_rules.yaml").write_text(
        "rules:\n  - {id: volume_surge, type: outside_interval, severity: high,\n"
        "     match: {metric: report_volume}, min_abs_impact: 10, min_rel_impact: 0.3}\n"
    )
    start, end = dt.date(2026, 6, 1), dt.date(2026, 7, 20)
    rng = pd.Series(range(60))
    for offset in range((end - start).days + 1):
        day = start + dt.timedelta(days=offset)
        folder = landing / "daily_metrics" / day.isoformat()
        folder.mkdir(parents=True)
        surge = 3.0 if day == end else 1.0
        volume = int((200 + 20 * (day.weekday() >= 5) + rng[offset % 7]) * surge)
        folder.joinpath("metrics.csv").write_text(
            f"ds,metric,value,region\n{day},report_volume,{volume},DE\n"
            f"{day},report_volume,{150 + rng[offset % 5]},FR\n"
        )
    resources = make_resources(warehouse_url, landing, config)
    with dg.instance_for_test() as instance:
        assert materialise_range(start, end, instance=instance, resources=resources).success
    warehouse = Warehouse(warehouse_url)
    report = evaluate_with_config(warehouse, load_alert_config(config))
    assert report.fired == 1
    firing = warehouse.read_sql("SELECT unique_id FROM alerts WHERE state = 'firing'")
    assert firing["unique_id"].tolist() == ["report_volume|own|all|DE|all"]


def test_the_analyst_views_have_the_documented_columns_on_both_backends(pipeline):
    warehouse = Warehouse(pipeline["url"])
    # Alerts exist once the rules have been evaluated (a no-op when a sensor test already did).
    evaluate_with_config(warehouse, load_alert_config(PACKAGED_CONFIG_DIR))
    for view in VIEWS:
        frame = warehouse.read_sql(f"SELECT * FROM {view.name} LIMIT 5")
        assert list(frame.columns) == list(view.columns), view.name
        assert len(frame) > 0, f"{view.name} is empty on the demo"


def test_the_latest_forecast_view_is_the_newest_run_of_the_newest_day_primary_only(pipeline):
    warehouse = Warehouse(pipeline["url"])
    forecasts = newest_runs(warehouse.read_sql("SELECT * FROM metric_forecasts"))
    newest_day = forecasts.groupby("unique_id")["as_of"].transform("max")
    expected = forecasts[(forecasts["as_of"] == newest_day) & forecasts["is_primary"].astype(bool)]
    view = warehouse.read_sql("SELECT * FROM v_latest_forecast")
    assert len(view) == len(expected)
    assert view["unique_id"].nunique() == expected["unique_id"].nunique()
    assert set(view["run_id"]) == set(expected["run_id"])


def test_the_forecast_vs_actual_view_carries_series_and_bands_for_every_scored_row(pipeline):
    warehouse = Warehouse(pipeline["url"])
    view = warehouse.read_sql("SELECT * FROM v_forecast_vs_actual")
    assert len(view) == warehouse.count("forecast_accuracy")
    assert (view["error"] - (view["actual"] - view["yhat"])).abs().max() < 1e-9
    inside = (view["actual"] >= view["yhat_lo_95"]) & (view["actual"] <= view["yhat_hi_95"])
    assert (inside == view["covered_95"].astype(bool)).mean() > 0.999


def test_the_indicator_levels_view_ranks_levels_in_order(pipeline):
    warehouse = Warehouse(pipeline["url"])
    ranks = warehouse.read_sql("SELECT DISTINCT level, level_rank FROM v_indicator_levels")
    order = ["ok", "elevated", "high", "critical"]
    assert all(order.index(r.level) == r.level_rank for r in ranks.itertuples())
