"""Everything a deployment can configure, in one place.

Two frozen objects answer "what can I configure?":

- ``Settings``: the environment variables (``ENVIRONMENT`` lists every one with its default),
  read once per call of ``load_settings``; no other module reads the environment.
- ``RiskConfig``: every YAML file of the config folder (``RISK_PIPELINES_CONFIG``, else the
  packaged ``risk_pipelines/defaults/``), parsed and validated together by ``load_config``,
  cached per process and parsed again only when one of its files changes. Errors name the file,
  the entry and the field.

A deployment's folder holds the files it changes: ``alert_rules.yaml`` (required),
``channels.yaml``, ``calendar.yaml``, ``capacity.yaml``, ``dsa.yaml`` (each optional, with the
behaviour its loader documents when absent), and ``suites/<dataset>.yaml`` for any quality suite
it overrides (the packaged suite otherwise).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from risk_pipelines.alerting.evaluation.rules import Rule, load_rules
from risk_pipelines.alerting.notification.calendar import Calendar, load_calendar
from risk_pipelines.alerting.notification.routes import RouteConfig, load_routes
from risk_pipelines.forecasting.backtest import BacktestConfig
from risk_pipelines.forecasting.engine import ForecastConfig
from risk_pipelines.forecasting.parallel import default_workers
from risk_pipelines.indicators.derived import ReviewQueue, load_capacities
from risk_pipelines.quality.suite import SUITES_DIR, Suite, load_suite
from risk_pipelines.sources.dsa_config import DsaConfig, load_dsa_config

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_CONFIG_DIR = PACKAGE_DIR / "defaults"
SUITE_NAMES = ("moderation_decisions", "incidents", "daily_metrics", "dsa_statements")
EXECUTORS = ("multiprocess", "in_process", "celery")

# Keyed hashing of user and content ids needs a key. This one ships in the code, so it protects
# nothing: it exists only so the demo runs without set-up. Production sets RISK_ID_HASH_KEY.
DEMO_ID_HASH_KEY = "demo-only-not-a-secret"

# The forecasting defaults as forecasting/ writes them (once), named here for the reader.
DEFAULT_SELECTION_MODELS = BacktestConfig.models
FORECAST_HORIZON_DAYS = ForecastConfig.horizon
FORECAST_HISTORY_DAYS = ForecastConfig.history_days
BACKTEST_WINDOWS = BacktestConfig.windows

# Every environment variable the project reads: name -> what it sets (default).
ENVIRONMENT: dict[str, str] = {
    "RISK_PIPELINES_ENV": "local or prod; prod requires RISK_ID_HASH_KEY (local)",
    "RISK_DATA_DIR": "where the embedded defaults keep their files (<checkout>/data)",
    "RISK_WAREHOUSE_URL": "SQLAlchemy URL of the warehouse (SQLite under RISK_DATA_DIR)",
    "RISK_LANDING_DIR": "landing folder: <dataset>/<day>/ files and dsa/ dumps "
    "(RISK_DATA_DIR/landing)",
    "RISK_PIPELINES_CONFIG": "folder of YAML files overriding the packaged ones "
    "(risk_pipelines/defaults)",
    "RISK_PLATFORM": "the platform our own feed describes (own)",
    "RISK_ID_HASH_KEY": "key of the keyed hashes of user and content ids (demo key)",
    "RISK_DATA_DOCS_DIR": "Great Expectations Data Docs pages (RISK_DATA_DIR/data_docs)",
    "RISK_BRIEFS_DIR": "the daily brief's HTML and PNG (RISK_DATA_DIR/briefs)",
    "RISK_PARTITIONS_START": "first daily partition (2024-01-01)",
    "RISK_EXECUTOR": f"{' | '.join(EXECUTORS)} (multiprocess)",
    "RISK_CELERY_BROKER": "Celery broker URL, with RISK_EXECUTOR=celery (none)",
    "RISK_CELERY_BACKEND": "Celery result backend URL, with RISK_EXECUTOR=celery (none)",
    "RISK_FORECAST_WORKERS": "processes that fit forecasts (the machine's cores, at most 8)",
    "RISK_SELECTION_MODELS": "candidate models of the weekly selection "
    f"({','.join(DEFAULT_SELECTION_MODELS)})",
    "DAGSTER_HOME": "Dagster's instance folder; headless runs show in the UI when set (none)",
    "RISK_CONSOLE_URL": "the risk console's address, for links in digests and the brief "
    "(http://127.0.0.1:3001)",
    "RISK_CONSOLE_USERS": "the console's users file: names, roles, password hashes "
    "(RISK_DATA_DIR/console_users.yaml)",
    "RISK_CONSOLE_AUTH": "password (the users file) or proxy (a trusted reverse proxy's header "
    "names the user) (password)",
    "RISK_CONSOLE_PROXY_HEADER": "the header a trusted proxy sets, with RISK_CONSOLE_AUTH=proxy "
    "(X-Forwarded-User)",
    "RISK_CONSOLE_SECRET": "key that signs the console's session cookies (local: generated "
    "into RISK_DATA_DIR/console_secret; required in prod)",
}


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable or file and field."""


