"""Dagster resources: thin wrappers that hand the pure core its warehouse and settings."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from risk_pipelines.alerting.config import AlertConfig, load_alert_config
from risk_pipelines.forecasting import ForecastConfig
from risk_pipelines.forecasting.backtest import BacktestConfig
from risk_pipelines.forecasting.parallel import default_workers
from risk_pipelines.indicators.derived import ReviewQueue, load_capacities
from risk_pipelines.settings import load_settings
from risk_pipelines.sources.dsa_config import DsaConfig, load_dsa_config
from risk_pipelines.warehouse.store import Warehouse

_WAREHOUSES: dict[str, Warehouse] = {}


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse URL (RISK_WAREHOUSE_URL); SQLite under the data folder when unset."""

    url: str

    def get(self) -> Warehouse:
        # One engine per URL and process: the engine pools connections across assets.
        if self.url not in _WAREHOUSES:
            _WAREHOUSES[self.url] = Warehouse(self.url)
        return _WAREHOUSES[self.url]


# The candidates of the weekly selection; add "sarimax" to try it (about 0.7 s a fit).
DEFAULT_SELECTION_MODELS = "seasonal_naive,ets,prophet"


class PipelineConfigResource(dg.ConfigurableResource):
    """Where data lands, whose platform it is, the id-hash key, and the YAML config folder."""

    landing_dir: str
    config_dir: str
    platform: str = "own"
    id_hash_key: str
    # Great Expectations Data Docs pages, one per validation (RISK_DATA_DOCS_DIR).
    data_docs_dir: str
    # The daily risk brief's HTML and PNG, one pair per day (RISK_BRIEFS_DIR).
    briefs_dir: str
    forecast_horizon: int = 28
    forecast_history_days: int = 730
    forecast_workers: int = 2
    backtest_windows: int = 3
    selection_models: str = DEFAULT_SELECTION_MODELS

    def forecast_config(self) -> ForecastConfig:
        return ForecastConfig(
            horizon=self.forecast_horizon,
            history_days=self.forecast_history_days,
            workers=self.forecast_workers,
        )

    def backtest_config(self) -> BacktestConfig:
        return BacktestConfig(
            horizon=self.forecast_horizon,
            windows=self.backtest_windows,
            step=self.forecast_horizon,
            models=tuple(m.strip() for m in self.selection_models.split(",") if m.strip()),
            history_days=self.forecast_history_days,
        )

    def capacities(self) -> list[ReviewQueue]:
        return load_capacities(Path(self.config_dir) / "capacity.yaml")

    def alert_config(self) -> AlertConfig:
        return load_alert_config(Path(self.config_dir))

    def dsa_config(self) -> DsaConfig:
        return load_dsa_config(Path(self.config_dir) / "dsa.yaml")


def explicit_resources(
    warehouse_url: str,
    landing_dir: str | Path,
    *,
    config_dir: str | Path | None = None,
    id_hash_key: str,
    platform: str = "own",
    forecast_workers: int = 2,
    data_docs_dir: str | Path | None = None,
) -> dict[str, dg.ConfigurableResource]:
    """Resources given outright rather than from the environment (tests, benchmarks)."""
    from risk_pipelines.settings import PACKAGED_CONFIG_DIR

    return {
        "warehouse": WarehouseResource(url=warehouse_url),
        "pipeline_config": PipelineConfigResource(
            landing_dir=str(landing_dir),
            config_dir=str(config_dir or PACKAGED_CONFIG_DIR),
            platform=platform,
            id_hash_key=id_hash_key,
            forecast_workers=forecast_workers,
            data_docs_dir=str(data_docs_dir or Path(landing_dir).parent / "data_docs"),
            briefs_dir=str(Path(landing_dir).parent / "briefs"),
        ),
    }


def _env_or(name: str, default: str) -> str | dg.EnvVar:
    # Presence only: the value itself is resolved by Dagster when the resource is built.
    return dg.EnvVar(name) if os.environ.get(name) else default


def build_resources() -> dict[str, dg.ConfigurableResource]:
    settings = load_settings()
    return {
        "warehouse": WarehouseResource(url=_env_or("RISK_WAREHOUSE_URL", settings.warehouse_url)),
        "pipeline_config": PipelineConfigResource(
            landing_dir=_env_or("RISK_LANDING_DIR", str(settings.landing_dir)),
            config_dir=_env_or("RISK_PIPELINES_CONFIG", str(settings.config_dir)),
            platform=_env_or("RISK_PLATFORM", settings.platform),
            id_hash_key=_env_or("RISK_ID_HASH_KEY", settings.id_hash_key),
            data_docs_dir=_env_or("RISK_DATA_DOCS_DIR", str(settings.data_docs_dir)),
            briefs_dir=_env_or("RISK_BRIEFS_DIR", str(settings.briefs_dir)),
            forecast_workers=int(os.environ.get("RISK_FORECAST_WORKERS") or default_workers()),
            selection_models=os.environ.get(
                "RISK_SELECTION_MODELS",
                PipelineConfigResource.model_fields["selection_models"].default,
            ),
        ),
    }
