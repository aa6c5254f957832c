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

GPUS = [{'index': 0, 'uuid': 'GPU-0', 'minor_number': 0, 'gpu_instances': []},
        {'index': 1, 'uuid': 'GPU-1', 'minor_number': 1, 'gpu_instances': [{'compute_instances': [{'uuid': 'MIG-1a'}]}]}]
DRA_MIG = ('gpu.nvidia.com', 'n1', 'gpu-1-mig-3g40gb-9-4', ['k8s.gpu.nvidia.com/claim=u-gpu-1-mig-3g40gb-9-4'])


@pytest.fixture(name='kubelet')
def kubelet_fixture():
    folder = tempfile.mkdtemp(prefix='podres-m-')
    server = sim_podresources.PodResourcesServer('n1', folder, lambda: [
        ('ml', 'full', [('main', {'nvidia.com/gpu': ['GPU-0']})]),
        ('ml', 'mig', [('main', {'nvidia.com/mig-1g.5gb': ['MIG-1a']})]),
        ('ml', 'odd', [('main', {'nvidia.com/gpu': ['GPU-9']})]),
        ('ml', 'web', [('main', {})]),
        ('ml', 'dra', [('main', {}, [('ml', 'dra-gpu-k2', [DRA_MIG])])])]).start()
    yield server.socket
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_maps_pods_to_gpus_in_check_mode_too(kubelet):
    for check in (False, True):
        result = run_module(pod_resources.main, {'socket': kubelet, 'gpus': GPUS}, check=check)
        assert result['changed'] is False and result['available'] is True and result['reason'] is None
        assert result['pod_gpus'] == {'ml/full': [0], 'ml/mig': [1], 'ml/dra': [1]}
        assert result['unknown_devices'] == {'ml/odd': ['GPU-9']} and result['unmapped_dra_devices'] == []
        assert result['pods']['ml/web'] == {} and result['pods']['ml/dra'] == {}
        assert result['dynamic_resources'] == {
            'ml/dra': [{'claim': 'ml/dra-gpu-k2', 'driver': 'gpu.nvidia.com', 'pool': 'n1', 'device': 'gpu-1-mig-3g40gb-9-4'}]}


def test_a_dra_device_whose_minor_no_gpu_has_is_unmapped(kubelet):
    gpus = [dict(gpu, minor_number=gpu['index'] + 4) for gpu in GPUS]
    result = run_module(pod_resources.main, {'socket': kubelet, 'gpus': gpus})
    assert 'ml/dra' not in result['pod_gpus'] and result['unknown_devices']['ml/dra'] == ['gpu.nvidia.com/n1/gpu-1-mig-3g40gb-9-4']
    assert result['unmapped_dra_devices'] == [
        'pod ml/dra, claim ml/dra-gpu-k2: device gpu.nvidia.com/n1/gpu-1-mig-3g40gb-9-4: minor number 1 is the minor number '
        'of no GPU of gpus (GPU 0: 4, GPU 1: 5)']


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
    ({'gpus': [{'index': 2, 'uuid': 'GPU-2', 'minor_number': '2'}]},
     "gpus: GPU 2: minor_number must be the device minor number (an integer of at least 0), as gpu_info returns it, got '2'"),
    ({'gpus': [{'index': 2, 'uuid': 'GPU-2', 'minor_number': -1}]}, 'gpus: GPU 2: minor_number must be the device minor number'),
])
def test_bad_arguments_are_refused(args, message):
    result = run_module(pod_resources.main, dict(args, socket='/nonexistent/kubelet.sock'))
    assert result['failed'] is True and message in result['msg']