def project_root() -> Path:
    """The checkout the package was installed from (editable installs), else the working dir."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").exists():
        return candidate
    return Path.cwd()


@dataclass(frozen=True)
class Settings:
    env: str
    warehouse_url: str
    landing_dir: Path
    config_dir: Path
    platform: str
    id_hash_key: str
    id_hash_key_is_demo: bool
    data_docs_dir: Path
    briefs_dir: Path
    partitions_start: str = "2024-01-01"
    executor: str = "multiprocess"
    forecast_workers: int = field(default_factory=default_workers)
    selection_models: tuple[str, ...] = DEFAULT_SELECTION_MODELS
    dagster_home: Path | None = None
    data_dir: Path = Path("data")  # RISK_DATA_DIR: the defaults above, and headless run logs
    # Names of the variables given, so the Dagster resources can defer their values to
    # dg.EnvVar (a secret then never lands in run config).
    given: frozenset[str] = frozenset()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = _environment(environ)
    stage = env.get("RISK_PIPELINES_ENV", "local")
    if stage not in ("local", "prod"):
        raise ConfigError(f"RISK_PIPELINES_ENV must be 'local' or 'prod', got {stage!r}")
    key = env.get("RISK_ID_HASH_KEY")
    if stage == "prod" and not key:
        raise ConfigError("RISK_ID_HASH_KEY must be set when RISK_PIPELINES_ENV=prod")
    executor = env.get("RISK_EXECUTOR") or "multiprocess"
    if executor not in EXECUTORS:
        raise ConfigError(f"RISK_EXECUTOR must be one of {', '.join(EXECUTORS)}: {executor!r}")
    data = Path(env.get("RISK_DATA_DIR") or project_root() / "data")
    models = env.get("RISK_SELECTION_MODELS")
    return Settings(
        env=stage,
        warehouse_url=env.get("RISK_WAREHOUSE_URL") or f"sqlite:///{data / 'warehouse.sqlite'}",
        landing_dir=Path(env.get("RISK_LANDING_DIR") or data / "landing"),
        config_dir=Path(env.get("RISK_PIPELINES_CONFIG") or PACKAGED_CONFIG_DIR),
        platform=env.get("RISK_PLATFORM", "own"),
        id_hash_key=key or DEMO_ID_HASH_KEY,
        id_hash_key_is_demo=not key,
        data_docs_dir=Path(env.get("RISK_DATA_DOCS_DIR") or data / "data_docs"),
        briefs_dir=Path(env.get("RISK_BRIEFS_DIR") or data / "briefs"),
        partitions_start=env.get("RISK_PARTITIONS_START") or "2024-01-01",
        executor=executor,
        forecast_workers=_positive_int(env, "RISK_FORECAST_WORKERS", default_workers()),
        selection_models=_names(models) if models else DEFAULT_SELECTION_MODELS,
        dagster_home=Path(env["DAGSTER_HOME"]) if env.get("DAGSTER_HOME") else None,
        data_dir=data,
        given=frozenset(name for name in ENVIRONMENT if env.get(name)),
    )


@dataclass(frozen=True)
class ConsoleSettings:
    url: str
    users_file: Path
    auth: str  # password | proxy
    proxy_header: str
    secret: str | None  # None: local, kept in secret_file
    secret_file: Path

    @property
    def secure_cookies(self) -> bool:
        return self.url.startswith("https://")


DEFAULT_CONSOLE_URL = "http://127.0.0.1:3001"


def console_url(environ: Mapping[str, str] | None = None) -> str | None:
    """Where digests and the brief link alerts to: RISK_CONSOLE_URL; locally the console's
    default address; in prod nothing unless it is set (a link to localhost helps nobody)."""
    env = _environment(environ)
    if env.get("RISK_CONSOLE_URL"):
        return env["RISK_CONSOLE_URL"].rstrip("/")
    return None if env.get("RISK_PIPELINES_ENV", "local") == "prod" else DEFAULT_CONSOLE_URL


def load_console_settings(environ: Mapping[str, str] | None = None) -> ConsoleSettings:
    env = _environment(environ)
    settings = load_settings(env)
    auth = env.get("RISK_CONSOLE_AUTH") or "password"
    if auth not in ("password", "proxy"):
        raise ConfigError(f"RISK_CONSOLE_AUTH must be 'password' or 'proxy', got {auth!r}")
    secret = env.get("RISK_CONSOLE_SECRET")
    if settings.env == "prod" and not secret:
        raise ConfigError("RISK_CONSOLE_SECRET must be set when RISK_PIPELINES_ENV=prod")
    return ConsoleSettings(
        url=console_url(env) or DEFAULT_CONSOLE_URL,
        users_file=Path(env.get("RISK_CONSOLE_USERS") or settings.data_dir / "console_users.yaml"),
        auth=auth,
        proxy_header=env.get("RISK_CONSOLE_PROXY_HEADER") or "X-Forwarded-User",
        secret=secret,
        secret_file=settings.data_dir / "console_secret",
    )


def celery_missing(environ: Mapping[str, str] | None = None) -> list[str]:
    """The Celery variables RISK_EXECUTOR=celery needs and the environment lacks. Their values
    are read by the executor when a run starts, never written into run config."""
    env = _environment(environ)
    return [name for name in ("RISK_CELERY_BROKER", "RISK_CELERY_BACKEND") if not env.get(name)]


def secret_environment() -> Mapping[str, str]:
    """The live environment, for channel secrets named in channels.yaml (``*_env`` keys): read
    when a notification is sent, so a rotated secret is picked up on the next tick."""
    return os.environ


def _environment(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {text!r}") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


# -- the YAML files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertConfig:
    rules: list[Rule]
    routes: RouteConfig
    calendar: Calendar


@dataclass(frozen=True)
class RiskConfig:
    """Every YAML file of one config folder, validated."""

    config_dir: Path
    alerts: AlertConfig
    capacities: tuple[ReviewQueue, ...]
    dsa: DsaConfig
    suites: Mapping[str, Suite]

    def suite(self, name: str) -> Suite:
        return self.suites[name]


def suite_path(config_dir: Path, name: str) -> Path:
    """The deployment's ``suites/<name>.yaml`` when it has one, else the packaged suite."""
    override = Path(config_dir) / "suites" / f"{name}.yaml"
    return override if override.is_file() else SUITES_DIR / f"{name}.yaml"


