# Every target installs what it needs (`setup` is idempotent and cheap once done).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# SAM CLI lives in its own venv (it pins boto3 exactly). The stamp names the version: bumping
# SAM_CLI_VERSION rebuilds the venv.
SAM_CLI_VERSION := 1.170.0
SAM_VENV := .sam-venv
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_CLI_VERSION)
# SAM CLI's own config dir (metadata.json), kept inside the venv instead of ~/.aws-sam. It is seeded with
# telemetry off and a last version check in the year 3000, so SAM never asks PyPI for a newer version
# (the weekly check has no switch of its own). SAM_CLI_TELEMETRY=0 is exported for every recipe as well.
SAM_HOME := $(CURDIR)/$(SAM_VENV)/sam-home
export SAM_CLI_TELEMETRY := 0
SAM := __SAM_CLI_APP_DIR=$(SAM_HOME) $(SAM_VENV)/bin/sam
DEPLOY_ENV ?= default
NODE_STAMP := node_modules/.installed-stamp
# `sam build` without Docker needs a python3.13 on PATH; pyenv resolves it only when PYENV_VERSION names
# it. Use the newest installed 3.13.x (then the current version(s), so other shims keep working); without
# pyenv, python3.13 must simply be on PATH. Lazily expanded: only `build` pays for the pyenv calls.
PY313 = $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.13\.[0-9]+$$' | sort -V | tail -n 1)
BUILD_PYENV = $(if $(PY313),PYENV_VERSION=$(PY313):$(shell pyenv version-name 2>/dev/null || echo system))

FN ?= CallbackFunction
EVENT ?=

.PHONY: setup run demo test test-unit test-integration test-e2e lint build deploy invoke events bench clean

setup: $(STAMP) $(NODE_STAMP)

# PYTHONWARNINGS=ignore: setuptools prints a page-long BuildBackendWarning for every editable install.
$(STAMP): requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	PYTHONWARNINGS=ignore $(PY) -m pip install -q --no-deps -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(SAM_STAMP):
	$(PYTHON) -m venv --clear $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --upgrade pip
	$(SAM_VENV)/bin/python -m pip install -q aws-sam-cli==$(SAM_CLI_VERSION)
	mkdir -p $(SAM_HOME)
	echo '{"telemetryEnabled": false, "lastVersionCheck": 32503680000.0}' > $(SAM_HOME)/metadata.json
	$(SAM) --version
	touch $@

run: setup
	$(PY) -m local.run

demo: setup
	$(PY) -m local.demo

# pytest-xdist on every core; --dist loadfile keeps a module on one worker, so a module-scoped local stack
# starts once. Every worker has its own moto backends, DynamoDB Local, ports, queues, buckets and simulator.
# PYTEST_WORKERS=0 runs in-process (for a debugger); PYTEST_ARGS adds options, e.g. PYTEST_ARGS='-k welcome'.
PYTEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test: setup
	$(PYTEST)

# The suites by marker (conftest marks every test by its folder: unit, integration, e2e).
test-unit: setup
	$(PYTEST) -m unit

test-integration: setup
	$(PYTEST) -m integration

test-e2e: setup
	$(PYTEST) -m e2e

# mypy checks the layer, the CLI and every handler (one by one: each handler module is named `app`).
# `sam validate --lint` is cfn-lint only, and cfn-lint 1.x no longer runs the SAM transform; plain
# `sam validate` runs it (offline: no credentials needed; the IMDS lookup is switched off so it does not
# wait on a metadata endpoint that is not there).
lint: $(STAMP) $(SAM_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/shared/wecom_bundle cli/wecomctl
	for handler in functions/*/app.py; do $(VENV)/bin/mypy "$$handler" || exit 1; done
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1
	AWS_EC2_METADATA_DISABLED=true $(SAM) validate --region us-east-1

# No Docker: SAM builds with the local python3.13 and fetches arm64 (manylinux aarch64) wheels for the layer.
# --cached reuses unchanged artifacts from .aws-sam/cache (`make clean` drops them).
build: $(SAM_STAMP)
	@$(BUILD_PYENV) python3.13 -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null || \
	  { echo "make build: python3.13 not found (install it: pyenv install 3.13)" >&2; exit 1; }
	$(BUILD_PYENV) $(SAM) build --cached --parallel

# First deploy: `make deploy` (interactive; saves the answers to samconfig.toml).
# Later / CI: `make deploy GUIDED=0 [DEPLOY_ENV=prod]` deploys non-interactively with the settings of
# [DEPLOY_ENV.deploy.parameters] in samconfig.toml (start from samconfig.toml.example).
deploy: build
ifeq ($(GUIDED),0)
	@test -f samconfig.toml || { echo "make deploy GUIDED=0 needs samconfig.toml (cp samconfig.toml.example samconfig.toml)" >&2; exit 1; }
	$(SAM) deploy --config-env $(DEPLOY_ENV) --no-confirm-changeset --no-fail-on-empty-changeset
else
	$(SAM) deploy --guided --config-env $(DEPLOY_ENV)
endif

invoke: setup
	$(PY) -m local.invoke $(FN) $(EVENT)

# Re-sign the sample callback events with a fresh timestamp (the callback rejects ones older than 5 minutes).
events: setup
	$(PY) -m local.events

bench: setup
	$(PY) -m bench.run $(BENCH)

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache
