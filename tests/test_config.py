"""One config object answers "what can I configure?": every environment variable through
load_settings, every YAML file of the config folder through load_config, quality suites
included, parsed once and again only when a file changes."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from risk_pipelines.config import (
    ENVIRONMENT,
    PACKAGED_CONFIG_DIR,
    ConfigError,
    load_config,
    load_settings,
)
from risk_pipelines.quality.suite import SuiteError
from risk_pipelines.stages.context import StageRun
from risk_pipelines.stages.ingest import ingest_dataset
from risk_pipelines.warehouse import Warehouse
from tests.test_bad_inputs import DAY, NOW, csv_text, decision, good_rows, write


def test_settings_have_a_default_for_every_variable():
    settings = load_settings({})
    assert settings.env == "local" and settings.executor == "multiprocess"
    assert settings.config_dir == PACKAGED_CONFIG_DIR
    assert settings.id_hash_key_is_demo and settings.given == frozenset()
    assert settings.selection_models == (
        "seasonal_naive", "ets", "ets_yearly", "combined", "prophet"
    )  # fmt: skip
    assert "RISK_WAREHOUSE_URL" in ENVIRONMENT and "RISK_EXECUTOR" in ENVIRONMENT


def test_settings_read_the_variables_given_and_remember_which():
    settings = load_settings(
        {"RISK_FORECAST_WORKERS": "3", "RISK_SELECTION_MODELS": "ets, sarimax",
         "RISK_PARTITIONS_START": "2023-06-01", "RISK_PLATFORM": "clips"}
    )  # fmt: skip
    assert settings.forecast_workers == 3
    assert settings.selection_models == ("ets", "sarimax")
    assert settings.partitions_start == "2023-06-01" and settings.platform == "clips"
    assert settings.given == {
        "RISK_FORECAST_WORKERS", "RISK_SELECTION_MODELS", "RISK_PARTITIONS_START", "RISK_PLATFORM"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"RISK_PIPELINES_ENV": "staging"}, "RISK_PIPELINES_ENV must be 'local' or 'prod'"),
        ({"RISK_PIPELINES_ENV": "prod"}, "RISK_ID_HASH_KEY must be set"),
        ({"RISK_EXECUTOR": "threads"}, "RISK_EXECUTOR must be one of"),
        ({"RISK_FORECAST_WORKERS": "two"}, "RISK_FORECAST_WORKERS must be a whole number"),
        ({"RISK_FORECAST_WORKERS": "0"}, "RISK_FORECAST_WORKERS must be at least 1"),
    ],
)
def test_a_bad_variable_is_refused_by_name(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ)


def test_the_config_folder_is_parsed_once_and_again_when_a_file_changes(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(PACKAGED_CONFIG_DIR, config)
    first = load_config(config)
    assert load_config(config) is first  # the alert sensor asks every 30 s
    assert {r.id for r in first.alerts.rules} and first.dsa.variant == "full"
    rules = config / "alert_rules.yaml"
    text = rules.read_text()
    rules.write_text(text + "\n# changed\n")
    os.utime(rules, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
    assert load_config(config) is not first


def test_a_broken_file_names_itself(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(PACKAGED_CONFIG_DIR, config)
    (config / "suites").mkdir(exist_ok=True)
    (config / "suites" / "incidents.yaml").write_text("name: incidents\nsettings: {}\n")
    with pytest.raises(SuiteError, match=r"suites/incidents.yaml: declares no expectations"):
        load_config(config)


def test_a_deployment_overrides_a_quality_suite_and_the_ingest_uses_it(warehouse_url, tmp_path):
    """The packaged suite accepts every DSA category; this deployment's own suite does not
    accept `self_harm`, so those rows are quarantined with the suite's reason."""
    config = tmp_path / "config"
    shutil.copytree(PACKAGED_CONFIG_DIR, config)
    suite = (PACKAGED_CONFIG_DIR / "suites" / "moderation_decisions.yaml").read_text()
    assert "self_harm," in suite
    (config / "suites" / "moderation_decisions.yaml").write_text(suite.replace("self_harm,", ""))
    landing = tmp_path / "landing"
    write(landing, csv_text([*good_rows(), decision(999, policy_category="self_harm")]))
    report = ingest_dataset(
        Warehouse(warehouse_url),
        "moderation_decisions",
        [DAY],
        StageRun(landing, hash_key="k", now=NOW, config_dir=config),
    )
    reasons = report.batch.rejects.query("column_name == 'policy_category'")
    assert len(reasons) >= 1 and (reasons["source_row"] > 0).all()
    assert load_config(config).suite("moderation_decisions").path.parent == config / "suites"
    packaged = load_config(PACKAGED_CONFIG_DIR).suite("moderation_decisions")
    assert packaged.path.parent == PACKAGED_CONFIG_DIR / "suites"
