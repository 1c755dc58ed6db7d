# mnist_report: `make report` runs the study on the full data, `make test` runs the test suite.
# Both first create .venv (if missing) and install the pinned environment (constraints.txt).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# MNIST: $MNIST_REPORT_DATA if set; else the offline copy ../shared/data when it exists (machines
# without internet); else torchvision downloads it into data/.
ifeq ($(origin MNIST_REPORT_DATA), undefined)
  ifneq ($(wildcard ../shared/data/MNIST/raw),)
    export MNIST_REPORT_DATA := $(abspath ../shared/data)
  endif
endif

# Quarto renders the report: the one on PATH; else the offline copy in ../shared/tools (machines without internet),
# unpacked once into build/quarto; else none, and `mnist-report render` uses its pandoc fallback (the site says so).
# Used as a prefix of the commands that render: $(WITH_QUARTO) command ...
SHARED_QUARTO := ../shared/tools/install-quarto
WITH_QUARTO = PATH="$$(q=$$(command -v quarto || { test -x $(SHARED_QUARTO) && $(SHARED_QUARTO) $(CURDIR)/build/quarto; } \
  || true); if [ -n "$$q" ]; then dirname "$$q"; else echo /nonexistent; fi):$$PATH"

NOTEBOOKS := $(sort $(wildcard nbs/*.ipynb))
TEST_RUN := $(CURDIR)/build/test-run
CHAIN_RUN := $(CURDIR)/build/quick-chain
QUICK_ENV := MNIST_REPORT_QUICK=1 MNIST_REPORT_RUN_DIR=$(TEST_RUN)

.PHONY: report test lint setup figures clean

## lint: ruff (pyflakes and pycodestyle rules, lines <= 120) over the library, tests and benchmarks
lint: setup
	$(BIN)/ruff check

## setup: create .venv, install the package with pinned dependencies, register the Jupyter kernel
setup: $(VENV)/.installed
$(VENV)/.installed: constraints.txt setup.py settings.ini
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --user --name mnist-report --display-name 'Python (mnist_report)' >/dev/null
	@touch $@

## report: the canonical run: the whole chain executed in place in nbs/ on the full data (runs/canonical),
## then figures/, the README's results table and the rendered report site
report: setup
	$(BIN)/mnist-report data
	rm -rf runs/canonical      # the canonical run is regenerated from scratch: no artifact of an older run survives
	env -u MNIST_REPORT_QUICK -u MNIST_REPORT_RUN_DIR $(BIN)/mnist-report run
	$(BIN)/nbdev_clean
	$(MAKE) --no-print-directory figures
	$(BIN)/mnist-report readme
	$(WITH_QUARTO) $(BIN)/mnist-report render
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
	  $(BIN)/python tests/browser_check.py _site figures/report-screenshot.png; \
	else echo "(no Chromium: screenshot of the report not updated)"; fi

## figures: copy the canonical run's figures to figures/ (used by the README and the report)
figures:
	mkdir -p figures && cp runs/canonical/figures/*.png figures/

## test: ruff, nbdev_test (every notebook, quick mode), the quick chain with the CLI (build/quick-chain),
## then pytest: tests/ (which also renders that chain with Quarto and the fallback and checks the pages in
## headless Chromium) and nbval on its executed notebooks
test: setup
	$(BIN)/ruff check
	rm -rf $(TEST_RUN) $(CHAIN_RUN)
	$(WITH_QUARTO) $(QUICK_ENV) $(BIN)/nbdev_test --n_workers 0 --timing
	env -u MNIST_REPORT_QUICK -u MNIST_REPORT_RUN_DIR $(BIN)/mnist-report run --quick --out $(CHAIN_RUN)
	$(WITH_QUARTO) MNIST_REPORT_CHAIN_RUN=$(CHAIN_RUN) $(BIN)/pytest tests \
	  $$(grep -l NBVAL_CHECK_OUTPUT $(CHAIN_RUN)/*.ipynb) --nbval-lax

clean:
	rm -rf build runs/quick _site
