# Two commands on a fresh clone: `make run` (the main job) and `make test` (the full suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check lint typecheck pytest docs bench references clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## run: set up and run the main job: the MSC-RA report from the bundled records into results/
run: $(STAMP)
	$(BIN)/msc-meta report --out results

## test: set up, lint, type-check, run the full test suite (notebooks included) and build the docs
test: check pytest docs

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check msc_meta tests benchmarks
	$(BIN)/ruff format --check msc_meta tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

## docs: build the documentation site into build/site, warnings as errors
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir build/site

## bench: speed of meta_analysis beside statsmodels (and metafor when R is present)
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pooling.py

## references: regenerate tests/reference/metafor_reference.json (needs R with metafor)
references:
	Rscript tests/reference/generate_metafor_reference.R tests/reference/metafor_reference.json

clean:
	rm -rf $(VENV) results build dist .pytest_cache .mypy_cache .ruff_cache
