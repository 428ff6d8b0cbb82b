# minigrad — every command sets up .venv itself: `make test` and `make demo` work on a machine with only Python.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
DEVICE ?= cpu
PYTEST_ARGS ?=

.PHONY: help venv test test-fast lint bench oracle demo clean train-mlp train-all-quick check-targets

help:
	@echo "make test        create .venv, install, run the whole test suite"
	@echo "make demo        train a small MLP on scikit-learn's digits (embedded, offline)"
	@echo "make lint        ruff"
	@echo "make oracle      also install PyTorch 2.13.0 (CPU) so tests compare against it"
	@echo "make bench       benchmarks against PyTorch CPU (writes benchmarks/results/)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -x -q -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check minigrad models rl benchmarks tests

oracle: $(STAMP)
	$(PY) -m pip install -q "torch==2.13.0"

demo: $(STAMP)
	$(PY) -m models.demo_mlp --device $(DEVICE)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs
