VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: run test lint schema demo clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

## Serve the demo data on http://127.0.0.1:8000 (GraphiQL at /graphql).
run: $(VENV)/.installed
	$(BIN)/personal-stats import --if-empty fixtures/demo.json
	$(BIN)/personal-stats serve

## Run the whole test suite.
test: $(VENV)/.installed-dev
	$(BIN)/pytest

## Lint, format check and strict type check.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests fixtures bench
	$(BIN)/ruff format --check src tests fixtures bench
	$(BIN)/mypy

## Regenerate schema.graphql from the code.
schema: $(VENV)/.installed
	$(BIN)/personal-stats export-schema > schema.graphql

## Regenerate fixtures/demo.json.
demo: $(VENV)/.installed
	$(BIN)/python fixtures/generate_demo.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache personal_stats.db*

## Benchmark S and L on SQLite and PostgreSQL; writes bench/README.md (needs wrk).
bench: $(VENV)/.installed-dev
	command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python bench/run.py
