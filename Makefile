# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
SHARED ?= ../shared

.PHONY: demo test install chromium screenshots services clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

# Re-installs when a setup.cfg changes; editable installs pick up code changes by themselves.
$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml plugins/marketo/setup.cfg plugins/eloqua/setup.cfg
	$(BIN)/pip install --quiet -e '.[test]' -e plugins/marketo -e plugins/eloqua
	touch $@

install: $(VENV)/.installed

demo: install
	CONNECTORS_PORT=$(PORT) $(BIN)/connectors demo

# Debian's Chromium for the browser tests (tests/e2e/test_browser_*.py), installed once when
# missing and we are root; otherwise those tests skip with the reason (and fail under CI=true).
chromium:
	@bash .ci/chromium

test: install chromium
	@if [ -f $(SHARED)/tools/check_layers.py ]; then $(BIN)/python $(SHARED)/tools/check_layers.py .; \
	 else echo "layer check skipped: $(SHARED)/tools/check_layers.py not found"; fi
	$(BIN)/python -m pytest

# The README's pictures: the main pages at 1280 px, on a fresh demo, into docs/screenshots/.
screenshots: install chromium
	$(BIN)/python docs/screenshots/take.py

# Starts PostgreSQL and RabbitMQ on this machine kind when they are installed but stopped.
services:
	@bash .ci/services


clean:
	rm -rf $(VENV) instance .pytest_cache
