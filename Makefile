# Every target sets up what it needs: a fresh clone runs `make sample` or `make test` as is.
# The system interpreter when there is one: its standard library is readable by the sandbox's
# unprivileged user (an interpreter under /root, as pyenv installs it, is not).
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: sample test lint bench venv clean bytecode

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(MAKE) --no-print-directory bytecode
	touch $(STAMP)

# Compiled once here, because PYTHONDONTWRITEBYTECODE would otherwise make every run recompile.
bytecode:
	$(BIN)/python -m compileall -q grader solutions tests/fixtures

venv: $(STAMP)

## Grade the bundled sample submission end to end and print the result.
sample: $(STAMP)
	$(BIN)/grader grade samples/nn_basics_submission.ipynb --out results/sample-results.json

## Run the whole test suite: lint, format and type checks first, then the tests.
test: lint bytecode
	$(BIN)/python -m pytest

## The fast tier for development: everything but the tests marked slow (see tests/conftest.py).
.PHONY: test-fast
test-fast: lint bytecode
	$(BIN)/python -m pytest -m "not slow"

## ruff (lint and format) and mypy (strict for grader/), as CI runs them.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Measure grading cost against the interpreter-and-numpy floor, and batch throughput.
bench: $(STAMP) bytecode
	$(BIN)/python bench/grading_cost.py
	$(BIN)/python bench/batch.py --no-infinite-loops --assignments nn_basics
	$(BIN)/python bench/batch.py

clean:
	rm -rf $(VENV) results

## Build the Gradescope image on a stand-in base and grade sample submissions inside it (root, podman or docker).
.PHONY: container-test
container-test: $(STAMP)
	scripts/container-test

## Mutation testing: every mutant of the reference solutions, graded with the hidden tests (minutes).
## `make mutation ASSIGNMENT=name` tests one assignment; by default every one under solutions/.
.PHONY: mutation
ASSIGNMENT ?=
mutation: $(STAMP) bytecode
	scripts/mutation-test $(ASSIGNMENT) --report results/mutation.json

## Grade a small generated batch and screenshot its report.html with headless Chromium.
.PHONY: report-screenshot
report-screenshot: $(STAMP) bytecode
	scripts/report-screenshot docs/report-screenshot.png
