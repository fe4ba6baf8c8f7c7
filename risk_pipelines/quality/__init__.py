"""Data quality: Great Expectations suites declared as YAML, run inside the producing assets."""
