"""How a rule picks its series, one dimension at a time: a value, a list of values, ``"*"``
(any value), or ``{not: value-or-list}`` (any value but those). A negated or wildcard match
watches the categories a taxonomy adds later without editing the rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

ANY = "*"


class MatcherError(ValueError):
    """A match entry of an unknown form; the caller adds the file, rule and dimension."""


@dataclass(frozen=True)
class Matcher:
    values: frozenset[str] = frozenset()  # empty and not negated: any value
    negate: bool = False

    def accepts(self, value: Any) -> bool:
        if not self.values:
            return value is not None
        return (str(value) in self.values) != self.negate

    def mask(self, column: pd.Series) -> pd.Series:
        if not self.values:
            return column.notna()
        hit = column.astype(str).isin(self.values)
        return ~hit if self.negate else hit

    def describe(self) -> str:
        if not self.values:
            return ANY
        listed = ", ".join(sorted(self.values))
        return f"not {listed}" if self.negate else listed


def parse_matcher(raw: Any) -> Matcher:
    if isinstance(raw, dict):
        if set(raw) != {"not"}:
            raise MatcherError(f"a mapping must be {{not: value or list}}, got keys {sorted(raw)}")
        return Matcher(_values(raw["not"]), negate=True)
    if raw == ANY:
        return Matcher()
    return Matcher(_values(raw))


def _values(raw: Any) -> frozenset[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not items or any(isinstance(v, dict | list) or v is None or v == ANY for v in items):
        raise MatcherError(f"expected a value or a list of values, got {raw!r}")
    return frozenset(str(v) for v in items)
