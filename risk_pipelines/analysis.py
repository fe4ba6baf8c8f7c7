"""What notebooks use to reach the warehouse: the pipeline's own settings, nothing else.

from risk_pipelines.analysis import connect
warehouse = connect()                     # RISK_WAREHOUSE_URL, else the demo warehouse
warehouse.read_sql("SELECT * FROM v_latest_forecast")
"""

from __future__ import annotations

from risk_pipelines.config import load_settings
from risk_pipelines.warehouse.store import Warehouse


def connect() -> Warehouse:
    """The warehouse the pipeline writes, from the environment (RISK_WAREHOUSE_URL), with the
    analyst views in place. The connection is opened only when a query runs."""
    return Warehouse(load_settings().warehouse_url)