def load_alert_config(config_dir: Path) -> AlertConfig:
    """alert_rules.yaml, channels.yaml and calendar.yaml; the latter two are optional (log
    only; no known events beyond public holidays)."""
    config_dir = Path(config_dir)
    routes = load_routes(config_dir / "channels.yaml")
    return AlertConfig(
        rules=load_rules(config_dir / "alert_rules.yaml", known_routes=list(routes.routes)),
        routes=routes,
        calendar=load_calendar(config_dir / "calendar.yaml"),
    )


def _parse(config_dir: Path) -> RiskConfig:
    suites = {}
    for name in SUITE_NAMES:
        path = suite_path(config_dir, name)
        suites[name] = load_suite(name, path.parent)
    return RiskConfig(
        config_dir=config_dir,
        alerts=load_alert_config(config_dir),
        capacities=tuple(load_capacities(config_dir / "capacity.yaml")),
        dsa=load_dsa_config(config_dir / "dsa.yaml"),
        suites=suites,
    )


_CACHE: dict[Path, tuple[tuple, RiskConfig]] = {}
_CACHE_LOCK = threading.Lock()


def load_config(config_dir: Path | str) -> RiskConfig:
    """The config folder parsed once per process, and again only when a file in it changes
    (the alert sensor asks every 30 s; parsing three YAML files each time was waste)."""
    config_dir = Path(config_dir).resolve()
    stamp = _stamp(config_dir)
    with _CACHE_LOCK:
        cached = _CACHE.get(config_dir)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    config = _parse(config_dir)
    with _CACHE_LOCK:
        _CACHE[config_dir] = (stamp, config)
    return config


def _stamp(config_dir: Path) -> tuple:
    """Names, sizes and modification times of every file the folder's config is read from."""
    paths = [config_dir / name for name in (
        "alert_rules.yaml", "channels.yaml", "calendar.yaml", "capacity.yaml", "dsa.yaml"
    )] + [suite_path(config_dir, name) for name in SUITE_NAMES]  # fmt: skip
    stamp = []
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            stamp.append((str(path), None))
            continue
        stamp.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(stamp)
