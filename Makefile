# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
SHARED ?= ../shared

.PHONY: demo test faults install chromium screenshots services clean

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
	$(BIN)/python -m pytest --ignore-glob='*/faults/test_scenario_*'

# The standing fault suite (docs/reliability.md): a PostgreSQL cluster and a RabbitMQ node of its
# own, killed and stopped under the production processes (6-7 min, a 120 s outage included; root).
# Recovery times are appended to bench/results/faults.jsonl. `.ci/run` runs it after `make test`.
faults: install
	$(BIN)/python -m pytest -q $(wildcard tests/faults/test_scenario_*.py)

# The README's pictures: the main pages at 1280 px, on a fresh demo, into docs/screenshots/.
screenshots: install chromium
	$(BIN)/python docs/screenshots/take.py

# Starts PostgreSQL and RabbitMQ on this machine kind when they are installed but stopped.
services:
	@bash .ci/services


clean:
	rm -rf $(VENV) instance .pytest_cache
