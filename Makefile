# hoctap developer commands. `make run` and `make test` need only Python 3.11 on the machine.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint fuzz bench lock clean help

help:
	@echo "make run    install, migrate, seed (when empty) and serve on 127.0.0.1:$${PORT:-8000}"
	@echo "make test   install and run the whole test suite (SQLite; PostgreSQL with HOCTAP_TEST_DATABASE_URL)"
	@echo "make lint   ruff check and format check"
	@echo "make fuzz   schemathesis over every operation with EXAMPLES=200 examples each"
	@echo "make bench  progress benchmark on PostgreSQL (PEOPLE=1000000)"
	@echo "make lock   re-pin every transitive dependency (requirements.lock, requirements-dev.lock)"

# (Re)install when the dependency pins change.
$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "hoctap needs Python 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements-dev.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/hoctap migrate
	$(BIN)/hoctap seed
	HOCTAP_PORT=$${PORT:-$${HOCTAP_PORT:-8000}} $(BIN)/hoctap serve

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Contract fuzzing with many more examples per operation than `make test` runs.
fuzz: install
	HOCTAP_FUZZ_EXAMPLES=$${EXAMPLES:-200} $(BIN)/python -m pytest tests/test_contract.py

# Progress endpoint vs. a plain recount, PostgreSQL, 1,000,000 synthetic people (several minutes).
bench: install
	$(BIN)/python bench/progress.py --people $${PEOPLE:-1000000}

# Rebuild the full pin list from a clean environment (run after changing pyproject.toml).
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --disable-pip-version-check -e .
	.venv-lock/bin/python -m pip freeze --exclude-editable --disable-pip-version-check > requirements.lock
	.venv-lock/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	.venv-lock/bin/python -m pip freeze --exclude-editable --disable-pip-version-check > requirements-dev.lock
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
