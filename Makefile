# brainrecon: `make demo` sets up and runs the pipeline; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0

.PHONY: demo test test-fast lint clean

demo: $(VENV)/.installed
	dvc repro
	brainrecon results

test: $(VENV)/.installed
	python -m pytest -ra --durations=15

test-fast: $(VENV)/.installed
	python -m pytest -ra -m "not slow"

lint: $(VENV)/.installed
	ruff check pipeline stages tests

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV)
