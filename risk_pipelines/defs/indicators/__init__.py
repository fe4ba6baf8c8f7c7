"""Risk indicators: every series' surprise against its forecast, and the derived indicators."""
