# Keyless developer commands. `make dev` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
export SAM_CLI_TELEMETRY := 0
# sam build looks for the exact Lambda runtime's interpreter on PATH (pyenv machines).
export PYENV_VERSION ?= 3.11.7:3.12.1:3.13.0

.PHONY: install dev test lint build validate invoke admin bench security lock clean

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@# A plain path entry (compat mode): the default editable finder adds ~40 ms to every Python start.
	$(PY) -m pip install --quiet --config-settings editable_mode=compat -e clients/python
	touch $@

# The client kits' pinned npm packages (clients/*/package-lock.json), for their tests under node.
NPM_KITS := clients/aws-passwordless clients/amplify
%/node_modules/.installed: %/package-lock.json
	cd $* && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

# The peer `make bench` compares cold starts with (issue 12): AWS's passwordless triggers, run under node.
NPM_BENCH := bench/peer

# AWS SAM CLI in a venv of its own: it pins a pyOpenSSL (~=25.3) older than the one webauthn, a
# product dependency, needs (>=26.3), so the two cannot share one.
SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
$(SAM_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.148.0
	touch $@

install: $(VENV)/.installed $(SAM_VENV)/.installed $(NPM_KITS:%=%/node_modules/.installed) $(NPM_BENCH:%=%/node_modules/.installed)

# Every test: all but the timing comparisons on 1.5 workers per core (the suite waits on browsers,
# servers and processes: on 2 cores 3 workers took 3 min 56 s, 2 took 4 min 24 s, 4 took 4 min 2 s),
# then those in one process alone (collected only from the files that have them).
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(max(1, len(os.sched_getaffinity(0)) * 3 // 2))")
test: install
	$(PY) -m pytest -m "not timing" -n $(TEST_WORKERS)
	$(PY) -m pytest -m timing -n 0 $$(grep -l "mark.timing" tests/*.py tests/unit/*.py)

# The local user pool, demo page and mailbox: http://127.0.0.1:9229 (ARGS="--port 9000" to change).
dev: install
	$(PY) -m localpool $(ARGS)

# One function on one event, Docker-free: make invoke FUNCTION=define_auth_challenge EVENT=events/define_auth_challenge/first_round.json
# (template parameters: ARGS="--parameter Passkeys=Enabled")
invoke: install
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=<LogicalId or folder> EVENT=events/<folder>/<name>.json"; exit 2; }
	@$(PY) -m localpool.invoke "$(FUNCTION)" "$(EVENT)" $(ARGS)

# Operator commands (README, Operator commands): make admin ARGS="--stack keyless status jane@example.com"
admin: install
	@$(PY) -m keyless_admin $(ARGS)

# Benchmarks (issue 5): one table, also written to bench/results/latest.md. ARGS="--rounds 3" etc.
# ARGS="--no-peer" leaves out the peer's cold starts (bench/peer).
bench: install
	$(PY) -m bench $(ARGS)

# Style and types (run by .ci/run): ruff's rules and formatting (pyproject.toml), mypy on the product
# code, the local pool and the operator commands.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/keyless shared/slim_botocore.py functions localpool clients/python keyless_admin

validate: install
	$(SAM) validate --lint

# Static checks (run by .ci/run). The scanners live in their own venv: checkov pins versions that
# aws-sam-cli refuses. Every suppression names its reason beside it (.checkov.yaml, `# nosec` lines).
TOOLS_VENV ?= .venv-tools
SECURITY_TOOLS := bandit==1.9.4 checkov==3.3.30 pip-audit==2.10.1
$(TOOLS_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet $(SECURITY_TOOLS)
	touch $@

security: validate $(TOOLS_VENV)/.installed
	$(TOOLS_VENV)/bin/bandit --quiet --recursive --severity-level medium shared/keyless shared/slim_botocore.py functions localpool bench clients/python keyless_admin
	$(TOOLS_VENV)/bin/checkov --config-file .checkov.yaml --file template.yaml
	@# Known vulnerabilities in what the layer ships. pip-audit fails on any it finds; a package it
	@# cannot look up (no route to the vulnerability service) is listed as skipped, not hidden.
	$(TOOLS_VENV)/bin/pip-audit --disable-pip --progress-spinner off --requirement shared/requirements.txt

# Re-lock the layer's dependencies (shared/requirements.in -> shared/requirements.txt, with hashes).
lock:
	python3.12 -m venv .venv-lock
	.venv-lock/bin/pip install --quiet pip-tools==7.6.2
	cd shared && ../.venv-lock/bin/pip-compile --quiet --generate-hashes --no-strip-extras --no-emit-index-url \
		--no-emit-find-links --output-file requirements.txt requirements.in

build: install
	$(SAM) build

clean:
	rm -rf .aws-sam .pytest_cache .hypothesis .venv-tools .venv-lock .venv-sam
