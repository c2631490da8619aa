# Two commands: `make run` and `make test`. Both set everything up from nothing
# (venv, llama-cpp-python built with flags that work here, the default models)
# and are safe to repeat.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# promptfoo (npm; `make test` only), for the tests that run exported configs in the real tool; kept in a cache
# outside the checkout so a fresh clone reuses it.
PROMPTFOO_HOME := $(HOME)/.cache/prompt-workbench/promptfoo
PROMPTFOO := $(PROMPTFOO_HOME)/node_modules/.bin/promptfoo

.PHONY: run test setup models bench clean llama-server

run: setup
	$(VENV)/bin/workbench run

test: setup $(PROMPTFOO) llama-server
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: setup
	$(PY) bench/engine.py
	$(PY) bench/notebook.py
	$(PY) bench/markdown_render.py
	$(PY) bench/cache.py
	$(PY) bench/eval.py
	$(PY) bench/learn.py

setup: $(VENV)/.installed models

$(PROMPTFOO):
	timeout 600 npm install --prefix $(PROMPTFOO_HOME) --no-audit --no-fund --loglevel=error promptfoo@0.121.20

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Rebuilt when the project or the llama.cpp flags change (the script keys its
# own cache by CMAKE_ARGS, so this is cheap when nothing changed). Then the bytecode, as an
# installer writes it: the window opens ~0.4 s sooner than when every module is compiled at each
# start (as under PYTHONDONTWRITEBYTECODE=1); quick when it is up to date.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml scripts/install_llama.py FORCE
	$(PY) scripts/install_llama.py $(VENV)
	@if [ ! -f $@ ] || [ pyproject.toml -nt $@ ]; then \
		$(PY) -m pip install --quiet -e '.[test]' && touch $@; fi
	$(PY) -m compileall -q workbench > /dev/null

# llama.cpp's own server, for the remote-engine tests (`make test` only): built once from the
# same sources and flags as the binding and cached like its wheel (about 20 minutes on 2 cores).
llama-server: $(VENV)/.installed
	$(PY) scripts/build_llama_server.py $(VENV)

models: $(VENV)/bin/python
	$(PY) scripts/fetch_models.py models

clean:
	rm -rf $(VENV) tests/artifacts .pytest_cache

FORCE:
