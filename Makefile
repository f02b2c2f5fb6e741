# The two set-up commands: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test test-sqlite test-postgres test-e2e lint lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Dependencies come only from the hash-locked files in requirements/ (`make lock` writes them from
# pyproject.toml); the project itself is installed on top, without resolving anything again.
$(VENV)/.installed-app: pyproject.toml requirements/app.lock | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements/app.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: requirements/test.lock $(VENV)/.installed-app
	$(BIN)/pip install -q --require-hashes -r requirements/test.lock
	touch $@

UV := uv==0.13.9
LOCK := $(BIN)/uv pip compile -q --universal --generate-hashes --python-version 3.11
lock: | $(BIN)/python
	$(BIN)/pip install -q $(UV)
	$(LOCK) pyproject.toml requirements/build.in -o requirements/app.lock
	$(LOCK) pyproject.toml requirements/build.in --extra test -o requirements/test.lock

run: $(VENV)/.installed-app
	WEBAPP_ENV=dev $(BIN)/webapp migrate
	WEBAPP_ENV=dev $(BIN)/webapp demo
	@echo "Serving on http://127.0.0.1:8000 (dev: SMS codes appear in the log and at /dev/outbox)"
	WEBAPP_ENV=dev $(BIN)/webapp serve --host 127.0.0.1 --port 8000

test: lint
	scripts/ensure-system-deps.sh
	@echo "=== unit and integration tests on SQLite ==="
	WEBAPP_TEST_DB=sqlite $(BIN)/pytest tests -q -p no:cacheprovider
	@echo "=== unit and integration tests on PostgreSQL (throwaway cluster) ==="
	WEBAPP_TEST_DB=postgres $(BIN)/pytest tests -q -p no:cacheprovider
	@echo "=== end-to-end tests (Chromium) ==="
	$(BIN)/pytest e2e -q -p no:cacheprovider

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var e2e/artifacts
