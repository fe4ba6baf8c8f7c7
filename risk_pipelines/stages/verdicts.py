"""What a run blocked, in lines a person can act on: the day, the dataset, the reason, and
where a quarantined row names one, the file, row and column."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.warehouse.schema import data_quality_results, quarantined_rows
from risk_pipelines.warehouse.store import Warehouse


def blocked_lines(warehouse: Warehouse, run_id: str, limit: int = 10) -> list[str]:
    """One line per day the run ``run_id`` blocked, first days first, at most ``limit``."""
    t = data_quality_results
    verdicts = warehouse.read_query(
        sa.select(t.c.dataset, t.c.ds, t.c.message)
        .where(t.c.run_id == run_id, t.c.check_name == "suite", t.c.passed.is_(False))
        .order_by(t.c.ds, t.c.dataset)
    )
    lines = []
    for row in verdicts.head(limit).itertuples(index=False):
        day = pd.Timestamp(row.ds).date()
        line = f"blocked {day} {row.dataset}: {row.message}"
        first = _first_quarantined(warehouse, row.dataset, day)
        if first:
            line += f"; first quarantined: {first}"
        lines.append(line)
    if len(verdicts) > limit:
        lines.append(f"... and {len(verdicts) - limit} more blocked day(s) (data_quality_results)")
    return lines


def _first_quarantined(warehouse: Warehouse, dataset: str, day) -> str | None:
    q = quarantined_rows
    found = warehouse.read_query(
        sa.select(q.c.source_file, q.c.source_row, q.c.column_name, q.c.reason)
        .where(q.c.dataset == dataset, q.c.ds == day)
        .order_by(q.c.source_file, q.c.source_row)
        .limit(1)
    )
    if found.empty:
        return None
    r = found.iloc[0]
    column = f", column {r['column_name']}" if r["column_name"] else ""
    return f"{r['source_file']} row {int(r['source_row'])}{column}: {r['reason']}"
