"""Demo data looks like a real moderation feed and is reproducible."""

import datetime as dt
import json

import pandas as pd

from risk_pipelines.sources.demo import DemoSpec, generate_demo_data

START, END = dt.date(2026, 1, 1), dt.date(2026, 2, 19)


def read_all(root, dataset):
    return pd.concat([pd.read_csv(p, dtype=str) for p in sorted((root / dataset).rglob("*.csv"))])


def test_same_seed_same_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        generate_demo_data(DemoSpec(START, START + dt.timedelta(6), seed=3, scale=0.2), out)
    files = sorted(p.relative_to(a) for p in a.rglob("*.csv"))
    assert files and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def test_rates_are_plausible_for_trust_and_safety(tmp_path):
    summary = generate_demo_data(DemoSpec(START, END, seed=5, scale=0.5), tmp_path)
    d = read_all(tmp_path, "moderation_decisions")
    assert len(d) == summary.decisions and 1000 < summary.decisions / summary.days < 3000
    actioned = d[d["action"] != "no_violation"]
    proactive = (
        (actioned["detection_source"] == "automated").groupby(actioned["policy_category"]).mean()
    )
    assert proactive.median() > 0.95  # high 90s for most categories...
    assert proactive.min() < 0.85  # ...and lower for some
    appealed = actioned["appealed"] == "true"
    assert 0.02 < appealed.mean() < 0.06
    decided = actioned[actioned["appeal_outcome"].isin(["upheld", "overturned"])]
    assert 0.10 < (decided["appeal_outcome"] == "overturned").mean() < 0.30
    views = actioned["views_before_action"].astype(int)
    assert 0.4 < (views == 0).mean() < 0.9
    incidents = read_all(tmp_path, "incidents")
    assert set(incidents["severity"]) <= {"sev0", "sev1", "sev2", "sev3", "sev4"}
    assert (
        pd.to_datetime(incidents["detected_at"]) >= pd.to_datetime(incidents["started_at"])
    ).all()


def test_ground_truth_names_the_injected_events(tmp_path):
    end = START + dt.timedelta(days=79)  # every event needs four normal weeks before it
    generate_demo_data(DemoSpec(START, end, seed=5, scale=0.1), tmp_path)
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    kinds = {e["kind"]: e for e in truth["events"]}
    assert set(kinds) == {"report_surge", "proactive_rate_drop", "incident_cluster"}
    surge = kinds["report_surge"]
    assert surge["end"] == end.isoformat()
    assert surge["series"] == ["user_reports|own|scams_and_fraud|DE|all"]


def test_a_short_range_leaves_out_events_that_do_not_fit(tmp_path):
    summary = generate_demo_data(
        DemoSpec(START, START + dt.timedelta(days=40), scale=0.1), tmp_path
    )
    assert [e.kind for e in summary.events] == ["report_surge"]
