# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the k8ssim tests.

Environment: ``SIM_BUILD`` (the fake NVML build: bin/simnode, bin/nvidia-smi) and
``LD_LIBRARY_PATH=$SIM_BUILD/lib``.  Every cluster a test starts is stopped at teardown."""

from __future__ import absolute_import, division, print_function

import os
import sys

import pytest

for path in (os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))):
    if path not in sys.path:
        sys.path.insert(0, path)

import k8ssim  # noqa: E402  pylint: disable=wrong-import-position
from simhelpers import SIMNODE, nvidia_smi, nvidia_unavailable, simnode  # noqa: E402  pylint: disable=wrong-import-position


def pytest_configure(config):
    del config
    if not os.path.exists(SIMNODE):
        pytest.exit('k8ssim tests need SIM_BUILD pointing at the fake NVML build (make simulator); %s missing' % SIMNODE, returncode=4)


@pytest.fixture
def gpu_node(tmp_path):
    """make(name, gpus='A100-SXM4-40GB:1', mig='all', profiles=None): a fake NVML state file."""

    def make(name, gpus='A100-SXM4-40GB:1', mig='all', profiles=None):
        state = str(tmp_path / ('%s.state' % name))
        simnode('create', state, '--name', name, '--gpu', gpus, '--driver', '550.54.15', '--mig-enabled', mig)
        if profiles:
            nvidia_smi(state, 'mig', '-i', '0', '-cgi', profiles, '-C')
        return state

    return make


@pytest.fixture(params=['nvidia', 'model'])
def implementation(request):
    """The device plugin implementation a test runs with: NVIDIA's binary, and the Python model.  NVIDIA's skips
    with the reason where its binaries are not built (fails under CI, which always has them)."""
    if request.param == 'nvidia':
        reason = nvidia_unavailable()
        if reason:
            if os.environ.get('CI') == 'true':
                pytest.fail("CI must run NVIDIA's device plugin in k8ssim, but: " + reason)
            pytest.skip(reason)
    return request.param


@pytest.fixture
def cluster(tmp_path):
    """start(description) -> a running k8ssim.Cluster (stopped at teardown)."""
    started = []

    def start(description, name='sim'):
        sim = k8ssim.Cluster(description, tmp_path / name)
        sim.__enter__()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()
