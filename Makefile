# The two set-up commands of the README:
#   make reproduce   [PROFILE=cpu|smoke|paper]   set up .venv, then run the whole notebook suite
#   make test                                      set up .venv, then run the tests (smoke suite included)
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

.PHONY: setup reproduce test test-fast bench clean-work help

help:
	@echo "make reproduce [PROFILE=cpu|smoke|paper]  - set up and run the whole notebook suite"
	@echo "make test                                 - set up and run the tests (smoke notebook suite included)"
	@echo "make bench                                - speed and memory benchmarks"

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

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: setup
	./scripts/install_matcha_peer.sh || echo "WARNING: no Matcha-TTS peer; the benchmarks skip it"
	$(PY) -m benchmarks

clean-work:
	rm -rf work/
