"""The resources and the executor of every job, chosen from the environment in one place.

Resources are thin: they hand the stages their warehouse and a ``StageRun`` (where data lands,
whose platform it is, the validated config). Values that may be secrets (the warehouse URL, the
id-hash key) are given to Dagster as ``dg.EnvVar`` when set, so they never land in run config.

Executors (RISK_EXECUTOR):
- ``multiprocess`` (default): Dagster's own, each step a process on the machine running the run;
- ``in_process``: every step in the run's process (debugging);
- ``celery``: each step a task on a Celery broker, taken by whichever worker is free
  (``dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml``), so the weekly
  selection's policy areas, one run each, spread over the workers. The broker and backend URLs
  are read from RISK_CELERY_BROKER and RISK_CELERY_BACKEND when a run starts.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from risk_pipelines.config import (
    BACKTEST_WINDOWS,
    DEFAULT_SELECTION_MODELS,
    FORECAST_HISTORY_DAYS,
    FORECAST_HORIZON_DAYS,
    PACKAGED_CONFIG_DIR,
    ConfigError,
    RiskConfig,
    Settings,
    celery_missing,
    load_config,
    load_settings,
)
from risk_pipelines.forecasting import ForecastConfig
from risk_pipelines.forecasting.backtest import BacktestConfig
from risk_pipelines.stages.context import StageRun
from risk_pipelines.warehouse.store import Warehouse

_WAREHOUSES: dict[str, Warehouse] = {}

# A worker holds one task at a time and acknowledges it when done: an idle worker takes the
# next area instead of it queueing behind a busy one, and a task whose worker died is
# delivered again (every step rewrites its own slice, so running it twice is harmless).
CELERY_SETTINGS = {"worker_prefetch_multiplier": 1, "task_acks_late": True}


class ExecutorConfigError(ConfigError):
    pass


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse URL (RISK_WAREHOUSE_URL); SQLite under the data folder when unset."""

    url: str

    def get(self) -> Warehouse:
        # One engine per URL and process: the engine pools connections across assets.
        if self.url not in _WAREHOUSES:
            _WAREHOUSES[self.url] = Warehouse(self.url)
        return _WAREHOUSES[self.url]


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
    forecast_horizon: int = FORECAST_HORIZON_DAYS
    forecast_history_days: int = FORECAST_HISTORY_DAYS
    forecast_workers: int = 2
    backtest_windows: int = BACKTEST_WINDOWS
    selection_models: str = ",".join(DEFAULT_SELECTION_MODELS)

    def stage_run(self, run_id: str, log=None) -> StageRun:
        """What a stage is handed for this run (its log goes to the step's Dagster log)."""
        extra = {"log": log} if log is not None else {}
        return StageRun(
            landing_dir=Path(self.landing_dir),
            platform=self.platform,
            hash_key=self.id_hash_key,
            run_id=run_id,
            docs_dir=Path(self.data_docs_dir),
            config_dir=Path(self.config_dir),
            **extra,
        )

    def config(self) -> RiskConfig:
        return load_config(Path(self.config_dir))

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


def build_resources(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    """The resources of the environment: a variable that is set reaches Dagster as an EnvVar
    (resolved when the resource is built), an unset one as its default."""
    s = settings or load_settings()

    def env_or(name: str, default: str) -> str | dg.EnvVar:
        return dg.EnvVar(name) if name in s.given else default

    return {
        "warehouse": WarehouseResource(url=env_or("RISK_WAREHOUSE_URL", s.warehouse_url)),
        "pipeline_config": PipelineConfigResource(
            landing_dir=env_or("RISK_LANDING_DIR", str(s.landing_dir)),
            config_dir=env_or("RISK_PIPELINES_CONFIG", str(s.config_dir)),
            platform=env_or("RISK_PLATFORM", s.platform),
            id_hash_key=env_or("RISK_ID_HASH_KEY", s.id_hash_key),
            data_docs_dir=env_or("RISK_DATA_DOCS_DIR", str(s.data_docs_dir)),
            briefs_dir=env_or("RISK_BRIEFS_DIR", str(s.briefs_dir)),
            forecast_workers=s.forecast_workers,
            selection_models=",".join(s.selection_models),
        ),
    }


def executor_from_settings(settings: Settings | None = None) -> dg.ExecutorDefinition | None:
    """The executor for every job of the code location; None keeps Dagster's default."""
    try:
        s = settings or load_settings()
    except ConfigError as exc:
        raise ExecutorConfigError(str(exc)) from exc
    if s.executor == "in_process":
        return dg.in_process_executor
    if s.executor == "multiprocess":
        return None
    missing = celery_missing()
    if missing:
        raise ExecutorConfigError(
            f"RISK_EXECUTOR=celery needs {' and '.join(missing)} (e.g. redis://host:6379/0)"
        )
    from dagster_celery import celery_executor

    return celery_executor.configured(
        {
            "broker": {"env": "RISK_CELERY_BROKER"},
            "backend": {"env": "RISK_CELERY_BACKEND"},
            "config_source": CELERY_SETTINGS,
        },
        name="celery",
    )


@dg.definitions
def resources_and_executor() -> dg.Definitions:
    """Every job's resources and executor, from the environment as it is when the code
    location loads."""
    settings = load_settings()
    return dg.Definitions(
        resources=build_resources(settings), executor=executor_from_settings(settings)
    )
