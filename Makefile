# Two commands for a fresh machine (Python 3.11+ and make): `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test lint format clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# Set up everything and start web + worker + beat on the embedded default
# (SQLite and a filesystem broker under var/); Ctrl-C stops all three.
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py ensure_admin
	@echo "Admin: http://127.0.0.1:8000/admin/"
	$(BIN)/honcho --procfile Procfile.dev start

# The whole test suite. On SQLite and the filesystem broker unless DATABASE_URL
# and CELERY_BROKER_URL point at PostgreSQL and Redis (as .ci/run does).
test: $(VENV)/.installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var staticfiles
