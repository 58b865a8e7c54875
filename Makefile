# hoctap developer commands. `make run` and `make test` need only Python 3.11 on the machine.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install system-packages test-packages run test lint fuzz bench bench-prepare bench-lookups bench-writes bench-rescoring bench-soak bench-imports bench-tools lock clean help

help:
	@echo "make run    install, migrate, seed (when empty) and serve on 127.0.0.1:$${PORT:-8000}"
	@echo "make test   install and run the whole test suite (SQLite; PostgreSQL with HOCTAP_TEST_DATABASE_URL)"
	@echo "make lint   ruff check and format check"
	@echo "make fuzz   schemathesis over every operation with EXAMPLES=200 examples each"
	@echo "make bench  progress benchmark on PostgreSQL (PEOPLE=1000000)"
	@echo "make bench-lookups / bench-writes / bench-rescoring / bench-soak  throughput benchmarks (REUSE=1 keeps the 1M-people database;"
	@echo "            soak: MINUTES=10 RATE=30; HOCTAP_BENCH_CODE=<rev> measures a clean copy of a commit)"
	@echo "make bench-imports  people import vs. raw COPY of the same rows (ROWS=50000 ROUNDS=3; its own fresh database)"
	@echo "make lock   re-pin every transitive dependency (requirements.lock, requirements-dev.lock)"

# (Re)install when the dependency pins change.
$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "hoctap needs Python 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements-dev.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages a feature needs, installed when missing (never a downloaded toolchain or browser):
# Pango and fonts with Vietnamese glyphs for PDF documents (WeasyPrint); for the tests also
# chromium (page tests through Playwright) and zbar (reading QR codes back).
APT_INSTALL = (apt-get install -y -q --no-install-recommends $(1) || (apt-get update -q && apt-get install -y -q --no-install-recommends $(1))) >/dev/null \
	|| (echo "FAIL: could not install Debian packages: $(1)" >&2; exit 1)

system-packages:
	@ldconfig -p | grep -q 'libpangoft2-1.0.so.0' && fc-list 2>/dev/null | grep -qi 'DejaVu Serif' \
		|| $(call APT_INSTALL,libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fontconfig)

test-packages: system-packages
	@command -v chromium >/dev/null || $(call APT_INSTALL,chromium)
	@command -v zbarimg >/dev/null || $(call APT_INSTALL,zbar-tools)
	@command -v unshare >/dev/null || $(call APT_INSTALL,util-linux)

# PDFs need Pango: installed when missing; without it the service still runs (PDF routes answer
# 503 and the HTML versions print from a browser), so `make run` only warns.
run: install
	@$(MAKE) --no-print-directory system-packages || echo "warning: Pango could not be installed; PDF documents answer 503 until it is" >&2
	$(BIN)/hoctap migrate
	$(BIN)/hoctap seed
	HOCTAP_PORT=$${PORT:-$${HOCTAP_PORT:-8000}} $(BIN)/hoctap serve

test: install test-packages
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Contract fuzzing with many more examples per operation than `make test` runs.
fuzz: install
	HOCTAP_FUZZ_EXAMPLES=$${EXAMPLES:-200} $(BIN)/python -m pytest tests/test_contract.py

# Benchmarks on PostgreSQL with 1,000,000 synthetic people (HOCTAP_BENCH_DATABASE_URL names the
# server; see docs/benchmarks.md). REUSE=1 keeps the generated database when it holds the data.
BENCH_REUSE = $(if $(REUSE),--reuse,)

# Progress endpoint vs. a plain recount (several minutes).
bench: install
	$(BIN)/python bench/progress.py --people $${PEOPLE:-1000000} $(BENCH_REUSE)

# The load generator: Debian's wrk (installed when missing; nothing else is downloaded).
bench-tools:
	@command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)

# The database alone (generated once, then reused by the targets below with REUSE=1).
bench-prepare: install
	$(BIN)/python bench/common.py prepare --people $${PEOPLE:-1000000} $(BENCH_REUSE)

bench-lookups: install bench-tools
	$(BIN)/python bench/lookups.py --people $${PEOPLE:-1000000} $(BENCH_REUSE)

bench-writes: install bench-tools
	$(BIN)/python bench/writes.py --people $${PEOPLE:-1000000} $(BENCH_REUSE)

bench-rescoring: install
	$(BIN)/python bench/rescoring.py --people $${PEOPLE:-1000000} $(BENCH_REUSE)

bench-soak: install
	$(BIN)/python bench/soak.py --people $${PEOPLE:-1000000} --minutes $${MINUTES:-10} --rate $${RATE:-30} $(BENCH_REUSE)

# Importing people (CSV and XLSX) against a raw COPY of the same rows, in a fresh database of
# its own (the 1M-people database is not needed).
bench-imports: install
	$(BIN)/python bench/imports.py --rows $${ROWS:-50000} --rounds $${ROUNDS:-3}

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
