# The two commands of the README: `make demo` runs the main job offline, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo generate check lint typecheck pytest bench live-check clean

# (Re)create the virtual environment and install the project with its dev tools when
# pyproject.toml changes; everything the tests need is installed from here.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# compat mode: a plain path entry, which type checkers follow (the default import hook they do not).
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $(STAMP)

test: $(STAMP) check lint typecheck pytest

# The main job: the seed's walkthrough for TCIA v3 and NBIA v4 against the embedded fake TCIA
# (no network needed); with TCIA_BASE_URL set, against that server.
demo: $(STAMP)
	$(PY) -m tcia_sdk.demo

generate: $(STAMP)
	$(PY) -m codegen generate

check: $(STAMP)
	$(PY) -m codegen check

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

pytest: $(STAMP)
	$(PY) -m pytest

# Not part of `make test`: figures are ratios to baselines measured in the same run.
bench: $(STAMP)
	$(PY) -m tests.benchmarks

# Not part of `make test`: needs the network. Calls every public endpoint of every version once
# against the real servers, checks the decoding and reports drift; run it after each TCIA release.
live-check: $(STAMP)
	$(PY) -m tcia_sdk.livecheck --writes

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
