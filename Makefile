# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
SHARED ?= ../shared

.PHONY: demo test install services clean

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

test: install
	@if [ -f $(SHARED)/tools/check_layers.py ]; then $(BIN)/python $(SHARED)/tools/check_layers.py .; \
	 else echo "layer check skipped: $(SHARED)/tools/check_layers.py not found"; fi
	$(BIN)/python -m pytest

# Starts PostgreSQL and RabbitMQ on this machine kind when they are installed but stopped.
services:
	@bash .ci/services


clean:
	rm -rf $(VENV) instance .pytest_cache
