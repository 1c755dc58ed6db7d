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
# nbdev_test runs the library notebooks two at a time (they share nothing), then the chapters in order (each reads
# what the ones before it wrote into the run folder)
CHAPTER_RE := '^(0[1-7]_|index\.)'
TEST_RUN := $(CURDIR)/build/test-run
CHAIN_RUN := $(CURDIR)/build/quick-chain
QUICK_ENV := MNIST_REPORT_QUICK=1 MNIST_REPORT_RUN_DIR=$(TEST_RUN)
STUDY_RUN := $(CURDIR)/build/studies-quick
# nbval re-executes these chapters of the quick chain and compares the cells marked NBVAL_CHECK_OUTPUT; the chapters
# that train or evaluate networks (04, 05, 06) are checked for exactness by comparing the two quick runs' records
# (build/test-run from nbdev_test, build/quick-chain from the CLI: tests/test_chain.py), not by a third execution
NBVAL_CHAPTERS := 01_eda 03_model

# Studies (studies/*.yaml): `make study` runs these; STUDY=name runs one (or several), QUICK=1 on the quick subsets,
# FORCE=1 reruns cached members, DRY_RUN=1 only lists them, STUDY_OUT=DIR puts the study folders in DIR.
STUDIES := seeds ablations crossover robust
STUDY ?= $(STUDIES)
STUDY_FLAGS = $(if $(QUICK),--quick) $(if $(FORCE),--force) $(if $(DRY_RUN),--dry-run) $(if $(STUDY_OUT),--out $(STUDY_OUT))

# Kernel settings: MKL, oneDNN and ATen let one machine run the kernels another processor would, which moves trained
# numbers as another CPU does. `make test-kernels` runs the whole test suite under each of KERNEL_SETTINGS, one after
# the other (as long as make test each: run it alone). `sse41` differs from the default on every x86-64 CPU.
KERNELS_default :=
KERNELS_avx2 := MKL_ENABLE_INSTRUCTIONS=AVX2 MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2
KERNELS_avx512core := ONEDNN_MAX_CPU_ISA=AVX512_CORE
KERNELS_sse41 := MKL_ENABLE_INSTRUCTIONS=SSE4_2 MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=SSE41 ATEN_CPU_CAPABILITY=default
KERNEL_SETTINGS ?= default avx2 avx512core    # avx512core equals default on a CPU without AVX-512
KERNEL_LOGS := $(CURDIR)/build/test-kernels
CPU = $(BIN)/python -c 'from mnist_report.study_run import cpu_description; print(cpu_description())'

.PHONY: report test test-kernels test-networks lint setup figures clean study

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
## (which also checks that study and its cache, compares that chain's records with nbdev_test's quick run, renders it
## with Quarto and the fallback and checks the pages in headless Chromium) and nbval on its NBVAL_CHAPTERS
test: setup
	$(BIN)/ruff check
	rm -rf $(TEST_RUN) $(CHAIN_RUN) $(STUDY_RUN)
	$(WITH_QUARTO) $(QUICK_ENV) $(BIN)/nbdev_test --n_workers 2 --timing --skip_file_re $(CHAPTER_RE)
	$(WITH_QUARTO) $(QUICK_ENV) $(BIN)/nbdev_test --n_workers 0 --timing --file_re $(CHAPTER_RE)
	$(MAKE) --no-print-directory study STUDY=ci QUICK=1 STUDY_OUT=$(STUDY_RUN)
	env -u MNIST_REPORT_QUICK -u MNIST_REPORT_RUN_DIR $(BIN)/mnist-report run --quick --out $(CHAIN_RUN)
	$(WITH_QUARTO) MNIST_REPORT_CHAIN_RUN=$(CHAIN_RUN) MNIST_REPORT_TEST_RUN=$(TEST_RUN) \
	  MNIST_REPORT_STUDY_RUN=$(STUDY_RUN) $(BIN)/pytest tests $(NBVAL_CHAPTERS:%=$(CHAIN_RUN)/%.ipynb) --nbval-lax

## test-kernels: the whole test suite (make test) under each kernel setting of KERNEL_SETTINGS (default: default avx2
## avx512core; e.g. KERNEL_SETTINGS='default avx2 sse41'), one after the other; logs and times in build/test-kernels/
test-kernels: setup
	@mkdir -p $(KERNEL_LOGS) && rm -f $(KERNEL_LOGS)/summary.txt
	@failed=; for s in $(KERNEL_SETTINGS); do \
	  $(MAKE) --no-print-directory test-kernel-$$s || failed="$$failed $$s"; \
	done; cat $(KERNEL_LOGS)/summary.txt; \
	if [ -n "$$failed" ]; then echo "make test-kernels: failed under:$$failed" >&2; exit 1; fi

## test-kernel-NAME: make test under the kernel setting KERNELS_NAME, its log in build/test-kernels/NAME.log
test-kernel-%: setup
	$(if $(filter undefined,$(origin KERNELS_$*)),$(error unknown kernel setting '$*': the Makefile defines KERNELS_NAME))
	@mkdir -p $(KERNEL_LOGS)
	@echo "== make test under kernel setting $*: $(or $(KERNELS_$*),the default kernels)"
	@start=$$(date +%s); rc=0; \
	  env $(KERNELS_$*) $(MAKE) --no-print-directory test > $(KERNEL_LOGS)/$*.log 2>&1 || rc=$$?; \
	  echo "$*: exit $$rc after $$(( $$(date +%s) - start )) s on $$($(CPU)) ($(KERNELS_$*))" \
	  | tee -a $(KERNEL_LOGS)/summary.txt; exit $$rc

## test-networks: under kernel setting SETTING (default avx2), after make test, the library notebooks (nbdev_test,
## quick mode) and the tests marked `trains` or `network` (the quick chain and CI study are make test's, not rerun)
SETTING ?= avx2
test-networks: setup
	$(if $(filter undefined,$(origin KERNELS_$(SETTING))),$(error unknown kernel setting '$(SETTING)'))
	rm -rf $(TEST_RUN)-$(SETTING)
	env $(KERNELS_$(SETTING)) $(WITH_QUARTO) MNIST_REPORT_QUICK=1 MNIST_REPORT_RUN_DIR=$(TEST_RUN)-$(SETTING) \
	  $(BIN)/nbdev_test --n_workers 2 --timing --skip_file_re $(CHAPTER_RE)
	env $(KERNELS_$(SETTING)) MNIST_REPORT_CHAIN_RUN=$(CHAIN_RUN) MNIST_REPORT_STUDY_RUN=$(STUDY_RUN) \
	  $(BIN)/pytest tests -m '(trains or network) and not cluster'

clean:
	rm -rf build runs/quick runs/studies-quick _site
