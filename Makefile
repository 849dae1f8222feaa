# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv when missing and (re)install the package only when
# pyproject.toml or constraints.txt changed since the last install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sigver-installed

.PHONY: demo test test-fast install clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,onnx,serve,dask]'
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/python -m pytest

# The quick loop while editing: everything but the tests marked slow.
test-fast: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/python -m pytest -m "not slow"

# DEMO_FLAGS passes extra flags, e.g. make demo DEMO_FLAGS="--quick --out /tmp/demo"
demo: $(STAMP)
	$(BIN)/sigver demo $(DEMO_FLAGS)

clean:
	rm -rf $(VENV) build src/*.egg-info
