# Rights Desk — developer commands. Needs only Python 3.11+ and make.
PYTHON ?= python3
HOST   ?= 127.0.0.1
PORT   ?= $(or $(RIGHTSDESK_PORT),8000)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test test-fast browser install install-test migrate worker openapi lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## run: set up, migrate and serve on SQLite at http://127.0.0.1:8000 (docs at /docs; PORT=… to move it)
run: install
	$(BIN)/rightsdesk serve --host $(HOST) --port $(PORT)

## test: set up and run the whole suite (SQLite unless RIGHTSDESK_TEST_DATABASE_URL is set) on
##       every core, a database per pytest-xdist worker; PYTEST_ARGS="-k verify tests/workflow"
##       runs a part (CI runs it with PYTEST_ARGS empty); WORKERS=0 runs it in one process
WORKERS ?= auto
test: install-test browser
	$(if $(strip $(PYTEST_ARGS)),@echo "make test: PYTEST_ARGS is set: this may not be the whole suite")
	$(BIN)/python -m pytest -n $(WORKERS) $(PYTEST_ARGS)

## test-fast: the suite without the tests marked slow (real servers, processes, long races):
##       for day-to-day work; `make test` and CI run everything
test-fast: install-test
	$(BIN)/python -m pytest -n $(WORKERS) -m "not slow" $(PYTEST_ARGS)

## browser: Debian's chromium and Korean fonts for the page tests (installed when missing)
browser:
	@.ci/browser-deps

migrate: install
	$(BIN)/rightsdesk migrate

worker: install
	$(BIN)/rightsdesk worker

openapi: install
	$(BIN)/rightsdesk openapi > openapi/openapi.json

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/intake.py

clean:
	rm -rf $(VENV) var .pytest_cache
