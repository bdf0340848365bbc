# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DB     ?= out/gkextract.db
STAMP  := $(VENV)/.installed

.PHONY: install run test bench live-test clean

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

clean:
	rm -rf $(VENV) out
