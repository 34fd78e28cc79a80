# One entry point for every gate. `make test` and `make run` bootstrap everything they need on a
# fresh machine with only Python 3.11, pip, gcc and apt: a .venv with the project's extras and,
# for the browser tests, Debian's Chromium (installed when missing and running as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS_HASH := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(DEPS_HASH)
export SOLARA_TELEMETRY_MIXPANEL_ENABLE := False
export MPLBACKEND := Agg

.PHONY: install browser lint test run experiments docs-figures bench viz validate timeline calibrate clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,viz,dist]"
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

# Chromium for the browser tests: Debian's package, never a browser download.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "chromium could not be installed: browser tests will be reported as skipped"; \
	else echo "chromium missing and not root: browser tests will be reported as skipped"; fi

lint: install
	$(VENV)/bin/ruff check sim tests benchmarks experiments
	$(VENV)/bin/ruff format --check sim tests benchmarks experiments
	$(VENV)/bin/mypy sim benchmarks

# Every test, spread over up to four worker processes (pytest-xdist; one per core).
test: install browser lint
	$(PY) -m pytest -n auto --maxprocesses 4

# --force: results left by another version of the model code are recomputed (a sweep of the
# same definition and code resumes; files the tool did not write are never touched).
run: install
	$(PY) -m sim suite --quick --out results --force

experiments: install
	$(PY) -m sim suite --out results --force

# The README's key figures, from the quick suite.
docs-figures: install
	$(PY) -m sim suite --quick --out results --docs-figures docs/figures --force

bench: install
	$(PY) -m benchmarks

viz: install
	$(VENV)/bin/solara run sim/viz/app.py --host 127.0.0.1 --port 8765 --production

validate: install
	$(PY) -m sim.validation --out docs

# The dated episode beside the timeline-2024 scenario (docs/timeline.md).
timeline: install
	$(PY) -m sim.timeline --out docs

# The shipped calibration (ABC-SMC, docs/calibration.md) into results/calibration; re-running
# resumes it. `make calibrate CALIBRATE_FLAGS=--quick` runs the quick variant.
CALIBRATE_FLAGS ?=
calibrate: install
	$(PY) -m sim calibrate experiments/calibration.toml --out results/calibration$(if $(findstring --quick,$(CALIBRATE_FLAGS)),-quick) $(CALIBRATE_FLAGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
