# The two commands the README opens with: `make run` and `make test`.
# Each creates the virtual environment at .venv on first use and installs the pinned dependencies.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv lint bench e2e clean migrate preflight contracts

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The pinned npm packages behind the on-chain loan tests (solc, OpenZeppelin, anvil). Without npm
# the tests under tests/chain skip and say what to install; everything else still runs.
NPM_STAMP := contracts/node_modules/.installed
$(NPM_STAMP): contracts/package.json contracts/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm --prefix contracts ci --no-audit --no-fund && touch $(NPM_STAMP); \
	else \
		echo "npm not found: the on-chain loan tests (tests/chain) will skip; install Node.js 18+ and npm (Debian: apt-get install nodejs npm)"; \
	fi

contracts: $(NPM_STAMP)

## The main job: a simulated bot (orchestrator, API, control panel, metrics) on this machine.
## It runs the demo market profile (trades within seconds; not realistic): SIM_PROFILE=realistic make run
## runs the market a pod runs.
SIM_PROFILE ?= demo
run: $(STAMP)
	SIM_PROFILE=$(SIM_PROFILE) $(BIN)/flash-green run --simulated

## The whole test suite.
test: $(STAMP) $(NPM_STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check bot arbitrage_operator tests bench
	$(BIN)/mypy

bench: $(STAMP) $(NPM_STAMP)
	$(BIN)/python -m bench

migrate: $(STAMP)
	$(BIN)/flash-green migrate

preflight: $(STAMP)
	$(BIN)/flash-green preflight

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e -m e2e

clean:
	rm -rf $(VENV) data .pytest_cache
