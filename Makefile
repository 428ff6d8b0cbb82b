# minigrad — every command sets up .venv itself: `make test` and `make demo` work on a machine with only Python.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
DEVICE ?= cpu
PYTEST_ARGS ?=

.PHONY: help venv test test-fast lint bench oracle demo clean train-all-quick check-targets

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

# make bench [DEVICE=cuda] [BENCH_ARGS="--only conv --repeats 15"]: installs torch (the bench extra) if missing
BENCH_ARGS ?=
bench: $(STAMP)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q -e ".[bench]"
	$(PY) -m benchmarks.run --device $(DEVICE) $(BENCH_ARGS)

demo: train-mlp

# make train-<name> [ARGS="--epochs 5"] [DEVICE=cuda]: python -m models.<name> with its defaults
train-%: $(STAMP)
	MPLBACKEND=Agg $(PY) -m models.$* --device $(DEVICE) $(ARGS)

# every model for a tiny budget (a smoke test; also part of make test)
train-all-quick: $(STAMP)
	MPLBACKEND=Agg $(PY) -m models.run_all --quick

# train the default configurations and check the accuracy targets (minutes; not part of make test)
check-targets: $(STAMP)
	MPLBACKEND=Agg $(PY) -m models.run_all --check-targets

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs
