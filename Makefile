# Two entry points that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench schema-check clean sshd

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installed markers: reinstall when the project metadata changes. The demo needs kgit
# alone; the tests also need their oracles (kubernetes-validate, shellcheck, ...).
$(VENV)/.installed-kgit: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-kgit

demo: $(VENV)/.installed-kgit
	$(BIN)/kgit validate
	$(BIN)/kgit compile
	$(BIN)/kgit compile --check
	$(BIN)/kgit diff --demo

# The host tests run a real OpenSSH server (Debian's openssh-server) serving test nodes on
# loopback addresses; it needs root, as CI has. Installed here like any test dependency.
sshd:
	@if [ ! -x /usr/sbin/sshd ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null; \
	  else echo "note: openssh-server not installed and not root; the host SSH tests will be skipped"; fi; \
	fi

test: lint sshd
	@command -v kubectl >/dev/null || echo "note: kubectl not found; tests that use it will be skipped"
	@command -v go >/dev/null || echo "note: go not found; the actionlint test will be skipped"
	KGIT_ACTIONLINT="$$(bash tools/actionlint.sh)" $(BIN)/python -m pytest -n 2

# The gates CI runs (through make test) and .pre-commit-config.yaml runs for contributors:
# formatting, lint with a complexity limit (C901), types, and the import contracts
# (layers, no kubernetes on the compile path, GitPython only in repo/; no cycles).
lint: $(VENV)/.installed-test
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.run

# The fast schema check kgit runs before jsonschema: regenerate after editing the schema.
schema-check: $(VENV)/.installed-test
	$(BIN)/python tools/generate_schema_check.py

clean:
	rm -rf $(VENV) build dist *.egg-info
