# The verbs: `make dev`, `make test`, `make lint`, `make build`, `make invoke EVENT=...`, `make bench`, `make deploy`.
# Every target installs what it needs into project-local virtual environments on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EVENT ?= events/post-with-prompt.json

.PHONY: venv test unit lint lint-python lint-template dev invoke build bench deploy clean browser-deps web browser

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt src/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## The whole suite: template checks, then every test (unit, integration, build, browser, fault, property).
test: venv lint-template build
	$(PY) -m pytest

## Only the fast tests that need no emulation.
unit: venv
	$(PY) -m pytest tests/unit

lint: lint-python lint-template

lint-python: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

lint-template: venv
	scripts/lint-template.sh

## Serve http://127.0.0.1:3000/session-token locally (offline Anam stand-in unless ANAM_API_KEY is set).
dev: venv
	$(PY) -m local.dev_server $(ARGS)

## Run the handler once on an event file, like `sam local invoke -e`, without Docker.
invoke: venv
	$(PY) -m local.invoke $(EVENT)

## `sam build` into .aws-sam/build (needs python3.13; pyenv's is found automatically).
build: .aws-sam/build/template.yaml

.aws-sam/build/template.yaml: template.yaml src/requirements.txt $(shell find src -name '*.py')
	scripts/sam.sh build

## Debian's chromium and the example page's npm packages, for the browser test.
browser-deps:
	scripts/install-browser-deps.sh

## Build the example page into examples/web/dist.
web:
	cd examples/web && npm ci --no-audit --no-fund && npm run build

## Only the browser test: headless Chromium, the real Anam JS SDK, `make dev` offline.
browser: venv
	$(PY) -m pytest -m browser tests/browser

bench: venv build
	$(PY) -m scripts.bench

deploy: build
	scripts/sam.sh deploy --guided

clean:
	rm -rf .aws-sam .venv .venv-* .pytest_cache .mypy_cache .ruff_cache examples/web/node_modules examples/web/dist
