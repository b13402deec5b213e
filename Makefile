# The two commands a newcomer runs on a fresh machine:
#   make run    set up .venv and run the default phase probe (offline, real Fashion-MNIST data)
#   make test   set up .venv and run the checks CI runs (ruff, import contracts, pytest)
# CI (.ci/run) also runs make bare-check: `pip install .` without extras (torch pinned) into a
# fresh venv outside the checkout, then phasebench --help, list, a tiny run and show.
# torch is pinned here: an open range makes pip fetch a multi-GB CUDA build.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bare-check bench reproduce clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[test,dask]" "$(TORCH)"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/phasebench run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -n auto

bare-check:
	PYTHON="$(PYTHON)" bash .ci/bare-check "$(TORCH)"

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks/ --benchmark-only --benchmark-enable -p no:cacheprovider

reproduce: $(STAMP)
	$(BIN)/python results/reproduce/reproduce.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .benchmarks
