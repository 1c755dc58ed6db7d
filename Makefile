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
STUDY_RUN := $(CURDIR)/build/studies-quick

# Studies (studies/*.yaml): `make study` runs these; STUDY=name runs one (or several), QUICK=1 on the quick subsets,
# FORCE=1 reruns cached members, DRY_RUN=1 only lists them, STUDY_OUT=DIR puts the study folders in DIR.
STUDIES := seeds ablations crossover robust
STUDY ?= $(STUDIES)
STUDY_FLAGS = $(if $(QUICK),--quick) $(if $(FORCE),--force) $(if $(DRY_RUN),--dry-run) $(if $(STUDY_OUT),--out $(STUDY_OUT))

.PHONY: report test lint setup figures clean study

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

## study: run the studies (default: $(STUDIES)) into runs/studies/<study>/<member>/ (runs/studies-quick with QUICK=1).
## Members already run with the same parameters, code and data are cached (with everything cached: seconds); an
## interrupted study continues where it stopped. Every study runs even if another has failed members; the exit status
## is non-zero if any did. Ctrl-C stops at once.
study: setup
	$(BIN)/mnist-report data
	@failed=; for s in $(STUDY); do \
	  rc=0; env -u MNIST_REPORT_QUICK -u MNIST_REPORT_RUN_DIR $(BIN)/mnist-report study $$s $(STUDY_FLAGS) || rc=$$?; \
	  if [ $$rc -eq 130 ]; then exit 130; elif [ $$rc -ne 0 ]; then failed="$$failed $$s"; fi; \
	done; if [ -n "$$failed" ]; then echo "make study: failed members or errors in:$$failed" >&2; exit 1; fi

## figures: copy the canonical run's figures to figures/ (used by the README and the report)
figures:
	mkdir -p figures && cp runs/canonical/figures/*.png figures/

## test: ruff, nbdev_test (every notebook, quick mode), the CI study (studies/ci.yaml: 2 quick members of 1 epoch,
## build/studies-quick) through `make study`, the quick chain with the CLI (build/quick-chain), then pytest: tests/
## (which also checks that study and its cache, renders that chain with Quarto and the fallback and checks the pages
## in headless Chromium) and nbval on its executed notebooks
test: setup
	$(BIN)/ruff check
	rm -rf $(TEST_RUN) $(CHAIN_RUN) $(STUDY_RUN)
	$(WITH_QUARTO) $(QUICK_ENV) $(BIN)/nbdev_test --n_workers 0 --timing
	$(MAKE) --no-print-directory study STUDY=ci QUICK=1 STUDY_OUT=$(STUDY_RUN)
	env -u MNIST_REPORT_QUICK -u MNIST_REPORT_RUN_DIR $(BIN)/mnist-report run --quick --out $(CHAIN_RUN)
	$(WITH_QUARTO) MNIST_REPORT_CHAIN_RUN=$(CHAIN_RUN) MNIST_REPORT_STUDY_RUN=$(STUDY_RUN) $(BIN)/pytest tests \
	  $$(grep -l NBVAL_CHECK_OUTPUT $(CHAIN_RUN)/*.ipynb) --nbval-lax

clean:
	rm -rf build runs/quick runs/studies-quick _site
