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

# The local user pool, demo page and mailbox: http://127.0.0.1:9229 (ARGS="--port 9000" to change).
dev: install
	$(PY) -m localpool $(ARGS)

# One function on one event, Docker-free: make invoke FUNCTION=define_auth_challenge EVENT=events/define_auth_challenge/first_round.json
invoke: install
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=<LogicalId or folder> EVENT=events/<folder>/<name>.json"; exit 2; }
	@$(PY) -m localpool.invoke "$(FUNCTION)" "$(EVENT)"

# Benchmarks (issue 5): one table, also written to bench/results/latest.md. ARGS="--rounds 3" etc.
bench: install
	$(PY) -m bench $(ARGS)

validate: install
	$(VENV)/bin/sam validate --lint

build: install
	$(VENV)/bin/sam build

clean:
	rm -rf .aws-sam .pytest_cache .hypothesis
