# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run demo test lint docs openapi bench image-test fuzz fuzz-deep clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

## run: install, migrate and serve on http://127.0.0.1:8000 with the embedded SQLite database
run: $(VENV)/.installed
	$(BIN)/readiness serve

## demo: fill the database `make run` serves with a realistic portfolio and print a key to sign in with
demo: $(VENV)/.installed
	$(BIN)/readiness demo-data

# The suite's modules spread over one process per core; each builds its own databases.
TEST_WORKERS ?= $(shell nproc)

## test: lint, type-check and run the whole suite on SQLite and PostgreSQL
test: $(VENV)/.installed-dev tests/oidc/node_modules/.installed tests/client/ts/node_modules/.installed \
		tests/ui/axe/node_modules/.installed /usr/bin/chromium /usr/bin/jq lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope

# The OpenID provider the token tests run against (oidc-provider, on Node).
tests/oidc/node_modules/.installed: tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund
	touch $@

# The TypeScript toolchain a portal uses on the contract (openapi-typescript, tsc).
tests/client/ts/node_modules/.installed: tests/client/ts/package-lock.json
	npm ci --prefix tests/client/ts --no-audit --no-fund
	touch $@

# axe-core, which the dashboard's browser tests inject into its pages.
tests/ui/axe/node_modules/.installed: tests/ui/axe/package-lock.json
	npm ci --prefix tests/ui/axe --no-audit --no-fund
	touch $@

# Debian's Chromium, which the browser tests drive: Playwright's own browser download cannot work here.
# The package lists are fetched first: a new machine may never have fetched them.
/usr/bin/chromium:
	apt-get update -qq && apt-get install -y -qq chromium

# jq, which the documentation's examples use to pick a field out of an answer (they run in the suite).
/usr/bin/jq:
	apt-get update -qq && apt-get install -y -qq jq

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## docs: build the documentation site into site/ (MkDocs, Material), offline; a broken link fails it
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## openapi: regenerate the committed contract after changing routes or schemas
openapi: $(VENV)/.installed
	$(BIN)/readiness export-openapi

## bench: the service against its own ceilings (bare Starlette, FastAPI) on SQLite and PostgreSQL, webhook
## deliveries, and the steering report's PDF for 1,000 projects; needs wrk
bench: $(VENV)/.installed-dev
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.events
	$(BIN)/python -m bench.steering

## fuzz: schemathesis (every check and phase) against a live service on SQLite and PostgreSQL
fuzz: $(VENV)/.installed-dev
	FUZZ_SEED=$(FUZZ_SEED) bash scripts/fuzz-live

## fuzz-deep: the same with 25 examples per operation and a random seed, printed (set FUZZ_SEED to repeat one)
fuzz-deep: $(VENV)/.installed-dev
	FUZZ_EXAMPLES=25 FUZZ_SEED=$${FUZZ_SEED:-$$(shuf -i 1-999999999 -n 1)} bash scripts/fuzz-live

## image-test: build the Dockerfile with buildah against a debootstrapped base and check the image serves
image-test:
	bash scripts/image-test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
