"""risk_pipelines: Trust & Safety risk detection on Dagster.

The pure core (``sources``, ``warehouse``, ``metrics``, ``forecasting``, ``indicators``,
``alerting``) never imports dagster; ``assets``, ``quality``, ``sensors`` and ``definitions``
are the thin Dagster shell that wires it.
"""

__version__ = "0.1.0"
