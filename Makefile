# Keyless developer commands. `make dev` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
export SAM_CLI_TELEMETRY := 0
# sam build looks for the exact Lambda runtime's interpreter on PATH (pyenv machines).
export PYENV_VERSION ?= 3.11.7:3.12.1:3.13.0

.PHONY: install dev test test-fast lint build validate invoke bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest

validate: install
	$(VENV)/bin/sam validate --lint

build: install
	$(VENV)/bin/sam build

clean:
	rm -rf .aws-sam .pytest_cache .hypothesis
