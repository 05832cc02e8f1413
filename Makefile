# Two commands: `make run` (the app on sandbox AWS + SQLite) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test processes: files run whole on a worker (their fixtures are per file or per run); three on
# two cores, because the integration files often wait (docs/testing.md).
TEST_WORKERS ?= 3

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

# mypy (one core, ~35 s cold) runs beside pytest, not before it: its report is printed after.
test: bootstrap
	@start=$$(date +%s); \
	$(BIN)/ruff check --no-cache . && $(BIN)/ruff format --check --no-cache . || exit 1; \
	mypy_log=$$(mktemp); $(BIN)/mypy >"$$mypy_log" 2>&1 & mypy_pid=$$!; \
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder; status=$$?; \
	wait $$mypy_pid; mypy_status=$$?; echo "mypy:"; cat "$$mypy_log"; rm -f "$$mypy_log"; \
	[ $$status -eq 0 ] && status=$$mypy_status; \
	echo "make test: $$(( $$(date +%s) - start )) s wall"; exit $$status

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every benchmark runs to the end; one summary table. make bench BENCH_ARGS="--quick --check"
bench: install
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm .pytest_cache
