# glyph developer entry points. `make run` and `make test` are the two commands a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install bytecode run stop test lint format bench bench-quick bench-tools browser clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set (as on CI) every Dagster run worker
	# would otherwise compile dagster from source again, seconds per process.
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $(STAMP)
	$(MAKE) --no-print-directory bytecode

# Our own modules change between installs; compileall only rewrites what is stale.
bytecode:
	@$(BIN)/python -m compileall -q glyph_assets glyphd_api tests > /dev/null

run: install bytecode
	$(BIN)/glyph up
	$(BIN)/glyph ingest data/samples/gpu_listings_sample.csv --wait --source sample
	$(BIN)/glyph urls

stop: install
	$(BIN)/glyph down

lint: install
	$(BIN)/ruff check glyph_assets glyphd_api tests
	$(BIN)/black --check glyph_assets glyphd_api tests
	$(BIN)/isort --check-only glyph_assets glyphd_api tests
	$(BIN)/flake8 glyph_assets glyphd_api tests

format: install
	$(BIN)/isort glyph_assets glyphd_api tests
	$(BIN)/black glyph_assets glyphd_api tests
	$(BIN)/ruff check --fix glyph_assets glyphd_api tests

test: install bytecode lint browser
	$(BIN)/python -m pytest
	# the API's integration suite and the established clients' conformance suite a second time,
	# with the listing store and Dagster on PostgreSQL
	GLYPH_TEST_BACKEND=postgres $(BIN)/python -m pytest tests/integration/test_api.py \
		tests/integration/test_established.py tests/integration/test_changes.py

bench: install bytecode bench-tools
	$(BIN)/glyph bench

bench-quick: install bytecode bench-tools
	$(BIN)/glyph bench --quick

clean:
	rm -rf $(VENV) .dagster .pytest_cache

# wrk measures API latency under concurrent clients; Debian's package, installed when missing.
bench-tools:
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null) || echo "wrk could not be installed; latency figures will be skipped"

# Debian's chromium for the Dagster UI test (tests/integration/test_ui.py), installed when missing.
browser:
	@.ci/install-chromium
