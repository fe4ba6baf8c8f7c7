"""One tick of risk_alerts_sensor in a process of its own, as the daemon's code server runs it:
the cursor is read from a file and written back only when the tick returns, as the daemon
stores it only then. A test kills this process mid-tick (tests/test_fault_drills.py).

    python -m tests.sensor_tick CURSOR_FILE     (DAGSTER_HOME and RISK_* from the environment)
"""

import sys
from pathlib import Path

import dagster as dg

from risk_pipelines.defs.alerting.sensors import risk_alerts_sensor
from risk_pipelines.defs.resources import build_resources


def main(cursor_file: Path) -> None:
    cursor = cursor_file.read_text() if cursor_file.exists() else None
    with dg.DagsterInstance.get() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources=build_resources(), cursor=cursor
        )
        result = risk_alerts_sensor(context)
    stored = result.cursor if isinstance(result, dg.SensorResult) else context.cursor
    partial = cursor_file.with_suffix(".partial")
    partial.write_text(stored or "")
    partial.replace(cursor_file)  # the whole new cursor or the old one, never half of one


if __name__ == "__main__":
    main(Path(sys.argv[1]))
