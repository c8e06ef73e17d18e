# Two commands on a fresh clone: `make run` (the main job) and `make test` (the full suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check lint typecheck pytest bench references clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## run: set up and run the main job on the bundled data (the BCG example until the MSC-RA report lands)
run: $(STAMP)
	$(BIN)/msc-meta demo

## test: set up, lint, type-check and run the full test suite
test: check pytest

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check msc_meta tests benchmarks
	$(BIN)/ruff format --check msc_meta tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

## bench: speed of meta_analysis beside statsmodels (and metafor when R is present)
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pooling.py

## references: regenerate tests/reference/metafor_reference.json (needs R with metafor)
references:
	Rscript tests/reference/generate_metafor_reference.R tests/reference/metafor_reference.json

clean:
	rm -rf $(VENV) results build dist .pytest_cache .mypy_cache .ruff_cache
