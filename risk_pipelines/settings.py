"""Configuration from the environment names in DESIGN.md, read when asked, never at import."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_CONFIG_DIR = PACKAGE_DIR / "config"

# Keyed hashing of user and content ids needs a key. This one ships in the code, so it protects
# nothing: it exists only so the demo runs without set-up. Production sets RISK_ID_HASH_KEY.
DEMO_ID_HASH_KEY = "demo-only-not-a-secret"


def project_root() -> Path:
    """The checkout the package was installed from (editable installs), else the working dir."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").exists():
        return candidate
    return Path.cwd()


def data_dir() -> Path:
    return Path(os.environ.get("RISK_DATA_DIR") or project_root() / "data")


def default_warehouse_url() -> str:
    return f"sqlite:///{data_dir() / 'warehouse.sqlite'}"


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


def load_settings() -> Settings:
    env = os.environ.get("RISK_PIPELINES_ENV", "local")
    if env not in ("local", "prod"):
        raise ValueError(f"RISK_PIPELINES_ENV must be 'local' or 'prod', got {env!r}")
    key = os.environ.get("RISK_ID_HASH_KEY")
    if env == "prod" and not key:
        raise ValueError("RISK_ID_HASH_KEY must be set when RISK_PIPELINES_ENV=prod")
    return Settings(
        env=env,
        warehouse_url=os.environ.get("RISK_WAREHOUSE_URL") or default_warehouse_url(),
        landing_dir=Path(os.environ.get("RISK_LANDING_DIR") or data_dir() / "landing"),
        config_dir=Path(os.environ.get("RISK_PIPELINES_CONFIG") or PACKAGED_CONFIG_DIR),
        platform=os.environ.get("RISK_PLATFORM", "own"),
        id_hash_key=key or DEMO_ID_HASH_KEY,
        id_hash_key_is_demo=not key,
        data_docs_dir=Path(os.environ.get("RISK_DATA_DOCS_DIR") or data_dir() / "data_docs"),
        briefs_dir=Path(os.environ.get("RISK_BRIEFS_DIR") or data_dir() / "briefs"),
    )
