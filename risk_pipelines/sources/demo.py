"""Synthetic landing files that behave like a short-video platform's moderation feed.

Two streams per day, policy category and region: content found by automated detection, and
content reported by users or trusted flaggers (most reports turn out not to violate policy).
Volumes carry trend, yearly and weekly seasonality, country holidays and over-dispersion
(gamma-Poisson). A few ground-truth events are injected and written to ``ground_truth.json``
so that tests and demos can check what the pipeline finds. Deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import holidays
import numpy as np
import pandas as pd

from risk_pipelines.domain.series import series_id
from risk_pipelines.domain.taxonomy import ACTIONS, ALL, INCIDENT_DETECTION_SOURCES, SEVERITIES

# category: (share of volume, proactive rate of actioned content, overturn rate of appeals,
#            median hours from report to action)
CATEGORY_PROFILES: dict[str, tuple[float, float, float, float]] = {
    "animal_welfare": (0.02, 0.97, 0.15, 8.0),
    "consumer_information": (0.03, 0.93, 0.20, 20.0),
    "cyber_violence": (0.08, 0.90, 0.25, 6.0),
    "cyber_violence_against_women": (0.04, 0.88, 0.22, 6.0),
    "data_protection_and_privacy_violations": (0.03, 0.80, 0.28, 24.0),
    "illegal_or_harmful_speech": (0.12, 0.86, 0.27, 10.0),
    "intellectual_property_infringements": (0.06, 0.96, 0.18, 30.0),
    "negative_effects_on_civic_discourse_or_elections": (0.03, 0.78, 0.30, 12.0),
    "not_specified_notice": (0.02, 0.70, 0.20, 36.0),
    "other_violation_tc": (0.09, 0.985, 0.12, 16.0),
    "protection_of_minors": (0.10, 0.99, 0.10, 2.0),
    "risk_for_public_security": (0.02, 0.97, 0.15, 3.0),
    "scams_and_fraud": (0.12, 0.975, 0.14, 8.0),
    "self_harm": (0.04, 0.985, 0.12, 1.5),
    "unsafe_and_prohibited_products": (0.05, 0.98, 0.16, 18.0),
    "violence": (0.07, 0.985, 0.13, 4.0),
}
REGION_WEIGHTS: dict[str, float] = {"DE": 0.45, "FR": 0.33, "IT": 0.22}
SURFACE_PROBS = {
    "video": 0.62,
    "live": 0.08,
    "comment": 0.18,
    "account": 0.05,
    "ad": 0.03,
    "product": 0.03,
    "other": 0.01,
}
ACTION_PROBS = {
    "removed": 0.72,
    "restricted": 0.08,
    "labelled": 0.05,
    "demoted": 0.07,
    "account_suspended": 0.08,
}
WEEKLY = (0.95, 0.92, 0.94, 0.97, 1.04, 1.10, 1.08)  # Monday..Sunday
DECISIONS_PER_DAY = 3000  # at scale 1
REPORT_NO_VIOLATION = 0.75  # most reports do not violate policy
AUTOMATED_NO_VIOLATION = 0.02
APPEAL_RATE = 0.035
DISPERSION = 30.0  # gamma shape: variance = mean + mean^2 / 30
INCIDENTS_PER_DAY = 0.8


@dataclass(frozen=True)
class GroundTruthEvent:
    kind: str
    policy_category: str
    region: str
    start: str
    end: str
    multiplier: float
    series: list[str] = field(default_factory=list)
    description: str = ""


@dataclass(frozen=True)
class DemoSpec:
    start: dt.date
    end: dt.date
    seed: int = 7
    scale: float = 1.0
    file_format: str = "csv"
    platform: str = "own"
    rows_per_file: int = 2500

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.scale <= 0:
            raise ValueError(f"scale must be positive, got {self.scale}")
        if self.file_format not in ("csv", "parquet"):
            raise ValueError(f"format must be csv or parquet, got {self.file_format!r}")


@dataclass
class DemoSummary:
    days: int
    decisions: int
    incidents: int
    files: int
    events: list[GroundTruthEvent]


def ground_truth_events(spec: DemoSpec) -> list[GroundTruthEvent]:
    """Events placed relative to the end of the range, so every demo range ends on one that is
    still going (the report surge) and holds ones that are over. Events that do not fit a short
    range are left out."""
    end, days = spec.end, (spec.end - spec.start).days + 1
    events = []

    def window(first_back: int, last_back: int) -> tuple[str, str] | None:
        if first_back >= days - 28:  # leave four weeks of normal history before any event
            return None
        return (
            (end - dt.timedelta(first_back)).isoformat(),
            (end - dt.timedelta(last_back)).isoformat(),
        )

    if w := window(4, 0):
        events.append(
            GroundTruthEvent(
                "report_surge",
                "scams_and_fraud",
                "DE",
                *w,
                3.0,
                [series_id("user_reports", spec.platform, "scams_and_fraud", "DE", ALL)],
                "user reports of scams in Germany triple (a coordinated scam wave)",
            )
        )
    if w := window(30, 21):
        events.append(
            GroundTruthEvent(
                "proactive_rate_drop",
                "illegal_or_harmful_speech",
                "FR",
                *w,
                0.55,
                [
                    series_id(
                        "proactive_rate", spec.platform, "illegal_or_harmful_speech", "FR", ALL
                    )
                ],
                "a classifier regression: automated detection of hate speech in France falls"
                " by 45 % and users report what it misses",
            )
        )
    if w := window(45, 43):
        events.append(
            GroundTruthEvent(
                "incident_cluster",
                "protection_of_minors",
                "DE",
                *w,
                6.0,
                [series_id("incidents", spec.platform, ALL, ALL, ALL)],
                "a cluster of high-severity child-safety incidents",
            )
        )
    return events


def generate_demo_data(spec: DemoSpec, out_dir: Path) -> DemoSummary:
    out_dir = Path(out_dir)
    rng = np.random.default_rng(spec.seed)
    events = ground_truth_events(spec)
    country_holidays = {
        r: holidays.country_holidays(r, years=range(spec.start.year, spec.end.year + 1))
        for r in REGION_WEIGHTS
    }
    decisions = incidents = files = 0
    day = spec.start
    while day <= spec.end:
        frame = _decisions_for_day(day, spec, rng, events, country_holidays)
        files += _write_parts(
            frame, out_dir / "moderation_decisions" / day.isoformat(), "decisions", spec
        )
        decisions += len(frame)
        inc = _incidents_for_day(day, spec, rng, events)
        files += _write_parts(inc, out_dir / "incidents" / day.isoformat(), "incidents", spec)
        incidents += len(inc)
        day += dt.timedelta(days=1)
    truth = {
        "spec": {**asdict(spec), "start": spec.start.isoformat(), "end": spec.end.isoformat()},
        "events": [asdict(e) for e in events],
    }
    (out_dir / "ground_truth.json").write_text(json.dumps(truth, indent=2))
    return DemoSummary((spec.end - spec.start).days + 1, decisions, incidents, files, events)


def _multiplier(events, kind, category, region, day) -> float:
    for e in events:
        if (
            e.kind == kind
            and e.policy_category == category
            and e.region == region
            and e.start <= day.isoformat() <= e.end
        ):
            return e.multiplier
    return 1.0


def _volume_factor(day: dt.date, spec: DemoSpec) -> float:
    years = (day - spec.start).days / 365.25
    trend = 1.0 + 0.18 * years
    yearly = 1.0 + 0.06 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 355) / 365.25)
    return trend * yearly * WEEKLY[day.weekday()]


def _gamma_poisson(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    lam = rng.gamma(DISPERSION, np.maximum(mean, 1e-9) / DISPERSION)
    return rng.poisson(lam)


def _decisions_for_day(day, spec, rng, events, country_holidays) -> pd.DataFrame:
    base = DECISIONS_PER_DAY * spec.scale * _volume_factor(day, spec)
    weight_total = sum(p[0] for p in CATEGORY_PROFILES.values())
    cats, regions, streams, counts = [], [], [], []
    for category, (share, proactive, _overturn, _hours) in CATEGORY_PROFILES.items():
        for region, region_weight in REGION_WEIGHTS.items():
            holiday = 1.15 if day in country_holidays[region] else 1.0
            actioned = base * share / weight_total * region_weight * holiday
            auto_mult = _multiplier(events, "proactive_rate_drop", category, region, day)
            report_mult = _multiplier(events, "report_surge", category, region, day)
            if auto_mult != 1.0:
                report_mult *= 1.0 + (1.0 - auto_mult) * 2.0  # missed content gets reported
            auto_mean = actioned * proactive * auto_mult / (1 - AUTOMATED_NO_VIOLATION)
            report_mean = actioned * (1 - proactive) * report_mult / (1 - REPORT_NO_VIOLATION)
            for stream, mean in (("automated", auto_mean), ("report", report_mean)):
                cats.append(category)
                regions.append(region)
                streams.append(stream)
                counts.append(mean)
    n_each = _gamma_poisson(rng, np.array(counts))
    category = np.repeat(np.array(cats, dtype=object), n_each)
    region = np.repeat(np.array(regions, dtype=object), n_each)
    automated = np.repeat(np.array(streams) == "automated", n_each)
    n = int(n_each.sum())

    day_start = pd.Timestamp(day)
    # Activity peaks in the evening (local time is close to UTC for these markets).
    hour_weights = np.array(
        [2, 1.5, 1, 1, 1, 1.5, 2, 3, 4, 4.5, 5, 5, 5, 5, 5, 5.5, 6, 6.5, 7, 7.5, 7.5, 6.5, 5, 3.5]
    )
    hours = rng.choice(24, size=n, p=hour_weights / hour_weights.sum())
    seconds = hours * 3600 + rng.integers(0, 3600, size=n)
    decided = day_start + pd.to_timedelta(seconds, unit="s")

    profile = pd.DataFrame(CATEGORY_PROFILES, index=["share", "proactive", "overturn", "hours"]).T
    median_hours = profile.loc[category, "hours"].to_numpy(dtype=float) if n else np.zeros(0)
    hours_to_action = rng.lognormal(np.log(np.maximum(median_hours, 0.1)), 1.0)
    reported = decided - pd.to_timedelta(np.where(automated, np.nan, hours_to_action), unit="h")
    content_age = rng.lognormal(np.where(automated, np.log(2.0), np.log(30.0)), 1.2)
    created = decided - pd.to_timedelta(content_age, unit="h")

    report_source = rng.choice(
        ["user_report", "trusted_flagger", "other"], size=n, p=[0.90, 0.07, 0.03]
    )
    detection = np.where(automated, "automated", report_source)
    no_violation = rng.random(n) < np.where(automated, AUTOMATED_NO_VIOLATION, REPORT_NO_VIOLATION)
    action_names = list(ACTION_PROBS)
    action = rng.choice(action_names, size=n, p=list(ACTION_PROBS.values()))
    action = np.where(no_violation, "no_violation", action)
    auto_decision = np.where(
        automated,
        rng.choice(["fully", "partially", "none"], size=n, p=[0.85, 0.12, 0.03]),
        rng.choice(["fully", "partially", "none"], size=n, p=[0.15, 0.35, 0.50]),
    )
    zero_view = automated & (rng.random(n) < 0.72)
    views = np.where(
        zero_view,
        0,
        np.round(rng.lognormal(np.where(automated, np.log(40), np.log(900)), 1.3)),
    ).astype(np.int64)
    appealed = (action != "no_violation") & (rng.random(n) < APPEAL_RATE)
    overturn_p = profile.loc[category, "overturn"].to_numpy(dtype=float) if n else np.zeros(0)
    u = rng.random(n)
    outcome = np.where(u < 0.08, "pending", np.where(u < 0.08 + overturn_p, "overturned", "upheld"))
    outcome = np.where(appealed, outcome, "")
    surface = rng.choice(list(SURFACE_PROBS), size=n, p=list(SURFACE_PROBS.values()))
    stamp = day.strftime("%Y%m%d")
    order = rng.permutation(n)  # a feed arrives in time order, not grouped by category
    frame = pd.DataFrame(
        {
            "event_id": [f"md-{stamp}-{i:07d}" for i in range(n)],
            "decided_at": _iso(decided),
            "reported_at": _iso(reported),
            "content_created_at": _iso(created),
            "policy_category": category,
            "region": region,
            "surface": surface,
            "detection_source": detection,
            "action": action,
            "automated_decision": auto_decision,
            "views_before_action": views,
            "appealed": np.where(appealed, "true", "false"),
            "appeal_outcome": outcome,
            "user_id": [f"u{v}" for v in rng.integers(1, 50_000_000, size=n)],
            "content_id": [f"c{v}" for v in rng.integers(1, 10**12, size=n)],
        }
    )
    frame = frame.iloc[order].sort_values("decided_at", kind="stable").reset_index(drop=True)
    assert set(frame["action"]) <= set(ACTIONS)
    return frame


def _incidents_for_day(day, spec, rng, events) -> pd.DataFrame:
    categories = list(CATEGORY_PROFILES)
    weights = np.array([p[0] for p in CATEGORY_PROFILES.values()])
    n = int(rng.poisson(INCIDENTS_PER_DAY * math.sqrt(spec.scale)))
    category = list(rng.choice(categories, size=n, p=weights / weights.sum()))
    region = list(rng.choice(list(REGION_WEIGHTS), size=n, p=list(REGION_WEIGHTS.values())))
    severity = list(rng.choice(SEVERITIES, size=n, p=[0.01, 0.05, 0.2, 0.4, 0.34]))
    for e in events:
        if e.kind == "incident_cluster" and e.start <= day.isoformat() <= e.end:
            extra = int(e.multiplier // 3)
            category += [e.policy_category] * extra
            region += [e.region] * extra
            severity += list(rng.choice(["sev1", "sev2"], size=extra))
    n = len(category)
    sev_rank = np.array([SEVERITIES.index(s) for s in severity], dtype=float)
    detected = pd.Timestamp(day) + pd.to_timedelta(rng.integers(0, 86400, size=n), unit="s")
    detect_delay = rng.lognormal(np.log(0.5 + 4.0 * sev_rank), 0.8)  # severe ones are found fast
    resolve_delay = rng.lognormal(np.log(4.0 + 16.0 * sev_rank), 0.7)
    started = detected - pd.to_timedelta(detect_delay, unit="h")
    resolved = detected + pd.to_timedelta(resolve_delay, unit="h")
    horizon = pd.Timestamp(spec.end) + pd.Timedelta(days=1)
    resolved = resolved.where(resolved < horizon)  # still open at the end of the feed
    return pd.DataFrame(
        {
            "incident_id": [f"inc-{day:%Y%m%d}-{i:03d}" for i in range(n)],
            "started_at": _iso(started),
            "detected_at": _iso(detected),
            "resolved_at": _iso(resolved),
            "severity": severity,
            "policy_category": category,
            "region": region,
            "detection_source": rng.choice(
                INCIDENT_DETECTION_SOURCES, size=n, p=[0.6, 0.2, 0.15, 0.05]
            ),
            "title": [
                f"{c.replace('_', ' ')} incident in {r}"
                for c, r in zip(category, region, strict=True)
            ],
        }
    )


def _iso(stamps) -> np.ndarray:
    """``2026-03-01T18:04:05Z``, or "" where there is no time; numpy's formatter, since
    strftime and a loop over the strings were a third of writing two years of demo data."""
    values = pd.DatetimeIndex(stamps).to_numpy(dtype="datetime64[s]")
    text = np.char.add(np.datetime_as_string(values, unit="s"), "Z")
    return np.where(np.isnat(values), "", text).astype(object)


def _write_parts(frame: pd.DataFrame, folder: Path, stem: str, spec: DemoSpec) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{stem}-*"):
        old.unlink()
    parts = max(1, math.ceil(len(frame) / spec.rows_per_file))
    for part in range(parts):
        chunk = frame.iloc[part * spec.rows_per_file : (part + 1) * spec.rows_per_file]
        path = folder / f"{stem}-{part:03d}.{spec.file_format}"
        if spec.file_format == "parquet":
            chunk.to_parquet(path, index=False)
        else:
            chunk.to_csv(path, index=False)
        _stamp_delivery_time(path, dt.date.fromisoformat(folder.name))
    return parts


def _stamp_delivery_time(path: Path, day: dt.date) -> None:
    """Date the file as a punctual upstream would have delivered it (01:00 UTC the next day),
    never later than now: freshness checks then judge the demo like a healthy feed."""
    delivered = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(1), dt.UTC)
    stamp = min(delivered, dt.datetime.now(dt.UTC)).timestamp()
    os.utime(path, (stamp, stamp))
