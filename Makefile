# Every target installs what it needs (`setup` is idempotent and cheap once done).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SAM_VENV := .sam-venv
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed-stamp
SAM_CLI_VERSION := 1.170.0
NODE_STAMP := node_modules/.installed-stamp
# `sam build` without Docker needs a python3.13 on PATH; pyenv resolves it only when named.
BUILD_PYENV := PYENV_VERSION=3.13.0:$(shell pyenv version-name 2>/dev/null || echo system)

FN ?= CallbackFunction
EVENT ?=

.PHONY: setup run demo test test-unit test-integration test-e2e lint build deploy invoke bench clean

setup: $(STAMP) $(NODE_STAMP)

$(STAMP): requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q --upgrade pip
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

run: setup
	$(PY) -m local.run

demo: setup
	$(PY) -m local.demo

test: setup
	$(PY) -m pytest -q

test-unit: setup
	$(PY) -m pytest -q tests/unit

test-integration: setup
	$(PY) -m pytest -q tests/integration

test-e2e: setup
	$(PY) -m pytest -q tests/e2e

lint: setup $(SAM_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1

build: $(SAM_STAMP)
	$(BUILD_PYENV) $(SAM) build --region us-east-1

deploy: build
	$(SAM) deploy --guided

invoke: setup
	$(PY) -m local.invoke $(FN) $(EVENT)

bench: setup
	$(PY) -m bench.run

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache
