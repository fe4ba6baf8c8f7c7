# The two commands of the README: `make run` (demo + Dagster UI) and `make test` (whole suite).
# Each creates .venv when needed and installs the project into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# Backfills launched from the UI announce a range as one planned event per asset, as headless
# runs do (risk_pipelines/runs.py says why).
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true
# The test suite creates (and drops) its own database on this server.
export RISK_TEST_POSTGRES_URL ?= postgresql+psycopg2://postgres@127.0.0.1:5432/test

.PHONY: install run test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# Seeds two years of demo data and materialises it when the warehouse is empty, then serves
# the Dagster UI on http://127.0.0.1:3000 (schedule and alert sensor running) and the risk
# console on http://127.0.0.1:3001; Ctrl-C stops both.
run: install
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/risk-pipelines seed-demo
	@echo "Dagster UI on http://127.0.0.1:3000, risk console on http://127.0.0.1:3001 (Ctrl-C stops both)"
	trap 'kill 0' INT TERM EXIT; \
	$(BIN)/risk-pipelines console --port 3001 & \
	$(BIN)/dg dev --host 127.0.0.1 --port 3000 --log-level warning

# Lint, then every test; the Postgres tests use the local server and the Celery test the local
# Redis (each started here if it is down); the brief's test uses headless Chromium (Debian's
# package, installed here if it is missing).
test: install
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/ruff check risk_pipelines tests bench scripts
	./scripts/ensure_postgres.sh
	./scripts/ensure_redis.sh
	./scripts/ensure_chromium.sh
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check risk_pipelines tests bench scripts
	$(BIN)/ruff format --check risk_pipelines tests bench scripts

bench: install
	$(BIN)/python bench/bench_demo_materialisation.py

clean:
	rm -rf data .dagster_home
