# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synkro-installed
UV_VERSION := 0.13.9
export RUNTIME__DLTHUB_TELEMETRY := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: install test lint format demo dev docs bench clean db-stop

install: $(STAMP)

# uv installs the locked set in seconds; pip would backtrack through dagster-dbt releases.
$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv sync --frozen --inexact --extra dev --extra sandbox --python $(BIN)/python
	$(BIN)/synkro prepare
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/pytest -q

demo: $(STAMP)
	$(BIN)/synkro demo

dev: $(STAMP)
	$(BIN)/synkro dev

docs: $(STAMP)
	$(BIN)/synkro docs

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

db-stop: $(STAMP)
	$(BIN)/synkro db stop

clean:
	-$(BIN)/synkro db stop
	rm -rf $(VENV) .synkro dbt_project/target
