# The two set-up commands of the README:
#   make reproduce   [PROFILE=cpu|smoke|paper]   set up .venv, then run the whole notebook suite
#   make test                                      set up .venv, then run the tests (smoke suite included)
#   make verify      [PROFILE=cpu|smoke]            re-run the suite and compare every table's numbers with the reference
PROFILE ?= cpu
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
export MPLBACKEND := Agg
export TF_CPP_MIN_LOG_LEVEL := 3
# OpenMP threads that spin while waiting make torch 20-100x slower on shared cores
export OMP_WAIT_POLICY := PASSIVE

.PHONY: setup reproduce verify test test-fast bench explore clean-work help

help:
	@echo "make reproduce [PROFILE=cpu|smoke|paper]  - set up and run the whole notebook suite"
	@echo "make verify [PROFILE=cpu|smoke]           - re-run the suite and compare every table's numbers with the reference"
	@echo "make test                                 - set up and run the tests (smoke notebook suite included)"
	@echo "make bench                                - speed and memory benchmarks"
	@echo "make explore [EXPLORE_PORT=8866]          - the α/β explorer (notebook 20) as a page on http://127.0.0.1:8866"

setup: $(STAMP)

$(STAMP): pyproject.toml
	./scripts/install_system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip 'setuptools<81' wheel
	$(PIP) install -q -e '.[all]'
	$(PY) -m ipykernel install --user --name emodubber --display-name "Python (emodubber)" >/dev/null
	$(VENV)/bin/nbstripout --install --attributes .gitattributes 2>/dev/null || true
	touch $(STAMP)

reproduce: setup
	$(PY) -m emodubber reproduce --profile $(PROFILE)

# the reference: tests/fixtures/smoke_reference for smoke, the committed reports/<profile>/ otherwise
verify: setup
	$(PY) -m emodubber reproduce --profile $(PROFILE) --check

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: setup
	./scripts/install_matcha_peer.sh || echo "WARNING: no Matcha-TTS peer; the benchmarks skip it"
	$(PY) -m benchmarks

# The α/β explorer served by Voilà on this machine only: controls and results, no code. It uses the trained cpu
# models when they exist, else the smoke ones (EXPLORE_PROFILE=smoke forces a profile); Ctrl-C stops it.
EXPLORE_PORT ?= 8866
EXPLORE_PROFILE ?=
explore: setup
	EMODUBBER_EXPLORER_PROFILE=$(EXPLORE_PROFILE) $(VENV)/bin/voila notebooks/20_explore_alpha_beta.ipynb \
		--no-browser --port=$(EXPLORE_PORT) --Voila.ip=127.0.0.1 --show_tracebacks=False

clean-work:
	rm -rf work/
