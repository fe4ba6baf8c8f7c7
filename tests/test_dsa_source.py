"""The DSA dumps as a Dagster source: the partitioned asset writes counts, dsa_* series and the
followed platforms' rows in one go, blocks bad days whole, shares its partitions with our own
feed without deleting its rows, and a sensor runs each new dump once."""

import datetime as dt
import json
import shutil

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from risk_pipelines.config import PACKAGED_CONFIG_DIR, load_alert_config
from risk_pipelines.defs.dsa.assets import dsa_statements
from risk_pipelines.defs.dsa.sensors import dsa_dump_sensor
from risk_pipelines.runs import materialise_range
from risk_pipelines.sources.dsa_config import DsaConfigError, load_dsa_config
from risk_pipelines.stages.alerts import evaluate_with_config
from risk_pipelines.stages.ingest import write_dataset
from risk_pipelines.warehouse import Warehouse
from tests.conftest import make_resources
from tests.dsa_dumps import (
    V2_SAMPLE,
    csv_text,
    sample_dump,
    sample_rows,
    synthetic_dump,
    write_dump,
)

DAY = dt.date(2025, 7, 1)


@pytest.fixture
def deployment(tmp_path, warehouse_url):
    landing, config = tmp_path / "landing", tmp_path / "config"
    (landing / "dsa").mkdir(parents=True)
    shutil.copytree(PACKAGED_CONFIG_DIR, config)
    (config / "dsa.yaml").write_text("platforms: all\nfollow: [Kleinanzeigen, Hotel Hideaway]\n")
    return {
        "landing": landing,
        "url": warehouse_url,
        "resources": make_resources(warehouse_url, landing, config),
    }


def _materialise(deployment, day=DAY):
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [dsa_statements], partition_key=day.isoformat(), instance=instance,
            resources=deployment["resources"], raise_on_error=False,
        )  # fmt: skip


def _check(result):
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def _table_counts(warehouse):
    return {
        "counts": int(warehouse.read_sql("SELECT SUM(statements) AS n FROM dsa_statement_counts")
                      ["n"].fillna(0).iat[0]),
        "series": warehouse.count("daily_metrics", {"source": "dsa"}),
        "rows": warehouse.count("moderation_decisions"),
    }  # fmt: skip


def test_a_dump_becomes_counts_series_and_followed_rows_and_a_rerun_changes_nothing(deployment):
    sample_dump(deployment["landing"] / "dsa", V2_SAMPLE, split=9)
    result = _materialise(deployment)
    assert result.success and _check(result).passed
    warehouse = Warehouse(deployment["url"])
    # 20 statements of 3 platforms; 19 of them from the two followed platforms. Per platform
    # six series (volume, four shares, median delay) and one per category (20 + 3); per country
    # of their scopes for the followed: Hotel Hideaway's 30 EEA countries, Kleinanzeigen's DE.
    assert _table_counts(warehouse) == {"counts": 20, "series": 54, "rows": 19}
    rows = warehouse.read_sql("SELECT * FROM moderation_decisions")
    assert set(rows["platform"]) == {"Kleinanzeigen", "Hotel Hideaway"}
    assert rows["source_file"].str.startswith("dsa/sor-global-2025-07-01-full.zip:").all()
    assert (pd.to_datetime(rows["ds"]).dt.date == DAY).all()
    series = warehouse.read_sql("SELECT unique_id, value FROM daily_metrics WHERE source = 'dsa'")
    values = dict(zip(series["unique_id"], series["value"], strict=True))
    assert values["dsa_statements|Hotel Hideaway|all|all|all"] == 18
    assert values["dsa_fully_automated_rate|Wallapop|all|all|all"] == 0.0
    assert values["dsa_statements|Hotel Hideaway|all|IS|all"] == 18  # an EEA scope lists Iceland
    assert "dsa_statements|Wallapop|all|DE|all" not in values  # not followed: no country series
    assert values["dsa_moderation_delay_days|Kleinanzeigen|all|all|all"] >= 0
    countries = warehouse.read_sql("SELECT * FROM dsa_country_counts")
    # Hotel Hideaway's 18 statements x the 30 EEA countries, Kleinanzeigen's one for Germany,
    # Wallapop's one for the 27 member states.
    assert countries["statements"].sum() == 18 * 30 + 1 + 27
    metadata = result.asset_materializations_for_node("dsa_statements")[0].metadata
    assert metadata["rows_read"].value == 20 and metadata["accounting_balanced"].value
    assert "data:image/png;base64," in metadata["chart"].value

    again = _materialise(deployment)
    assert again.success and _table_counts(warehouse) == {"counts": 20, "series": 54, "rows": 19}


