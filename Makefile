# Two commands on a fresh clone: `make run` (the main job) and `make test` (the full suite).
# `make run` installs only the package and its runtime dependencies; `make test` adds the
# dev extras (test, lint, type-check and docs tools). Each install happens once, and again
# only when pyproject.toml changes; either command may come first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# stamps: the package with its runtime dependencies, and the dev extras as well
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test test-fast check lint typecheck pytest docs bench references clean

$(BIN)/python:
	@echo "Creating the virtual environment $(VENV) (once)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@echo "Setting up $(VENV) with msc-meta and its runtime dependencies (numpy, scipy, pandas,"
	@echo "statsmodels, matplotlib), about 500 MB and a minute or two: once, and again only"
	@echo "when pyproject.toml changes"
	$(BIN)/python -m pip install --quiet --progress-bar off -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	@echo "Setting up $(VENV) with msc-meta, its runtime dependencies and the dev extras (pytest,"
	@echo "hypothesis, ruff, mypy, mkdocs, numpydoc, Jupyter kernel, selenium, ...), about 900 MB"
	@echo "in all and a few minutes: once, and again only when pyproject.toml changes"
	$(BIN)/python -m pip install --quiet --progress-bar off -e ".[dev]"
	touch $(DEV_STAMP) $(RUN_STAMP)

## run: set up and run the main job: the MSC-RA report from the bundled records into results/
run: $(RUN_STAMP)
	$(BIN)/msc-meta report --out results

## test: set up, lint, type-check, run the full test suite (notebooks included) and build the docs
test: check pytest docs

## test-fast: the development loop: ruff and the tests not marked slow (well under a minute);
## `make test` remains the full suite
test-fast: $(DEV_STAMP)
	$(BIN)/ruff check msc_meta tests benchmarks
	HYPOTHESIS_PROFILE=dev $(BIN)/python -m pytest -q -m "not slow"

check: lint typecheck

lint: $(DEV_STAMP)
	$(BIN)/ruff check msc_meta tests benchmarks
	$(BIN)/ruff format --check msc_meta tests benchmarks

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP)
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

## docs: build the documentation site into build/site, warnings as errors
docs: $(DEV_STAMP)
	$(BIN)/mkdocs build --strict --site-dir build/site

## bench: speed of meta_analysis beside statsmodels (and metafor when R is present)
bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/bench_pooling.py

## references: regenerate the metafor reference grids, fixed and randomized, and the exact
## values that replace metafor's where it is wrong (needs R with metafor; about 15 minutes)
references: $(DEV_STAMP)
	Rscript tests/reference/generate_metafor_reference.R tests/reference/metafor_reference.json
	Rscript tests/reference/generate_metafor_random.R tests/reference/metafor_random.json
	$(BIN)/python tests/reference/referee.py tests/reference/metafor_random.json tests/reference/metafor_random_overrides.json
	Rscript tests/reference/generate_tau2_mods.R tests/reference/tau2_mods.json
	Rscript tests/reference/generate_metafor_regression.R tests/reference/metafor_regression.json
	Rscript tests/reference/generate_metafor_sensitivity.R tests/reference/metafor_sensitivity.json
	Rscript tests/reference/generate_metafor_bias.R tests/reference/metafor_bias.json
	Rscript tests/reference/generate_metafor_gosh.R tests/reference/metafor_gosh.json

clean:
	rm -rf $(VENV) results build dist .pytest_cache .mypy_cache .ruff_cache
