# Two commands do everything: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test venv migrate clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

# The embedded defaults: SQLite under var/, DEBUG on, served on $(HOST):$(PORT).
run: export DEBUG ?= 1
run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py demo_access --base-url http://$(HOST):$(PORT)
	$(BIN)/python manage.py runserver --noreload $(HOST):$(PORT)

test: venv
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
