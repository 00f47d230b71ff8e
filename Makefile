# The two front-door commands:  `make run` (execute every notebook)  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PROFILE ?= auto
GPUS    ?=
export MATLIB_DATA ?= $(abspath ../shared/data)

.PHONY: setup run test smoke lab clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

setup: $(BIN)/.installed

## run: execute all notebooks in order (full on a GPU, teach otherwise) into outputs/;
##      GPUS="0 1" runs them side by side, one per GPU
run: setup
	$(BIN)/python -m matlib.runner --profile $(PROFILE) --out outputs $(if $(GPUS),--gpus $(GPUS))

## test: unit tests plus a papermill smoke run of every notebook
test: setup
	MATLIB_VIEWER=static $(BIN)/python -m pytest

## lab: open JupyterLab on notebooks/
lab: setup
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[lab]"
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) outputs data/cache
