"""The one clock every stage reads: naive UTC, as the warehouse stores timestamps."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
