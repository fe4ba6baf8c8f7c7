"""Which DSA platforms to ingest, which to keep row by row, and which dump variant to read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

VARIANTS = ("full", "light")


class DsaConfigError(ValueError):
    """A dsa.yaml that cannot be used; the message names the file and field."""


@dataclass(frozen=True)
class DsaConfig:
    platforms: frozenset[str] | None  # None: every platform
    follow: frozenset[str]
    variant: str = "full"


DEFAULT_DSA_CONFIG = DsaConfig(platforms=None, follow=frozenset())


def load_dsa_config(path: Path) -> DsaConfig:
    """``dsa.yaml`` in the config folder; the defaults (all platforms counted, none followed)
    when the file is absent."""
    if not path.is_file():
        return DEFAULT_DSA_CONFIG
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DsaConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise DsaConfigError(f"{path}: expected a mapping with platforms, follow and variant")
    unknown = set(raw) - {"platforms", "follow", "variant"}
    if unknown:
        raise DsaConfigError(f"{path}: unknown key(s) {sorted(unknown)}")
    platforms = raw.get("platforms", "all")
    if platforms == "all" or platforms is None:
        chosen = None
    else:
        chosen = frozenset(_names(path, "platforms", platforms))
    follow = frozenset(_names(path, "follow", raw.get("follow") or []))
    if chosen is not None and not follow <= chosen:
        raise DsaConfigError(
            f"{path}: follow names {sorted(follow - chosen)}, which 'platforms' leaves out"
        )
    variant = raw.get("variant", "full")
    if variant not in VARIANTS:
        raise DsaConfigError(f"{path}: 'variant' is {variant!r}; expected one of {VARIANTS}")
    return DsaConfig(platforms=chosen, follow=follow, variant=variant)


def _names(path: Path, field: str, value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DsaConfigError(f"{path}: '{field}' must be \"all\" or a list of platform names")
    return [v.strip() for v in value]
