# niaga — the two commands: `make run` and `make test`. Each installs what it needs by itself.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1
# Tests run in parallel on every core (pytest-xdist); each worker starts its own PostgreSQL.
WORKERS ?= auto

.PHONY: run test install os-packages bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

os-packages:
	./scripts/ensure-os-packages

run: install
	$(BIN)/niaga db upgrade
	$(BIN)/niaga demo
	$(BIN)/niaga serve --host $(HOST) --port $(PORT)

test: install os-packages
	$(BIN)/python -m pytest -n $(WORKERS) -p no:cacheprovider $(PYTEST_ARGS)

bench: install os-packages
	$(BIN)/python bench/http.py

clean:
	rm -rf $(VENV) var .pytest_cache
