# Two commands: `make lab` opens the lessons, `make test` runs the whole suite.
# Both create .venv with Python 3.10+ if needed and (re)install spreadlab into
# it only when pyproject.toml changed, so running them again is quick.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.spreadlab-installed
LAB_ARGS ?=
PYTEST_ARGS ?=
# Jupyter refuses to start as root ("Running as root is not recommended") unless told
# --allow-root; root is the usual user in containers and lab images, so say it for them.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test env clean slides bench lite catalog

env: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "spreadlab needs Python 3.10 or newer; run: make PYTHON=python3.12 ...")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ALLOW_ROOT) $(LAB_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

slides: $(STAMP)
	$(BIN)/python -m spreadlab.publish.slides $(SLIDES_ARGS)

# The browser edition (JupyterLite): build/lite/, a static site; see the README.
lite: $(STAMP)
	$(BIN)/python -m spreadlab.publish.lite $(LITE_ARGS)

# The translation catalogs (spreadlab/locale/): new messages in, compiled .mo out.
catalog: $(STAMP)
	$(BIN)/python -m spreadlab.publish.catalog $(CATALOG_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build .pytest_cache
