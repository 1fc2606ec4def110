# niaga — the two commands: `make run` and `make test`. Each installs what it needs by itself.
#   make run [PORT=8123] [HOST=127.0.0.1]   serve the demo business at http://HOST:PORT
#   make test [WORKERS=auto] [PYTEST_ARGS=…] the whole suite on SQLite and PostgreSQL, browser tests included
#   make bench [BENCH_ARGS=…]                bench/http.py (JSON on stdout)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1
# Tests run in parallel on every core (pytest-xdist); each worker starts its own PostgreSQL.
WORKERS ?= auto
export WORKERS PYTEST_ARGS

.PHONY: run test install os-packages bench settings-table clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "niaga needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

os-packages:
	@./scripts/ensure-os-packages

# Links in emails and invitations point at the address served here unless NIAGA_BASE_URL says otherwise.
run: install
	$(BIN)/niaga db upgrade
	$(BIN)/niaga demo
	NIAGA_LOG_JSON="$${NIAGA_LOG_JSON:-false}" NIAGA_BASE_URL="$${NIAGA_BASE_URL:-http://$(HOST):$(PORT)}" $(BIN)/niaga serve --host $(HOST) --port $(PORT)

test: install os-packages
	@./scripts/run-tests

bench: install os-packages
	$(BIN)/python bench/http.py $(BENCH_ARGS)

# Rewrite the README's configuration table from niaga.config.Settings.
settings-table: install
	$(BIN)/python scripts/settings_table.py --write

clean:
	rm -rf $(VENV) var .pytest_cache
