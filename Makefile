# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DB     ?= out/gkextract.db
STAMP  := $(VENV)/.installed

.PHONY: install run test browser browser-test screenshots datasette-test bench bench-scale live-test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Ingest the bundled sample reports and extract their narrative (offline replay).
run: $(STAMP)
	mkdir -p $(dir $(DB))
	$(BIN)/gkextract run fixtures/reports --db $(DB) --mode replay --fixtures fixtures/llm
	$(BIN)/gkextract reports --db $(DB)

## Run the test suite (offline, deterministic).
test: $(STAMP)
	$(BIN)/python -m pytest

## Debian's chromium for the browser tests (tests/test_browser.py skips, saying so, without it).
## `make test` never installs it; this target does, with apt-get (as root, or through sudo).
browser:
	@test -x /usr/bin/chromium || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium fonts-wqy-microhei; }

## The browser tests alone: the report page, review queue and heatmap in headless chromium.
browser-test: $(STAMP) browser
	$(BIN)/python -m pytest tests/test_browser.py -v -rs

## Screenshots of the pages into docs/ (the README shows docs/report-page.png); look at them after.
screenshots: $(STAMP) browser
	mkdir -p out/screenshots
	GKEXTRACT_SCREENSHOTS=out/screenshots $(BIN)/python -m pytest tests/test_browser.py -q
	cp out/screenshots/report-page.png out/screenshots/heatmap.png docs/

## datasette.yaml's canned queries and search through Datasette itself (skipped by `make test` without it).
datasette-test: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,datasette]'
	$(BIN)/python -m pytest tests/test_datasette.py -v -rs

## Slow, optional, not run by CI: a real local model (scripts/get_test_model.py, ~1.1 GB cached in
## ~/.cache/gkextract-model) extracts one sample end to end; the test skips, saying why, when it cannot run.
live-test: $(STAMP)
	-$(BIN)/pip install --quiet -e '.[test,local]'
	GKEXTRACT_LIVE_MODEL="$$($(BIN)/python scripts/get_test_model.py || true)" \
		$(BIN)/python -m pytest tests/test_live_model.py -v -rs

bench: $(STAMP)
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_extract.py
	$(BIN)/python bench/bench_faults.py

## Minutes and ~3 GB: builds a 50,000-report database (2.5 M facts) and times the queries on it.
bench-scale: $(STAMP)
	$(BIN)/python bench/bench_scale.py --reports 50000

clean:
	rm -rf $(VENV) out
