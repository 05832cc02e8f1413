# Two commands: `make run` (the app on sandbox AWS + SQLite) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test processes: files run whole on a worker (their fixtures are per file or per run).
TEST_WORKERS ?= 2

.PHONY: run test bootstrap install lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

bootstrap: install
	$(BIN)/vell bootstrap

run: bootstrap
	$(BIN)/vell run

test: bootstrap
	@start=$$(date +%s); \
	$(BIN)/ruff check --no-cache . && \
	$(BIN)/ruff format --check --no-cache . && \
	$(BIN)/mypy && \
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile; status=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s wall"; exit $$status

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every benchmark runs to the end; one summary table. make bench BENCH_ARGS="--quick --check"
bench: install
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm .pytest_cache
