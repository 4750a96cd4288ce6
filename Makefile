# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench bench-scaleout bench-coldstart bench-circles soak lint serve clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/liveloop demo $(DEMO_ARGS)

# The suite spends most of its time waiting for servers it started (their start, their timers), so
# three workers share the two cores well; each test file stays on one worker, with its servers.
TEST_WORKERS ?= 3
test: $(STAMP)
	@# The suite starts hundreds of liveloop processes; where PYTHONDONTWRITEBYTECODE is set, each would
	@# compile every module of src/ again (a third of a second). Python still reads bytecode it finds.
	$(BIN)/python -m compileall -q src
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Ingestion on PostgreSQL with one and two processes (needs LIVELOOP_BENCH_DATABASE_URL).
bench-scaleout: $(STAMP)
	$(BIN)/python -m bench.scaleout

# The long-run soak: 30 minutes at half capacity, a kill -9 half way, the ledger checked (not in `make test`).
soak: $(STAMP)
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

# A campaign of 1,000,000 logged events restarted, with and without a snapshot (SQLite; PostgreSQL too
# with LIVELOOP_BENCH_DATABASE_URL); several minutes, so not part of a full `make bench`.
bench-coldstart: $(STAMP)
	$(BIN)/python -m bench --only coldstart $(BENCH_ARGS)

# The circle leaderboard alone (also part of a full `make bench`).
bench-circles: $(STAMP)
	$(BIN)/python -m bench --only circles $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

serve: $(STAMP)
	$(BIN)/liveloop serve

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
