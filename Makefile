# hashlearn: every entry point creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hashlearn-installed
DEEP_STAMP := $(VENV)/.hashlearn-deep-installed
# The data directory: the folder holding cifar10/, mnist/, ... Set HASHLEARN_DATA in the
# environment or on the command line (make run HASHLEARN_DATA=/path/to/data); unset, the
# loaders use the cache (~/.cache/hashlearn) and download what they may.
HASHLEARN_DATA ?=
export HASHLEARN_DATA
OUT ?= results/tutorial

.PHONY: run test lint format bench clean help

help:
	@echo "make run    install, then run the learning-to-hash tutorial (CIFAR-10 GIST, or digits offline)"
	@echo "make test   install, then run the test suite"
	@echo "make lint   ruff (lint + format check) and mypy"
	@echo "make bench  speed benchmarks (results: docs/benchmarks.md)"
	@echo "data: HASHLEARN_DATA=/path/to/data (the folder holding cifar10/, mnist/, ...); unset, data is downloaded when allowed"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,faiss,dask,web]'
	@touch $(STAMP)

# The tests and the type check also need the [deep] extra (PyTorch: a large download the
# first time, cached by pip); the tutorial does not.
$(DEEP_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,faiss,dask,web,deep]'
	@touch $(DEEP_STAMP)

run: $(STAMP)
	$(BIN)/hashlearn tutorial --dataset auto --out $(OUT)

test: $(DEEP_STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(DEEP_STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks examples
	$(BIN)/ruff format src tests benchmarks examples

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
