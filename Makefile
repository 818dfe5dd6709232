# Sanctions Tracker: `make run` to serve the demo data, `make test` to run the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PORT ?= 8000
export PORT

.PHONY: run test lint bench install clean-db lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the locked requirements change. The lock files pin every package
# (dependencies' dependencies too), so two installs a month apart are the same.
# FollowTheMoney's PyICU builds from source: where it cannot, say so and go on.
$(VENV)/.installed: requirements-dev.lock requirements-ftm.lock | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.lock
	mkdir -p var
	@$(BIN)/pip install --quiet -r requirements-ftm.lock >var/pyicu.log 2>&1 \
		&& rm var/pyicu.log \
		|| echo "PyICU could not be built (it needs a C++ compiler and the ICU headers; see var/pyicu.log): the FollowTheMoney export and import are off, everything else works. With them installed, rm $@ and run make again."
	touch $@

# After editing requirements*.txt: resolve them again into the lock files.
lock: | $(BIN)/python
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile --quiet --python-version 3.11 requirements.txt -o requirements.lock
	$(BIN)/uv pip compile --quiet --python-version 3.11 requirements-ftm.txt \
		--constraint requirements.lock -o requirements-ftm.lock
	$(BIN)/uv pip compile --quiet --python-version 3.11 requirements-dev.txt \
		--constraint requirements.lock --constraint requirements-ftm.lock -o requirements-dev.lock

install: $(VENV)/.installed

var/secret_key:
	mkdir -p var
	$(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	chmod 600 $@

# The web server and a Celery worker (with beat) run under honcho; Ctrl-C stops them,
# then the embedded PostgreSQL (if one was started) is stopped too.
run: install var/secret_key
	@export SECRET_KEY="$$(cat var/secret_key)" SITE_ROOT="$${SITE_ROOT:-http://127.0.0.1:$(PORT)}"; \
	trap '[ -n "$$DATABASE_URL" ] || $(BIN)/python -m sanctions.embedded_db stop; exit' EXIT INT TERM; \
	$(MANAGE) migrate --noinput -v0 && \
	$(MANAGE) load_demo --if-empty && \
	$(MANAGE) collectstatic --noinput -v0 && \
	$(MANAGE) create_local_admin && \
	echo "Serving http://127.0.0.1:$(PORT)/ (admin at /admin/). Ctrl-C stops everything." && \
	TWO_FACTOR_REQUIRED=$${TWO_FACTOR_REQUIRED:-false} \
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT)

test: install
	SECRET_KEY=test-only-not-secret $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SECRET_KEY=lint-only-not-secret $(BIN)/python manage.py makemigrations --check --dry-run
	SECRET_KEY=lint-only-not-secret $(BIN)/python manage.py check --fail-level WARNING
	@# The documented production settings pass Django's deployment checks.
	PRODUCTION=true TRUSTED_PROXIES=1 DEBUG=false ALLOWED_HOSTS=tracker.example.org \
	SITE_ROOT=https://tracker.example.org \
	SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

# Scale benchmarks, each on a benchmark database of its own that it creates and fills
# on first use (see bench/README.md).
bench: install
	SECRET_KEY=bench-only-not-secret $(BIN)/python bench/import_bench.py
	$(BIN)/python bench/search_bench.py
	$(BIN)/python bench/export_bench.py

clean-db:
	$(BIN)/python -m sanctions.embedded_db stop
	rm -rf var/postgres
