"""What every stage is handed besides the warehouse and its days: where the data lands, whose
platform it is, the validated configuration, which run this is and when."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from risk_pipelines.config import PACKAGED_CONFIG_DIR, RiskConfig, load_config
from risk_pipelines.domain.clock import utc_now

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class StageRun:
    landing_dir: Path
    platform: str = "own"
    hash_key: str = ""
    run_id: str = "manual"
    now: dt.datetime = field(default_factory=utc_now)
    docs_dir: Path | None = None
    config_dir: Path = PACKAGED_CONFIG_DIR
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("risk_pipelines"))

    @property
    def config(self) -> RiskConfig:
        """The config folder's YAML, validated (parsed once, again only when a file changes)."""
        return load_config(self.config_dir)
