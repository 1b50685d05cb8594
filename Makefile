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

# lint-imports checks the layer contracts of pyproject.toml ([tool.importlinter]) on this
# checkout's packages (it is run from here, so the packages found first are these).
lint: install
	$(BIN)/ruff check glyph_assets glyphd_api tests
	$(BIN)/black --check glyph_assets glyphd_api tests
	$(BIN)/isort --check-only glyph_assets glyphd_api tests
	$(BIN)/flake8 glyph_assets glyphd_api tests
	$(BIN)/lint-imports

format: install
	$(BIN)/isort glyph_assets glyphd_api tests
	$(BIN)/black glyph_assets glyphd_api tests
	$(BIN)/ruff check --fix glyph_assets glyphd_api tests

# The PostgreSQL pass (the API, conformance and listing-change suites again, with the listing
# store and Dagster on PostgreSQL) runs beside the main integration tests: both spend most of
# their time waiting on real processes (Dagster runs, servers starting), so side by side they
# finish sooner than one after the other. Its output is printed last, after the unit tests';
# any of the three runs failing fails the target.
# The Celery tests (two workers on the local RabbitMQ, Dagster on PostgreSQL) need PostgreSQL
# whatever the backend, so they run in this pass and the main suite leaves them out.
PG_SUITES := tests/integration/test_api.py tests/integration/test_established.py \
	tests/integration/test_changes.py tests/integration/test_celery.py

# The unit tests come last, on two processes (pytest-xdist), once the PostgreSQL pass has ended
# (it usually has, before the integration tests have) and the integration stacks are stopped: both
# cores are theirs.
test: install bytecode lint browser
	@mkdir -p .test-logs
	@GLYPH_TEST_BACKEND=postgres $(BIN)/python -m pytest -p no:cacheprovider $(PG_SUITES) \
		> .test-logs/postgres.log 2>&1 & pg=$$!; \
	$(BIN)/python -m pytest -m 'not celery' tests/integration; integration=$$?; \
	wait $$pg; postgres=$$?; \
	$(BIN)/python -m pytest -n 2 tests/unit; unit=$$?; \
	echo "--- the PostgreSQL pass ($(PG_SUITES))"; cat .test-logs/postgres.log; \
	if [ $$integration -ne 0 ]; then exit $$integration; fi; \
	if [ $$unit -ne 0 ]; then exit $$unit; fi; exit $$postgres

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
