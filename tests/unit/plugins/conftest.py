# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A simulated GPU node (the fake NVML of tests/simulator) for the plugin tests that go through the real pynvml."""

from __future__ import annotations

import os
import subprocess

import pytest


def run_simnode(*args):
    """Run the simulator's CLI; its stdout (a failure fails the test with its output)."""
    proc = subprocess.run([os.path.join(os.environ['SIM_BUILD'], 'bin', 'simnode')] + [str(a) for a in args],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(name='simnode')
def simnode_fixture():
    return run_simnode


@pytest.fixture(name='node')
def node_fixture(tmp_path, monkeypatch):
    """node(model_key, driver='595.58.03') -> the state file of a new one-GPU node with MIG on, selected for this test."""
    if not os.environ.get('SIM_BUILD') or 'LD_LIBRARY_PATH' not in os.environ:
        pytest.fail('SIM_BUILD and LD_LIBRARY_PATH are not set: run the unit tests through `make units`')
    state = str(tmp_path / 'node.state')
    monkeypatch.setenv('FAKE_NVML_STATE', state)
    monkeypatch.delenv('FAKE_NVML_EUID', raising=False)

    def create(model_key, driver='595.58.03'):
        run_simnode('create', state, '--name', 'node', '--gpu', model_key, '--driver', driver, '--mig-enabled', 'all')
        return state
    return create
