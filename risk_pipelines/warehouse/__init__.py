"""The warehouse: explicit SQLAlchemy Core tables, idempotent partition writes, range reads."""

from risk_pipelines.warehouse.schema import TABLES, metadata
from risk_pipelines.warehouse.store import Warehouse

__all__ = ["TABLES", "Warehouse", "metadata"]
