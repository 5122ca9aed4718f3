# Two commands do everything: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test venv migrate clean bench bench-smoke bench-tick bench-profile bench-deps

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

# Benchmarks (not tests, not part of `make test`); see bench/README.md. They need PostgreSQL; the
# load tool (wrk) and redis-server are Debian packages, installed here when missing.
bench-deps: venv
	$(BIN)/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	@command -v wrk >/dev/null && command -v redis-server >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq wrk redis-server) || \
		{ echo "bench needs wrk and redis-server: apt-get install wrk redis-server"; exit 1; }

# The whole benchmark of issue #8: the API scenarios against their baselines, then the tick. Drops and
# recreates smmpanel_bench_api (and the tick's smmpanel_bench); writes bench/REPORT.md, bench/api.png
# and bench/tick.png. About 12 minutes (3 rounds). BENCH_ARGS="--duration 30" etc.: see bench/api.py --help.
bench: bench-deps
	$(BIN)/python bench/api.py $(BENCH_ARGS)

# The same harness with 3-second runs: checks that it works; its figures are noise.
bench-smoke: bench-deps
	$(BIN)/python bench/api.py --smoke $(BENCH_ARGS)

# The fulfillment tick alone: drops and recreates smmpanel_bench; writes bench/REPORT.md and bench/tick.png.
bench-tick: bench-deps
	$(BIN)/python bench/tick.py $(BENCH_ARGS)

# Where the API's time goes: py-spy samples the gunicorn workers during each scenario, API and reference
# view. Drops and recreates smmpanel_bench_profile; writes the `## Profiles` section of bench/REPORT.md.
# About 4 minutes; needs ptrace rights (root, or kernel.yama.ptrace_scope=0). See bench/profile_api.py --help.
bench-profile: bench-deps
	$(BIN)/python bench/profile_api.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
