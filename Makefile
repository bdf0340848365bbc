# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DB     ?= out/gkextract.db
STAMP  := $(VENV)/.installed

.PHONY: install run test bench clean

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

bench: $(STAMP)
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_extract.py
	$(BIN)/python bench/bench_faults.py

clean:
	rm -rf $(VENV) out
