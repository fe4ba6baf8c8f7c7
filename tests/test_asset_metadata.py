"""After each materialisation the Dagster UI tells an engineer how many rows an asset wrote and
shows a chart of what happened (what every asset is, and its columns: test_definitions.py)."""

import dagster as dg
import pytest

from risk_pipelines.definitions import defs
from risk_pipelines.defs.alerting.sensors import risk_alerts_sensor
from risk_pipelines.defs.dsa.assets import dsa_statements
from risk_pipelines.runs import materialise_brief, materialise_selection
from tests.conftest import DEMO_END, make_resources, unevaluated_copy
from tests.dsa_dumps import V2_SAMPLE, sample_dump


def _chart_and_rows(name: str, metadata: dict) -> list[str]:
    problems = []
    if not isinstance(metadata.get("dagster/row_count").value, int):
        problems.append(f"{name}: no dagster/row_count")
    chart = metadata.get("chart")
    if chart is None or "data:image/png;base64," not in chart.value:
        problems.append(f"{name}: no chart")
    return problems


@pytest.mark.parametrize("pipeline", ["sqlite"], indirect=True)
def test_every_materialisation_reports_its_row_count_and_a_chart(pipeline, tmp_path):
    found = {}
    for event in pipeline["run"].all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            materialisation = event.event_specific_data.materialization
            found[materialisation.asset_key.to_user_string()] = materialisation.metadata
    with dg.instance_for_test() as instance:
        selection = materialise_selection(instance=instance, resources=pipeline["resources"])
        brief = materialise_brief(DEMO_END, instance=instance, resources=pipeline["resources"])
    assert selection.success and brief.success
    for run, node in ((selection, "forecast_model_selection"), (brief, "risk_brief")):
        found[node] = run.asset_materializations_for_node(node)[0].metadata
    tick = risk_alerts_sensor(
        dg.build_sensor_context(
            instance=pipeline["instance"], resources=unevaluated_copy(pipeline, tmp_path)
        )
    )
    found["alerts"] = tick.asset_events[0].metadata
    found["dsa_statements"] = _dsa_materialisation(tmp_path)

    every_asset = {spec.key.to_user_string() for spec in defs.resolve_all_asset_specs()}
    assert set(found) == every_asset
    problems = [p for name, metadata in found.items() for p in _chart_and_rows(name, metadata)]
    assert not problems, "\n".join(problems)


def _dsa_materialisation(tmp_path) -> dict:
    """The DSA source on its own warehouse (the demo has no dump)."""
    landing = tmp_path / "dsa-landing"
    (landing / "dsa").mkdir(parents=True)
    sample_dump(landing / "dsa", V2_SAMPLE, split=9)
    resources = make_resources(f"sqlite:///{tmp_path / 'dsa.sqlite'}", landing)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [dsa_statements], partition_key="2025-07-01", instance=instance, resources=resources
        )
    return result.asset_materializations_for_node("dsa_statements")[0].metadata
