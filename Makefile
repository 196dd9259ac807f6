# Every command developers and CI run is a target here; .ci/run calls these and nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PINS := requirements/constraints.txt
# The PostgreSQL database the tests' PostgreSQL run uses (Django creates test_<name>).
TEST_POSTGRES_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/missedmail
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help run web worker demo test test-sqlite test-postgres check lint typecheck fmt \
        bench faults pins clean

help:
	@echo "make run    start missedmail on the embedded SQLite database (Ctrl-C stops it)"
	@echo "make demo   start a throw-away instance, send it a conversation, show the emails"
	@echo "make test   install the dev dependencies and run the whole test suite"
	@echo "make check  lint (ruff), types (mypy --strict) and import layers"
	@echo "make bench  run the benchmarks (see bench/README.md)"
	@echo "make faults kill workers, stop databases and brokers, fuzz input (docs/reliability.md)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml $(PINS)
	$(BIN)/pip install --quiet -c $(PINS) -e .
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml $(PINS)
	$(BIN)/pip install --quiet -c $(PINS) -e '.[dev]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/missedmail migrate --quiet
	$(BIN)/missedmail run

web: $(VENV)/.installed
	$(BIN)/missedmail web

worker: $(VENV)/.installed
	$(BIN)/missedmail worker

demo: $(VENV)/.installed
	$(BIN)/missedmail demo

# The database tests run twice: on SQLite (the embedded default) and on PostgreSQL (the
# production database). Integration tests talk to real PostgreSQL, RabbitMQ and SMTP.
test: $(VENV)/.installed-dev
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: $(VENV)/.installed-dev
	env -u DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed-dev
	@$(BIN)/python -m tests.services postgres; status=$$?; \
	if [ $$status = 0 ]; then \
		DATABASE_URL=$(TEST_POSTGRES_DATABASE_URL) $(BIN)/pytest $(PYTEST_ARGS) tests/db tests/integration \
			tests/faults/test_hostile_input.py tests/faults/test_privacy.py; \
	elif [ $$status != 1 ]; then exit $$status; fi

check: lint typecheck

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports
	@# Every model change has its migration.
	$(BIN)/python -m django makemigrations --check --dry-run --settings=tests.settings

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

fmt: $(VENV)/.installed-dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

$(VENV)/.installed-bench: $(BIN)/python pyproject.toml $(PINS)
	$(BIN)/pip install --quiet -c $(PINS) -e '.[dev,bench]'
	@touch $@ $(VENV)/.installed-dev $(VENV)/.installed

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench $(BENCH_ARGS)

# Fault injection (docs/reliability.md): kills workers, stops private PostgreSQL and RabbitMQ
# instances, fuzzes input. `make test` runs the part that fits CI's time; this runs it all.
faults: $(VENV)/.installed-dev
	MISSEDMAIL_FAULTS=all $(BIN)/pytest $(PYTEST_ARGS) tests/faults

# Regenerate the pins from a fresh resolution (no URLs: a plain name==version list).
pins:
	rm -rf .pins-venv && $(PYTHON) -m venv .pins-venv
	.pins-venv/bin/pip install --quiet --upgrade pip
	.pins-venv/bin/pip install --quiet -e '.[dev]'
	.pins-venv/bin/pip freeze --exclude-editable | grep -v '^-e' > $(PINS)
	rm -rf .pins-venv

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