def test_our_own_feed_rewriting_the_day_leaves_the_dsa_rows_alone(deployment):
    sample_dump(deployment["landing"] / "dsa", V2_SAMPLE, split=9)
    assert _materialise(deployment).success
    warehouse = Warehouse(deployment["url"])
    empty = warehouse.read_sql("SELECT * FROM moderation_decisions WHERE 1 = 0")
    write_dataset(warehouse, "moderation_decisions", empty, [DAY])  # our feed's day, rewritten
    assert warehouse.count("moderation_decisions") == 19


def _write_unmappable_day(deployment) -> None:
    """The day's dump in one part: a good statement, then three in no taxonomy's category."""
    header, rows = sample_rows(V2_SAMPLE)
    rows = [dict(r) for r in rows[:4]]
    for row in rows[1:]:
        row["category"] = "STATEMENT_CATEGORY_MADE_UP"
    write_dump(
        deployment["landing"] / "dsa" / "sor-global-2025-07-01-full.zip",
        {"a.csv.zip": {"p.csv": csv_text(header, rows)}},
    )


def test_a_day_the_suite_rejects_is_not_written_at_all(deployment):
    _write_unmappable_day(deployment)
    result = _materialise(deployment)
    check = _check(result)
    assert not result.success and not check.passed
    assert "more than 1% of the dump's rows could not be mapped" in check.description
    assert _table_counts(Warehouse(deployment["url"])) == {"counts": 0, "series": 0, "rows": 0}


def test_a_blocked_day_is_on_record_like_any_landing_day_file_row_and_column_named(deployment):
    """The dump in landing_files, the first rows of each rejection reason in quarantined_rows
    (part, row, column, with the reason's count), the verdict in data_quality_results: so the
    run's last lines and the data-quality alerts treat a DSA day like every other source's."""
    from risk_pipelines.stages.quality_alerts import current_problems
    from risk_pipelines.stages.verdicts import blocked_lines

    _write_unmappable_day(deployment)
    result = _materialise(deployment)
    assert not result.success
    warehouse = Warehouse(deployment["url"])
    (file,) = warehouse.read_sql("SELECT * FROM landing_files").to_dict("records")
    assert (file["dataset"], file["source_file"], file["status"], file["rows_read"]) == (
        "dsa_statements", "dsa/sor-global-2025-07-01-full.zip", "blocked", 4,
    )  # fmt: skip
    assert len(file["sha256"]) == 64
    quarantined = warehouse.read_sql("SELECT * FROM quarantined_rows ORDER BY source_row")
    assert quarantined["source_row"].tolist() == [2, 3, 4]
    assert set(quarantined["column_name"]) == {"category"}
    assert (
        quarantined["source_file"] == "dsa/sor-global-2025-07-01-full.zip:a.csv.zip/p.csv"
    ).all()
    assert json.loads(quarantined["raw_values"].iat[0])["rows_with_this_reason"] == 3
    (line,) = blocked_lines(warehouse, result.run_id)
    assert line.startswith("blocked 2025-07-01 dsa_statements: sor-global-2025-07-01-full.zip")
    assert line.endswith(
        "first quarantined: dsa/sor-global-2025-07-01-full.zip:a.csv.zip/p.csv row 2, column "
        "category: category 'STATEMENT_CATEGORY_MADE_UP' is in neither taxonomy"
    )
    now = dt.datetime(2025, 7, 3, 12)
    problems = current_problems(warehouse, deployment["landing"], {"dsa_statements": 30}, now)
    assert ("data_quality.suite", "dsa_statements|2025-07-01") in problems
    # The next day's dump never came: past its deadline (30 h after the day), it is late.
    assert ("data_quality.freshness", "dsa_statements|2025-07-02") in problems

    sample_dump(deployment["landing"] / "dsa", V2_SAMPLE, split=9)  # republished, good
    assert _materialise(deployment).success
    assert warehouse.count("quarantined_rows") == 0
    verdict = warehouse.read_sql("SELECT * FROM data_quality_results").set_index("check_name")
    assert verdict.loc["suite", "passed"] and verdict.loc["suite", "rows_accepted"] == 20
    statuses = warehouse.read_sql("SELECT status FROM landing_files")["status"]
    assert statuses.tolist() == ["loaded"]


def test_a_missing_or_unreadable_dump_blocks_the_day_and_names_the_file(deployment):
    missing = _check(_materialise(deployment))
    assert not missing.passed and "no dump for 2025-07-01" in missing.description
    (deployment["landing"] / "dsa" / "sor-global-2025-07-01-full.zip").write_bytes(b"junk")
    broken = _check(_materialise(deployment))
    assert not broken.passed and "sor-global-2025-07-01-full.zip: not a readable zip" in (
        broken.description
    )


def test_without_a_dsa_folder_the_source_is_not_deployed_and_nothing_fails(deployment):
    shutil.rmtree(deployment["landing"] / "dsa")
    result = _materialise(deployment)
    assert result.success and _check(result).passed
    assert "source not deployed" in _check(result).description


