# The two commands the README opens with: `make run` and `make test`.
# Each creates the virtual environment at .venv on first use and installs the pinned dependencies.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv lint bench e2e clean migrate preflight

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## The main job: a simulated bot (orchestrator, API, control panel, metrics) on this machine.
run: $(STAMP)
	$(BIN)/flash-green run --simulated

## The whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check bot arbitrage_operator tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

migrate: $(STAMP)
	$(BIN)/flash-green migrate

preflight: $(STAMP)
	$(BIN)/flash-green preflight

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e -m e2e

clean:
	rm -rf $(VENV) data .pytest_cache
