"""What a headless run shows a person: one line per step with its partitions, rows and seconds,
while Dagster's whole event log (a few thousand DEBUG lines for a two-year backfill) goes to a
file whose path the command prints, or to the terminal with ``--verbose``.

The lines are read off Dagster's own log records as the run goes, so a long step is seen
starting and a failure is seen as it happens, not after the run returns.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import dagster as dg

STEP_LOG_FORMAT = "%(asctime)s - %(levelname)s - %(message)s"


@dataclass(frozen=True)
class RunOutput:
    """Where a headless run's output goes: ``log_dir`` gets ``<run id>.log`` with every event;
    ``stream`` gets the step lines; ``verbose`` also sends every event to the terminal."""

    log_dir: Path
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    verbose: bool = False

    def log_path(self, run_id: str) -> Path:
        return self.log_dir / f"{run_id}.log"

    def loggers(self) -> dict[str, dg.LoggerDefinition]:
        return {
            "console": dg.colored_console_logger,
            "run_log_file": _file_logger(self),
            "step_progress": _progress_logger(self),
        }

    def run_config(self) -> dict:
        loggers: dict[str, dict] = {"run_log_file": {}, "step_progress": {}}
        if self.verbose:
            loggers["console"] = {"config": {"log_level": "DEBUG"}}
        return {"loggers": loggers}


def _file_logger(output: RunOutput) -> dg.LoggerDefinition:
    @dg.logger(description="Every event of the run, at DEBUG, to <log dir>/<run id>.log.")
    def run_log_file(init_context: dg.InitLoggerContext) -> logging.Logger:
        output.log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(output.log_path(init_context.run_id or "run"))
        handler.setFormatter(logging.Formatter(STEP_LOG_FORMAT))
        return _logger(f"risk_pipelines.run_log.{init_context.run_id}", handler)

    return run_log_file


def _progress_logger(output: RunOutput) -> dg.LoggerDefinition:
    @dg.logger(description="One line per step for a person at the terminal.")
    def step_progress(init_context: dg.InitLoggerContext) -> logging.Logger:
        return _logger(
            f"risk_pipelines.step_progress.{init_context.run_id}", StepProgress(output.stream)
        )

    return step_progress


def _logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # the root logger's handlers would print every event again
    return logger


class StepProgress(logging.Handler):
    """Turns step events into lines: ``  metrics  730 partitions  18,722 rows  12.3s``. On a
    terminal the step's line shows while it runs and is overwritten when it ends."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.DEBUG)
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.started: dict[str, float] = {}
        self.partitions: dict[str, int] = {}
        self.rows: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key")
        if step is None:
            return
        if event is None:  # a stage's own progress ("forecast 150/229 series"): the live line
            if self.tty and record.levelno >= logging.INFO and step in self.started:
                message = str(meta.get("orig_message", ""))[:60]
                self._write(f"  {step:34s} {message}", end="")
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.started[step] = time.perf_counter()
            if self.tty:
                self._write(f"  {step:34s} running...", end="")
        elif kind == "ASSET_MATERIALIZATION":
            self.partitions[step] = self.partitions.get(step, 0) + 1
            count = _row_count(event)
            if count is not None:  # a range step repeats its metadata on every partition
                self.rows[step] = count
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            self._write(self._summary(step, kind))

    def _summary(self, step: str, kind: str) -> str:
        seconds = time.perf_counter() - self.started.get(step, time.perf_counter())
        parts = [f"  {step:34s}"]
        if step in self.partitions:
            parts.append(f"{self.partitions[step]:>5,} partition(s)")
        if step in self.rows:
            parts.append(f"{self.rows[step]:>10,} rows")
        verdict = {"STEP_SUCCESS": "", "STEP_FAILURE": "  FAILED", "STEP_SKIPPED": "  skipped"}
        return "  ".join(parts) + f"  {seconds:6.1f}s" + verdict[kind]

    def _write(self, line: str, end: str = "\n") -> None:
        prefix = "\r\033[K" if self.tty else ""
        self.stream.write(prefix + line + end)
        self.stream.flush()


def _row_count(event) -> int | None:
    materialization = getattr(event, "step_materialization_data", None)
    metadata = getattr(getattr(materialization, "materialization", None), "metadata", None) or {}
    value = metadata.get("dagster/row_count")
    return int(value.value) if value is not None else None
