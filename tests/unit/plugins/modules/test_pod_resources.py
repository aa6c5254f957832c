# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pod_resources module in-process, against the simulated kubelet's pod-resources server on a temporary socket."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

from ansible_collections.gpufleet.mig.plugins.modules import pod_resources
from modrun import run_module

sys.path.insert(0, os.path.join(os.environ.get('GPUFLEET_ROOT', os.getcwd()), 'tests', 'k8ssim'))
import sim_podresources  # noqa: E402  pylint: disable=wrong-import-position

GPUS = [{'index': 0, 'uuid': 'GPU-0', 'gpu_instances': []},
        {'index': 1, 'uuid': 'GPU-1', 'gpu_instances': [{'compute_instances': [{'uuid': 'MIG-1a'}]}]}]


@pytest.fixture(name='kubelet')
def kubelet_fixture():
    folder = tempfile.mkdtemp(prefix='podres-m-')
    server = sim_podresources.PodResourcesServer('n1', folder, lambda: [
        ('ml', 'full', [('main', {'nvidia.com/gpu': ['GPU-0']})]),
        ('ml', 'mig', [('main', {'nvidia.com/mig-1g.5gb': ['MIG-1a']})]),
        ('ml', 'odd', [('main', {'nvidia.com/gpu': ['GPU-9']})]),
        ('ml', 'web', [('main', {})])]).start()
    yield server.socket
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_maps_pods_to_gpus_in_check_mode_too(kubelet):
    for check in (False, True):
        result = run_module(pod_resources.main, {'socket': kubelet, 'gpus': GPUS}, check=check)
        assert result['changed'] is False and result['available'] is True and result['reason'] is None
        assert result['pod_gpus'] == {'ml/full': [0], 'ml/mig': [1]}
        assert result['unknown_devices'] == {'ml/odd': ['GPU-9']}
        assert result['pods']['ml/web'] == {}


def test_without_gpus_only_the_devices_are_returned(kubelet):
    result = run_module(pod_resources.main, {'socket': kubelet})
    assert 'pod_gpus' not in result and result['pods']['ml/full'] == {'nvidia.com/gpu': ['GPU-0']}


def test_an_absent_socket_is_not_a_failure():
    result = run_module(pod_resources.main, {'socket': '/nonexistent/kubelet.sock', 'gpus': GPUS})
    assert result.get('failed') is None and result['available'] is False
    assert result['reason'] == ('the kubelet pod-resources socket /nonexistent/kubelet.sock does not exist (kubelet not running, '
                                'or another --root-dir?)')
    assert 'pod_gpus' not in result


@pytest.mark.parametrize('args, message', [
    ({'timeout': 0}, 'timeout must be a positive number of seconds, got 0.0'),
    ({'timeout': 'nan'}, 'timeout must be a positive number of seconds, got nan'),
    ({'gpus': [{'index': '0', 'uuid': 'GPU-0'}]}, 'each of gpus needs an integer index and a uuid'),
    ({'gpus': [{'index': 0}]}, 'each of gpus needs an integer index and a uuid'),
])
def test_bad_arguments_are_refused(args, message):
    result = run_module(pod_resources.main, dict(args, socket='/nonexistent/kubelet.sock'))
    assert result['failed'] is True and message in result['msg']
