# The two commands a user needs: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Install, migrate and start admit on 127.0.0.1:11223 (SQLite, e-mail to the local outbox).
run: $(STAMP)
	ADMIT_DEBUG=$${ADMIT_DEBUG:-true} $(BIN)/admit migrate
	ADMIT_DEBUG=$${ADMIT_DEBUG:-true} $(BIN)/admit serve

## Install, lint, type-check and run the whole test suite.
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-cache  # the import rules of docs/architecture.md (pyproject.toml)

typecheck: $(STAMP)
	$(BIN)/mypy src/admit

pytest: $(STAMP)
	ADMIT_DATA_DIR=$${ADMIT_DATA_DIR:-$(CURDIR)/.test-data} $(BIN)/pytest $(PYTEST_ARGS)

## Schemathesis against a real admit serve on a fresh PostgreSQL database, for a bounded time.
.PHONY: fuzz
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz/run_schemathesis.py $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) data .test-data .pytest_cache .mypy_cache .ruff_cache
