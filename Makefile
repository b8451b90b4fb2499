VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
# Every install comes from uv.lock, through uv at this version (installed with pip into
# .tools when this machine has none of its own at that version).
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
SYNC := $(UV) sync --frozen --python $(PYTHON)

.PHONY: run test lint docs schema demo clean bench vendor chromium clients upgrade floors

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(SYNC) --inexact
	touch $@

$(VENV)/.installed-dev: pyproject.toml uv.lock | $(UV)
	$(SYNC) --extra dev
	touch $@ $(VENV)/.installed

## Serve the demo data on http://127.0.0.1:8000 (GraphiQL at /graphql).
run: $(VENV)/.installed
	$(BIN)/personal-stats import --if-empty fixtures/demo.json
	$(BIN)/personal-stats serve

## Run the whole test suite (installs Debian's Chromium for the browser tests when missing,
## and the npm client suite from its lock file).
test: $(VENV)/.installed-dev chromium clients
	$(BIN)/pytest -n auto --dist worksteal

CLIENTS := tests/clients
clients:
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory $(CLIENTS)/node_modules/.package-lock.json; \
	else echo "npm is missing: the client suite (tests/clients) cannot run"; fi

$(CLIENTS)/node_modules/.package-lock.json: $(CLIENTS)/package-lock.json
	cd $(CLIENTS) && npm ci --no-audit --no-fund --loglevel=error

chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "Chromium is missing and cannot be installed here: the browser tests cannot run"

## Lint, format check and strict type check; the lock and the image's requirements current.
lint: $(VENV)/.installed-dev
	$(UV) lock --check --python $(PYTHON)
	$(UV) export --frozen --no-emit-project --format requirements-txt --quiet | \
	  diff -u requirements.lock - || { echo "requirements.lock is stale: make upgrade"; exit 1; }
	$(UV) export --frozen --no-emit-project --extra otel --format requirements-txt --quiet | \
	  diff -u requirements-otel.lock - || { echo "requirements-otel.lock is stale: make upgrade"; exit 1; }
	$(BIN)/ruff check src tests fixtures bench
	$(BIN)/ruff format --check src tests fixtures bench
	$(BIN)/mypy

## Lock the newest releases the pyproject.toml ranges allow, install them and run the suite.
upgrade: | $(UV)
	$(UV) lock --upgrade --python $(PYTHON)
	$(UV) export --frozen --no-emit-project --format requirements-txt --quiet > requirements.lock
	$(UV) export --frozen --no-emit-project --extra otel --format requirements-txt --quiet > requirements-otel.lock
	$(SYNC) --extra dev
	touch $(VENV)/.installed-dev $(VENV)/.installed
	$(BIN)/pytest -n auto --dist worksteal

## Install the oldest releases the pyproject.toml ranges allow (into .venv-floors) and run
## the suite on them: a floor that fails here is not true.
floors: | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) .venv-floors
	$(UV) pip compile --quiet --resolution lowest-direct --extra dev --python $(PYTHON) \
	  pyproject.toml -o .venv-floors/requirements.txt
	VIRTUAL_ENV=.venv-floors $(UV) pip install --quiet -r .venv-floors/requirements.txt
	VIRTUAL_ENV=.venv-floors $(UV) pip install --quiet --no-deps -e .
	.venv-floors/bin/pytest -n auto --dist worksteal

## Build the documentation site (docs/, mkdocs.yml) into site/, offline; strict: a broken
## link, a missing anchor or a page left out of the navigation fails it.
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

## Regenerate schema.graphql from the code.
schema: $(VENV)/.installed
	$(BIN)/personal-stats export-schema > schema.graphql

## Regenerate fixtures/demo.json.
demo: $(VENV)/.installed
	$(BIN)/python fixtures/generate_demo.py

clean:
	rm -rf $(VENV) .venv-floors $(TOOLS) .pytest_cache .mypy_cache .ruff_cache personal_stats.db* $(CLIENTS)/node_modules

## Benchmark S and L on SQLite and PostgreSQL, the live updates and the hostile clients; writes
## bench/README.md (needs wrk).
bench: $(VENV)/.installed-dev
	command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python bench/run.py
	$(BIN)/python bench/live.py
	$(BIN)/python bench/attacks.py
	$(BIN)/python bench/subscriptions.py

## Fetch the vendored front-end assets again from npm, at their pinned versions.
VENDOR := src/personal_stats/adapters/web/static/vendor
vendor:
	rm -rf .vendor && mkdir .vendor
	cd .vendor && npm pack --silent graphiql@3.8.3 react@18.3.1 react-dom@18.3.1 axe-core@4.10.3
	cd .vendor && for f in *.tgz; do mkdir -p "$${f%.tgz}" && tar xzf "$$f" -C "$${f%.tgz}"; done
	cp .vendor/graphiql-3.8.3/package/graphiql.min.js .vendor/graphiql-3.8.3/package/graphiql.min.css \
	   .vendor/graphiql-3.8.3/package/LICENSE $(VENDOR)/graphiql-3.8.3/
	cp .vendor/react-18.3.1/package/umd/react.production.min.js .vendor/react-18.3.1/package/LICENSE \
	   $(VENDOR)/react-18.3.1/
	cp .vendor/react-dom-18.3.1/package/umd/react-dom.production.min.js \
	   .vendor/react-dom-18.3.1/package/LICENSE $(VENDOR)/react-dom-18.3.1/
	cp .vendor/axe-core-4.10.3/package/axe.min.js .vendor/axe-core-4.10.3/package/LICENSE \
	   .vendor/axe-core-4.10.3/package/LICENSE-3RD-PARTY.txt tests/vendor/axe-core-4.10.3/
	rm -rf .vendor
