# Two entry points that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench schema-check realcluster clean

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

# The real control plane the real-server tests run against (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, KWOK), built from Go modules into
# ~/.cache/kgit/realcluster/<hash of tests/realcluster's go.mod, go.sum, mains>/bin and
# reused while those are unchanged. Without Go (and no cached build) those tests skip.
realcluster:
	@bash tests/realcluster/build.sh >/dev/null || [ $$? -eq 3 ]

test: $(VENV)/.installed-test realcluster
	@command -v kubectl >/dev/null || echo "note: kubectl not found; tests that use it will be skipped"
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

bench: $(VENV)/.installed-test realcluster
	$(BIN)/python -m bench.run

# The fast schema check kgit runs before jsonschema: regenerate after editing the schema.
schema-check: $(VENV)/.installed-test
	$(BIN)/python tools/generate_schema_check.py

clean:
	rm -rf $(VENV) build dist *.egg-info