def test_the_sensor_runs_each_new_or_republished_dump_once(tmp_path):
    landing = tmp_path / "landing"
    (landing / "dsa").mkdir(parents=True)
    resources = make_resources("sqlite://", landing)
    with dg.instance_for_test() as instance:

        def tick(cursor):
            context = dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor)
            return dsa_dump_sensor(context)

        first = tick(None)
        assert first.run_requests == [] and json.loads(first.cursor) == {}
        sample_dump(landing / "dsa", V2_SAMPLE, split=9)
        second = tick(first.cursor)
        (request,) = second.run_requests
        assert request.partition_key == "2025-07-01"
        assert request.run_key.startswith("dsa:sor-global-2025-07-01-full.zip:")
        assert tick(second.cursor).run_requests == []


def test_the_dsa_config_is_validated_with_the_file_and_field_named(tmp_path):
    path = tmp_path / "dsa.yaml"
    assert load_dsa_config(tmp_path / "absent.yaml").platforms is None
    path.write_text("platforms: [TikTok]\nfollow: [Pinterest]\n")
    with pytest.raises(DsaConfigError, match="dsa.yaml: follow names \\['Pinterest'\\]"):
        load_dsa_config(path)
    path.write_text("platforms: all\nvariant: medium\n")
    with pytest.raises(DsaConfigError, match="'variant' is 'medium'"):
        load_dsa_config(path)
    path.write_text("platform: all\n")
    with pytest.raises(DsaConfigError, match="unknown key"):
        load_dsa_config(path)
    path.write_text("platforms: [TikTok, Pinterest]\nfollow: [TikTok]\nvariant: light\n")
    config = load_dsa_config(path)
    assert config.platforms == {"TikTok", "Pinterest"} and config.follow == {"TikTok"}


PEER_SURGE_RULE = """
  - id: peer_statement_surge
    description: A platform submits far more DSA statements than forecast.
    type: outside_interval
    match: {metric: dsa_statements, policy_category: all, region: all}
    direction: up
    min_abs_impact: 50
    min_rel_impact: 0.5
    severity: medium
    sustain: 1
    hold: 2
    routes: [log]
    owners: [risk-analysis]
"""


def test_a_dsa_only_deployment_forecasts_scores_and_alerts_on_the_dsa_series(tmp_path):
    landing, config = tmp_path / "landing", tmp_path / "config"
    (landing / "dsa").mkdir(parents=True)
    shutil.copytree(PACKAGED_CONFIG_DIR, config)
    (config / "dsa.yaml").write_text("follow: [Kleinanzeigen]\n")
    rules = config / "alert_rules.yaml"
    rules.write_text(rules.read_text() + PEER_SURGE_RULE)
    first, days = dt.date(2025, 9, 1), 42
    rng = np.random.default_rng(3)
    for i in range(days):
        day = (first + dt.timedelta(days=i)).isoformat()
        volume = 900 if i == days - 1 else int(rng.poisson(300))  # the last day triples
        synthetic_dump(landing / "dsa", day, volume, seed=i)
    last = first + dt.timedelta(days=days - 1)
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    resources = make_resources(url, landing, config)
    with dg.instance_for_test() as instance:
        dsa_run = dg.materialize(
            [dsa_statements], instance=instance, resources=resources,
            tags={"dagster/asset_partition_range_start": first.isoformat(),
                  "dagster/asset_partition_range_end": last.isoformat()},
        )  # fmt: skip
        assert dsa_run.success
        daily = materialise_range(first, last, instance=instance, resources=resources)
        assert daily.success
    warehouse = Warehouse(url)
    forecasts = warehouse.read_sql(
        "SELECT DISTINCT unique_id FROM metric_forecasts WHERE as_of = :d", {"d": last}
    )["unique_id"]
    assert "dsa_statements|Wallapop|all|all|all" in set(forecasts)  # counted only
    assert "decisions|Kleinanzeigen|scams_and_fraud|EEA|all" in set(forecasts)  # followed rows
    assert "dsa_statements|Kleinanzeigen|all|DE|all" in set(forecasts)  # a followed country
    scored = warehouse.read_sql(
        "SELECT COUNT(*) AS n FROM risk_indicators WHERE ds = :d AND metric LIKE 'dsa_%' "
        "AND expected IS NOT NULL",
        {"d": last},
    )["n"].iat[0]
    assert scored >= 15  # 3 platforms x (statements, 4 rates) at least

    evaluate_with_config(warehouse, load_alert_config(config))
    fired = warehouse.read_sql(
        "SELECT unique_id FROM alerts WHERE rule_id = 'peer_statement_surge' AND state = 'firing'"
    )["unique_id"]
    assert set(fired) == {
        f"dsa_statements|{p}|all|all|all" for p in ("Kleinanzeigen", "Wallapop", "Hotel Hideaway")
    }
