# minigrad — every command sets up .venv itself: `make test` and `make demo` work on a machine with only Python.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
DEVICE ?= cpu
MODELS := $(filter-out _% harness plots run_all,$(basename $(notdir $(wildcard models/*.py))))
RL_ALGOS := $(filter-out __init__ benchmark profile_sac,$(basename $(notdir $(wildcard rl/*.py))))
LINT_DIRS := $(wildcard minigrad models rl benchmarks tests)
PYTEST_ARGS ?=

.PHONY: help venv test test-fast lint bench bench-rl oracle demo clean train-all-quick check-targets train-tabular

help:
	@echo "make test             create .venv, install, run the whole test suite (PYTEST_ARGS=-ra lists skip reasons)"
	@echo "make test-fast        the suite without the slow tests, stopping at the first failure"
	@echo "make demo             = make train-mlp: a small MLP on scikit-learn's digits (embedded, offline)"
	@echo "make train-<name>     train one model of models/ with its defaults (ARGS=\"--epochs 5\", DEVICE=cuda);"
	@echo "                      names: $(MODELS)"
	@echo "make train-<algo>     train one RL algorithm of rl/ on its default env (ARGS=\"--env-id Taxi-v4 --seed 2\");"
	@echo "                      algos: $(RL_ALGOS)"
	@echo "make train-tabular    the tabular RL experiments (DP, MC vs TD, SARSA vs Q-learning) beside the book's numbers"
	@echo "make train-all-quick  every model for a few seconds (a smoke test; part of make test)"
	@echo "make check-targets    train the default configurations and check each model's target, then the"
	@echo "                      tabular RL numbers against the book's (minutes)"
	@echo "make lint             ruff on the project's Python"
	@echo "make oracle           also install PyTorch 2.13.0 (CPU) so the tests compare against it"
	@echo "make bench            benchmarks against PyTorch CPU (writes benchmarks/results/)"
	@echo "make bench-rl         RL wall time and return against Stable-Baselines3 (same hyper-parameters)"
	@echo "make venv             only create .venv and install minigrad with its dev extras"
	@echo "make clean            remove .venv, caches and runs/"

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
	$(PY) -m ruff check $(LINT_DIRS)

oracle: $(STAMP)
	$(PY) -m pip install -q "torch==2.13.0"

# make bench [DEVICE=cuda] [BENCH_ARGS="--only conv --repeats 15" or "--loaded"]: installs torch (the bench extra) if missing
BENCH_ARGS ?=
bench: $(STAMP)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q -e ".[bench]"
	$(PY) -m benchmarks.run --device $(DEVICE) $(BENCH_ARGS)

# make bench-rl [BENCH_ARGS="--only dqn_cartpole --seeds 1 2 3"]: RL wall time against Stable-Baselines3
bench-rl: $(STAMP)
	$(PY) -c "import stable_baselines3" 2>/dev/null || $(PY) -m pip install -q "torch==2.13.0" "stable-baselines3>=2.3"
	$(PY) -m benchmarks.rl_wall $(BENCH_ARGS)

demo: train-mlp

# make train-<name> [ARGS="--epochs 5"] [DEVICE=cuda]: python -m models.<name> with its defaults
train-%: $(STAMP)
	MPLBACKEND=Agg $(PY) -m models.$* --device $(DEVICE) $(ARGS)

# make train-<algo> for the RL files (rl/<algo>.py; bandits included): python -m rl.<algo> with its defaults
# (an --env-id of a Box2D env (LunarLander, BipedalWalker, CarRacing) installs the box2d extra first, one
# of a MuJoCo env (HalfCheetah, Hopper, Walker2d, Ant, Humanoid, ...) the mujoco extra)
BOX2D_ENVS := Lunar Bipedal CarRacing
MUJOCO_ENVS := HalfCheetah Hopper Walker2d Ant Humanoid Swimmer InvertedPendulum InvertedDoublePendulum Reacher Pusher
$(addprefix train-,$(RL_ALGOS)): train-%: $(STAMP)
	$(if $(strip $(foreach e,$(BOX2D_ENVS),$(findstring $(e),$(ARGS)))),$(PY) -c "import Box2D" 2>/dev/null || $(PY) -m pip install -q -e ".[box2d]")
	$(if $(strip $(foreach e,$(MUJOCO_ENVS),$(findstring $(e),$(ARGS)))),$(PY) -c "import mujoco; import imageio" 2>/dev/null || $(PY) -m pip install -q -e ".[mujoco]")
	MPLBACKEND=Agg $(PY) -m rl.$* $(ARGS)

train-tabular: $(STAMP)
	MPLBACKEND=Agg $(PY) -m rl.tabular $(ARGS)

# every model for a tiny budget (a smoke test; also part of make test)
train-all-quick: $(STAMP)
	MPLBACKEND=Agg $(PY) -m models.run_all --quick

# train the default configurations and check the accuracy targets (minutes; not part of make test)
check-targets: $(STAMP)
	MPLBACKEND=Agg $(PY) -m models.run_all --check-targets
	MPLBACKEND=Agg $(PY) -m rl.tabular

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs
