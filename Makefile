# Two commands do everything: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test venv migrate clean bench-tick

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

# The embedded defaults: SQLite under var/, a filesystem broker, DEBUG on, served on $(HOST):$(PORT),
# with a Celery worker and beat beside the web server.
run: export DEBUG ?= 1
run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py demo_access --base-url http://$(HOST):$(PORT)
	@echo "Starting web, worker and beat (Ctrl-C stops them all) ..."
	PATH="$(CURDIR)/$(BIN):$$PATH" HOST=$(HOST) PORT=$(PORT) $(BIN)/honcho start -f Procfile.dev

test: venv
	$(BIN)/python -m pytest

# The fulfillment-tick benchmark (not a test, not part of `make test`): needs PostgreSQL; drops and
# recreates the database smmpanel_bench; writes bench/REPORT.md and bench/tick.png. See bench/README.md.
bench-tick: venv
	$(BIN)/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(BIN)/python bench/tick.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
