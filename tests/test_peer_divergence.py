"""A platform's own category mix against its DSA peers: a move of its own is flagged, a move
the whole industry makes is not."""

import datetime as dt

import numpy as np
import pandas as pd

from risk_pipelines.indicators.peers import peer_divergence

DAYS = pd.date_range("2025-09-01", periods=42, freq="D")
LAST = DAYS[-1].date()


def rows(metric, platform, category, values, source, region="all"):
    return pd.DataFrame({"ds": DAYS, "metric": metric, "platform": platform,
                         "policy_category": category, "region": region, "surface": "all",
                         "value": values, "source": source})  # fmt: skip


def world(own_scams_jump: float, peer_scams_jump: float, seed: int = 3) -> pd.DataFrame:
    """Our platform's decisions (two regions) and two peers' DSA statements per category; in
    the last week scams multiply by the given factors."""
    rng = np.random.default_rng(seed)
    last_week = np.arange(len(DAYS)) >= len(DAYS) - 7

    def counts(level, jump=1.0):
        return rng.poisson(level * np.where(last_week, jump, 1.0)).astype(float)

    frames = []
    for region in ("DE", "FR"):
        frames += [
            rows("decisions", "own", "scams_and_fraud", counts(60, own_scams_jump), "derived",
                 region),
            rows("decisions", "own", "illegal_or_harmful_speech", counts(140), "derived", region),
        ]  # fmt: skip
    for peer in ("Temu", "Amazon Store"):
        frames += [
            rows("dsa_statements", peer, "scams_and_fraud", counts(5000, peer_scams_jump), "dsa"),
            rows("dsa_statements", peer, "illegal_or_harmful_speech", counts(9000), "dsa"),
            rows("dsa_statements", peer, "all", counts(14000), "dsa"),  # totals: not a category
            rows("dsa_statements", peer, "scams_and_fraud", counts(700), "dsa", "DE"),  # a country
        ]
    return pd.concat(frames, ignore_index=True)


def scams(frame: pd.DataFrame) -> dict:
    return frame.set_index("policy_category").loc["scams_and_fraud"].to_dict()


def test_our_own_category_surge_diverges_from_peers_that_stayed_flat():
    found = scams(peer_divergence(world(own_scams_jump=1.8, peer_scams_jump=1.0), [LAST]))
    assert found["indicator"] == "peer_divergence" and found["level"] in ("high", "critical")
    assert found["unique_id"] == "decisions|own|scams_and_fraud|all|all"
    assert found["value"] > found["upper"] and "peers' share moved" in found["note"]


def test_a_move_the_whole_industry_makes_is_not_ours():
    found = scams(peer_divergence(world(own_scams_jump=1.8, peer_scams_jump=1.8), [LAST]))
    assert found["level"] == "ok", found
    # ...while the plain mix shift of our own reports would have flagged it.
    assert found["value"] > found["expected"] - 0.05


def test_without_peers_or_a_full_baseline_there_is_nothing_to_say():
    frame = world(own_scams_jump=1.8, peer_scams_jump=1.0)
    assert peer_divergence(frame[frame["source"] != "dsa"], [LAST]).empty
    early = (DAYS[20]).date()
    assert peer_divergence(frame, [early]).empty
    assert peer_divergence(frame, [dt.date(2025, 8, 1)]).empty


def test_the_peer_comparison_view_puts_our_day_next_to_the_other_platforms(warehouse_url):
    from risk_pipelines.domain.series import add_series_key
    from risk_pipelines.warehouse import Warehouse

    frame = world(own_scams_jump=1.8, peer_scams_jump=1.0)
    warehouse = Warehouse(warehouse_url)
    warehouse.replace_rows(
        "daily_metrics", add_series_key(frame.assign(ds=frame["ds"].dt.date)),
        where={"source": ["derived", "dsa"]},
    )  # fmt: skip
    view = warehouse.read_sql(
        "SELECT * FROM v_peer_comparison WHERE ds = :d ORDER BY policy_category", {"d": LAST}
    ).set_index("policy_category")
    day = frame[frame["ds"] == pd.Timestamp(LAST)]
    own = day[(day["source"] == "derived")].groupby("policy_category")["value"].sum()
    peer_rows = day[
        (day["source"] == "dsa") & (day["region"] == "all") & (day["policy_category"] != "all")
    ]
    peers = peer_rows.groupby("policy_category")["value"].sum()
    assert view["decisions"].to_dict() == own.to_dict()
    assert view["peer_statements"].to_dict() == peers.to_dict()
    assert (view["peer_platforms"] == 2).all()
    scams_row = view.loc["scams_and_fraud"]
    assert abs(scams_row["own_share"] - own["scams_and_fraud"] / own.sum()) < 1e-9
    assert abs(scams_row["peer_share"] - peers["scams_and_fraud"] / peers.sum()) < 1e-9
    assert abs(scams_row["share_gap"] - (scams_row["own_share"] - scams_row["peer_share"])) < 1e-9


PEER_RULE = """
  - id: own_category_diverges_from_peers
    description: A policy category grows in our own decisions while its share stays flat
      among the other platforms' DSA statements.
    type: indicator_level
    indicator: peer_divergence
    match: {metric: decisions}
    level: high
    recovery_level: elevated
    severity: medium
    sustain: 1
    hold: 2
    routes: [log]
    owners: [risk-analysis]
"""


def test_the_example_rule_alerts_on_the_divergence_and_the_brief_names_it(tmp_path):
    """The indicators stage computes peer_divergence beside the others; the documented rule
    (docs/operations.md) fires on it; the brief lists it under the peers."""
    import shutil

    from risk_pipelines.config import PACKAGED_CONFIG_DIR, load_alert_config
    from risk_pipelines.domain.series import add_series_key
    from risk_pipelines.reporting.brief import build_brief
    from risk_pipelines.reporting.render import render_brief_html
    from risk_pipelines.stages.alerts import evaluate_with_config
    from risk_pipelines.stages.indicators import run_indicators
    from risk_pipelines.warehouse import Warehouse

    config = tmp_path / "config"
    shutil.copytree(PACKAGED_CONFIG_DIR, config)
    rules = config / "alert_rules.yaml"
    rules.write_text(rules.read_text() + PEER_RULE)
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    frame = world(own_scams_jump=1.8, peer_scams_jump=1.0)
    warehouse.replace_rows(
        "daily_metrics", add_series_key(frame.assign(ds=frame["ds"].dt.date)),
        where={"source": ["derived", "dsa"]},
    )  # fmt: skip
    run_indicators(warehouse, [d.date() for d in DAYS[-2:]])
    evaluate_with_config(warehouse, load_alert_config(config))
    fired = warehouse.read_sql(
        "SELECT unique_id FROM alerts WHERE rule_id = 'own_category_diverges_from_peers' "
        "AND state = 'firing'"
    )["unique_id"]
    assert set(fired) == {"decisions|own|scams_and_fraud|all|all"}
    brief = build_brief(warehouse, LAST, charts=False)
    assert brief.peers and brief.peers[0].startswith("scams_and_fraud on own (critical)")
    assert 'id="peers"' in render_brief_html(brief)
