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

NOTEBOOKS := $(sort $(wildcard nbs/*.ipynb))
TEST_RUN := $(CURDIR)/build/test-run
NBVAL_DIR := build/nbval
QUICK_ENV := MNIST_REPORT_QUICK=1 MNIST_REPORT_RUN_DIR=$(TEST_RUN)

.PHONY: report test setup figures clean

## setup: create .venv, install the package with pinned dependencies, register the Jupyter kernel
setup: $(VENV)/.installed
$(VENV)/.installed: constraints.txt setup.py settings.ini
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --user --name mnist-report --display-name 'Python (mnist_report)' >/dev/null
	@touch $@

## report: the canonical run: every notebook executed in place on the full data (runs/canonical)
report: setup
	$(BIN)/mnist-report data
	@for nb in $(NOTEBOOKS); do \
	  echo "== $$nb"; \
	  env -u MNIST_REPORT_QUICK -u MNIST_REPORT_RUN_DIR $(BIN)/papermill "$$nb" "$$nb" --cwd nbs --log-level WARNING; \
	done
	$(BIN)/nbdev_clean
	$(MAKE) --no-print-directory figures

## figures: copy the canonical run's figures to figures/ (used by the README and the report)
figures:
	mkdir -p figures && cp runs/canonical/figures/*.png figures/

## test: nbdev_test (quick mode), then pytest: tests/ and nbval on papermill-executed quick copies
test: setup
	rm -rf build/test-run $(NBVAL_DIR) && mkdir -p $(NBVAL_DIR)
	$(QUICK_ENV) $(BIN)/nbdev_test --n_workers 0 --timing
	@for nb in $(NOTEBOOKS); do \
	  $(QUICK_ENV) $(BIN)/papermill "$$nb" "$(NBVAL_DIR)/$$(basename $$nb)" --cwd nbs --no-progress-bar --log-level WARNING; \
	done
	$(QUICK_ENV) $(BIN)/pytest tests $(NBVAL_DIR) --nbval-lax

clean:
	rm -rf build runs/quick
