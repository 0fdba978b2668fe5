# Two commands: `make lab` opens the lessons, `make test` runs the whole suite.
# Both create .venv with Python 3.10+ if needed and (re)install spreadlab into
# it only when pyproject.toml changed, so running them again is quick.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.spreadlab-installed
LAB_ARGS ?=
PYTEST_ARGS ?=
# The edition `make lab` opens: en (notebooks/) or zh-CN (notebooks/zh-CN/, with JupyterLab's own
# menus and dialogs in Chinese through its maintained language pack, installed into the venv the
# first time it is asked for; chosen by a settings override for this launch only, so the user's
# own JupyterLab settings are not touched and plain `make lab` stays English).
EDITION ?= en
ZH_CN_LANGUAGE_PACK := jupyterlab-language-pack-zh-CN>=4.5.post3,<5
ZH_CN_PACK_STAMP := $(VENV)/.spreadlab-language-pack-zh-CN
# JupyterLab's "app settings" folder for the Chinese edition: its overrides.json sets the locale.
# Beside the venv's own application folder, which JupyterLab reads from the settings folder's parent.
ZH_CN_SETTINGS := $(VENV)/share/jupyter/lab/spreadlab-zh-CN
ifeq ($(EDITION),en)
LAB_NOTEBOOKS := notebooks
LAB_EDITION_ARGS :=
LAB_EDITION_NEEDS :=
else ifeq ($(EDITION),zh-CN)
LAB_NOTEBOOKS := notebooks/zh-CN
LAB_EDITION_ARGS := --LabApp.app_settings_dir=$(abspath $(ZH_CN_SETTINGS))
LAB_EDITION_NEEDS := $(ZH_CN_PACK_STAMP) $(ZH_CN_SETTINGS)/overrides.json
else
$(error EDITION=$(EDITION) is not an edition of the lessons: use EDITION=en or EDITION=zh-CN)
endif
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

lab: $(STAMP) $(LAB_EDITION_NEEDS)
	$(BIN)/jupyter lab --notebook-dir=$(LAB_NOTEBOOKS) $(LAB_EDITION_ARGS) $(ALLOW_ROOT) $(LAB_ARGS)

$(ZH_CN_PACK_STAMP): | $(STAMP)
	$(BIN)/python -m pip install --quiet '$(ZH_CN_LANGUAGE_PACK)'
	@touch $@

$(ZH_CN_SETTINGS)/overrides.json: | $(STAMP)
	@mkdir -p $(dir $@)
	@printf '%s\n' '{"@jupyterlab/translation-extension:plugin": {"locale": "zh_CN"}}' > $@

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
