"""Time the risk console's alert list on a warehouse of 10,000 alerts, served by the real app
(uvicorn on loopback) as a browser asks for it: signed in, the whole list's counts and filter
menus, its first page sorted by significance; then a filtered list and one alert's page.

Prints the median and max of each over ``--repeat`` requests, against the same pages on a
warehouse of 100 alerts in the same run (the baseline), and the goal (list under 300 ms).

    python bench/bench_console.py [--alerts 10000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import socket
import statistics
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import numpy as np
import sqlalchemy as sa

GOAL_MS = 300.0
RULES = ("report_spike", "report_surge", "proactive_detection_drop", "platform_silent")
AREAS = ("scams_and_fraud", "violence", "illegal_or_harmful_speech", "protection_of_minors")
REGIONS = ("DE", "FR", "IT", "ES", "PL", "NL", "all")


def fill(url: str, n: int, seed: int = 7) -> None:
    from risk_pipelines.warehouse import Warehouse
    from risk_pipelines.warehouse.schema import alerts

    rng = np.random.default_rng(seed)
    day = dt.date(2026, 12, 1)
    rows = []
    for i in range(n):
        area, region = AREAS[i % len(AREAS)], REGIONS[i % len(REGIONS)]
        first = day - dt.timedelta(days=int(rng.integers(0, 365)))
        rows.append({
            "rule_id": RULES[i % len(RULES)], "state": rng.choice(["firing", "resolved", "pending"],
                                                                  p=[0.1, 0.85, 0.05]),
            "unique_id": f"user_reports|platform{i % 20}|{area}|{region}|all",
            "severity": rng.choice(["low", "medium", "high", "critical"]), "metric": "user_reports",
            "policy_category": area, "region": region, "first_breach_ds": first,
            "last_evaluated_ds": first + dt.timedelta(days=3), "opened_at": dt.datetime(2026, 1, 1),
            "fired_at": dt.datetime(2026, 1, 1), "breach_count": 2, "clean_count": 0,
            "message": f"user_reports on platform{i % 20} was {100 + i} above its band",
            "significance": float(rng.lognormal(2, 1)),
        })  # fmt: skip
    warehouse = Warehouse(url)
    with warehouse.engine.begin() as conn:
        conn.execute(sa.insert(alerts), rows)


def serve(url: str, data_dir: Path):
    import uvicorn

    from risk_pipelines.config import load_console_settings, load_settings
    from risk_pipelines.console.app import create_app
    from risk_pipelines.console.auth import add_user

    environ = {"RISK_WAREHOUSE_URL": url, "RISK_DATA_DIR": str(data_dir)}
    console = load_console_settings(environ)
    add_user(console.users_file, "bench", "viewer", "bench-password")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(load_settings(environ), console)
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def signed_in(base: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"name": "bench", "password": "bench-password", "csrf_token": token, "next": "/"}
    opener.open(f"{base}/login", urllib.parse.urlencode(form).encode())
    return opener


def timed(opener, url: str, repeat: int) -> tuple[float, float, int]:
    seconds, size = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        size = len(opener.open(url).read())
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds) * 1000, max(seconds) * 1000, size


def measure(n: int, repeat: int) -> dict[str, tuple[float, float, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/warehouse.sqlite"
        fill(url, n)
        server, base = serve(url, Path(tmp))
        try:
            opener = signed_in(base)
            opener.open(f"{base}/alerts").read()  # warm: templates compiled, schema checked
            return {
                "alert list": timed(opener, f"{base}/alerts", repeat),
                "filtered": timed(
                    opener, f"{base}/alerts?state=firing&policy_category=violence", repeat
                ),
                "alert page": timed(opener, f"{base}/alerts/{n // 2}", repeat),
            }
        finally:
            server.should_exit = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    baseline = measure(100, args.repeat)
    large = measure(args.alerts, args.repeat)
    print(f"risk console, {args.repeat} requests each (median / max ms, page size)")
    print(f"{'page':12s} {'100 alerts':>22s} {f'{args.alerts:,} alerts':>22s} {'ratio':>6s}")
    for name in large:
        (m0, x0, _), (m1, x1, size) = baseline[name], large[name]
        print(f"{name:12s} {m0:9.1f} / {x0:7.1f} ms {m1:9.1f} / {x1:7.1f} ms {m1 / m0:6.2f}x"
              f"  ({size:,} bytes)")  # fmt: skip
    listed = large["alert list"][0]
    verdict = "met" if listed <= GOAL_MS else "missed"
    print(f"alert list of {args.alerts:,}: {listed:.1f} ms, goal {GOAL_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
