"""Every analyst notebook runs clean, headless, against the demo warehouse, and is committed
without outputs."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_the_four_analyst_notebooks_are_there():
    assert {n.stem for n in NOTEBOOKS} == {
        "forecast_explorer",
        "risk_review",
        "alert_review",
        "incident_postmortem",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_with_outputs_stripped(path):
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.parametrize("pipeline", ["sqlite"], indirect=True)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_runs_clean_against_the_demo_warehouse_and_draws(path, pipeline, monkeypatch):
    # The kernel inherits this environment: connect() finds the demo warehouse through it.
    monkeypatch.setenv("RISK_WAREHOUSE_URL", pipeline["url"])
    monkeypatch.delenv("RISK_PIPELINES_CONFIG", raising=False)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": path.parent}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error

    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the notebook drew nothing"
