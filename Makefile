# The two commands of the README:
#   make up     install into .venv and run the whole system on SQLite (no server needed)
#   make test   install into .venv (with the test tools) and run the whole suite
#               on SQLite and PostgreSQL (127.0.0.1:5432, see WANGGE_TEST_POSTGRES)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: up test demo lint install

up: $(VENV)/.installed
	$(BIN)/wangge up

test: $(VENV)/.installed-test
	$(BIN)/pytest -n 2 --dist loadgroup

demo: $(VENV)/.installed
	$(BIN)/wangge demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy services shared wangge migrations tests bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed
