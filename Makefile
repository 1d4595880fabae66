# The two commands of the README: `make demo` (the whole story) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint types pytest bench clean messages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)
	scripts/install-system-deps.sh

demo: setup
	$(BIN)/gateway demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint types pytest

bench: setup
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# The page strings: extract them and update gateway/web/locale/*/LC_MESSAGES/messages.po (then translate).
messages: setup
	$(BIN)/python scripts/update-messages.py
