# The two front-door commands:  `make run` (execute every notebook)  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PROFILE ?= auto
GPUS    ?=
# The datasets beside the clone when they are there (this project's machines); otherwise matlib
# downloads and verifies what it needs into data/downloads/.
ifneq ($(wildcard ../shared/data),)
export MATLIB_DATA ?= $(abspath ../shared/data)
endif

.PHONY: setup run test smoke jupyter clean chromium mirrors

$(BIN)/.installed: pyproject.toml constraints.txt
	@echo "setup: creating $(VENV) and installing matlib with its dependencies (CPU torch, pymatgen, JupyterLab, ...)"
	@echo "setup: about 2 GB; 1-4 minutes on a 2-core machine"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	@echo "setup: done"
	touch $@

setup: $(BIN)/.installed

## run: execute all notebooks in order (full on a GPU, teach otherwise) into outputs/;
##      GPUS="0 1" runs them side by side, one per GPU
run: setup
	$(BIN)/python -m matlib.course.runner --profile $(PROFILE) --out outputs $(if $(GPUS),--gpus $(GPUS))

## test: unit tests, a papermill smoke run of every notebook, and JupyterLab in headless Chromium
test: setup chromium
	MATLIB_VIEWER=static $(BIN)/python -m pytest

## chromium: Debian's browser for the JupyterLab test (apt, as root; no other browser download)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "setup: installing Debian's chromium for the browser test (apt-get, about 2 minutes)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "setup: no chromium; the browser test will be skipped (apt-get install chromium)"; fi; }

## jupyter: open JupyterLab on notebooks/ (lab/ is the research record, not this)
jupyter: setup
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[lab]"
	mkdir -p $(VENV)/share/jupyter/lab/settings && cp binder/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	$(BIN)/jupyter lab notebooks/

## mirrors: rewrite notebooks/mirrors/*.py (py:percent) from the notebooks after editing them
mirrors: setup
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.ipynb

clean:
	rm -rf $(VENV) outputs data/cache
