# Two commands: `make run` and `make test`. Both set everything up from nothing
# (venv, llama-cpp-python built with flags that work here, the default models)
# and are safe to repeat.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test setup models bench clean

run: setup
	$(VENV)/bin/workbench run

test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: setup
	$(PY) bench/engine.py
	$(PY) bench/notebook.py
	$(PY) bench/markdown_render.py

setup: $(VENV)/.installed models

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Rebuilt when the project or the llama.cpp flags change (the script keys its
# own cache by CMAKE_ARGS, so this is cheap when nothing changed).
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml scripts/install_llama.py FORCE
	$(PY) scripts/install_llama.py $(VENV)
	@if [ ! -f $@ ] || [ pyproject.toml -nt $@ ]; then \
		$(PY) -m pip install --quiet -e '.[test]' && touch $@; fi

models: $(VENV)/bin/python
	$(PY) scripts/fetch_models.py models

clean:
	rm -rf $(VENV) tests/artifacts .pytest_cache

FORCE:
