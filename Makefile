# Two commands on a fresh machine with Python 3.11 and make:
#   make run    set up .venv, install the project, run the default Shaoyang scenario
#   make test   set up .venv with the test extras, run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP_FLAGS := --disable-pip-version-check --quiet

.PHONY: run test lint test-slow golden bench validate clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install $(PIP_FLAGS) -e '.[test]'
	@touch $@

run: $(VENV)/.installed
	$(PY) run_sim.py run

validate: $(VENV)/.installed
	$(PY) run_sim.py validate scenarios/shaoyang.yaml

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest

test-slow: $(VENV)/.installed-test
	$(PY) -m pytest -m slow

# write the golden figures anew (after a change on purpose: look at the new images first)
golden: $(VENV)/.installed-test
	POLICE_SIM_UPDATE_GOLDEN=1 $(PY) -m pytest -q tests/test_golden_figures.py

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
