# gpufleet.mig — build and test entry points.  `make test` and `make demo` work from a fresh
# clone: they create their own virtual environment and build the simulator they need.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
ROOT := $(CURDIR)
BUILD := $(ROOT)/.build
VENV := $(ROOT)/.venv
VPY := $(VENV)/bin/python
SIM := $(BUILD)/sim
# ansible and ansible-test find the collection under an ansible_collections/<ns>/<name> tree.
COLLECTIONS := $(BUILD)/collections
SANITY_ROOT := $(BUILD)/sanity/ansible_collections/gpufleet/mig
GET_PIP_CACHE := $(HOME)/.ansible/test/cache/get_pip_24_2.py

TEST_ENV := PATH="$(VENV)/bin:$$PATH" PYTHONPATH="$(COLLECTIONS)" ANSIBLE_COLLECTIONS_PATH="$(COLLECTIONS)" \
	LD_LIBRARY_PATH="$(SIM)/lib" SIM_BUILD="$(SIM)" GPUFLEET_ROOT="$(ROOT)" VENV_PYTHON="$(VPY)"

.PHONY: help venv simulator collection test sanity lint units simulator-tests k8ssim-tests integration changelog-lint clean

help:
	@echo "make test   - everything: sanity, lint, unit, simulator and integration tests"
	@echo "make clean  - remove the virtual environment and build outputs"

$(VENV)/.installed: requirements.txt tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r tests/requirements.txt
	touch $@

venv: $(VENV)/.installed

simulator: venv
	$(MAKE) --no-print-directory -C tests/simulator BUILD=$(SIM) PYTHON=$(VPY)

collection:
	mkdir -p $(COLLECTIONS)/ansible_collections/gpufleet
	ln -sfn $(ROOT) $(COLLECTIONS)/ansible_collections/gpufleet/mig

# ansible-test wants the collection's real path under ansible_collections/, so it gets a copy
# of the files git would see (tracked and untracked-but-not-ignored).
$(SANITY_ROOT): FORCE
	rm -rf $(BUILD)/sanity && mkdir -p $(SANITY_ROOT)
	git ls-files -z --cached --others --exclude-standard \
		| tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C $(SANITY_ROOT)
	cd $(SANITY_ROOT) && git init -q && git add -A

FORCE:

$(GET_PIP_CACHE): tests/tooling/get_pip_bootstrap.py
	mkdir -p $(dir $@)
	cp $< $@

sanity: venv $(SANITY_ROOT) $(GET_PIP_CACHE)
	cd $(SANITY_ROOT) && PATH="$(VENV)/bin:$$PATH" ansible-test sanity --python 3.11 --color no

# ansible-lint registers the collection under ANSIBLE_HOME; keep that inside the build tree.
lint: venv
	PATH="$(VENV)/bin:$$PATH" ANSIBLE_HOME="$(BUILD)/ansible-home" ansible-lint

changelog-lint: venv
	$(TEST_ENV) antsibull-changelog lint

units: venv simulator collection
	$(TEST_ENV) $(VPY) -m pytest -q tests/unit

simulator-tests: venv simulator
	$(TEST_ENV) $(VPY) -m pytest -q tests/simulator/tests

k8ssim-tests: venv simulator
	$(TEST_ENV) $(VPY) -m pytest -q tests/k8ssim/tests

integration: venv simulator collection
	$(TEST_ENV) $(VPY) -m pytest -q tests/integration

test: sanity lint changelog-lint units simulator-tests k8ssim-tests integration

clean:
	rm -rf $(BUILD) $(VENV) tests/output
