# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""allocator_switch: what check mode and diff say, that check mode and refusals write nothing, the label switch and the
wait, the DeviceClasses it creates, and a second run. The cluster is answered at the wire (``Kube.send``), so every
request is recorded; the simulated cluster's runs are in the integration target migrate_allocator."""

from __future__ import annotations

import json

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import Kube
from ansible_collections.gpufleet.mig.plugins.modules import allocator_switch
from modrun import run_module  # tests/unit/plugins/modules/modrun.py

AUTH = {'host': 'http://127.0.0.1:9', 'api_key': 'token'}
DRA_NS = 'dra-driver-nvidia-gpu'
DP_NS = 'gpu-operator'
DP_LABEL = 'nvidia.com/gpu.deploy.device-plugin'
DRA_LABEL = 'nvidia.com/gpu.deploy.dra-driver'
GPUS = [{'index': 0, 'minor_number': 0, 'mig_mode': {'current': True}, 'gpu_instances': [
    {'profile': '1g.5gb', 'profile_id': 19, 'placement': {'start': 0, 'size': 1}, 'compute_slices': 1,
     'compute_instances': [{'placement': {'start': 0, 'size': 1}}]}]}]
EXPECTED = ['gpu-0-mig-1g5gb-19-0']
RIGHT_CLASS = {'metadata': {'name': 'mig-1g.5gb.nvidia.com'}, 'spec': {
    'extendedResourceName': 'nvidia.com/mig-1g.5gb',
    'selectors': [{'cel': {'expression': "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].profile == '1g.5gb'"}}]}}


def _pod(namespace, name, owner=None):
    refs = [{'kind': 'DaemonSet', 'name': owner}] if owner else []
    return {'metadata': {'name': name, 'namespace': namespace, 'uid': name, 'ownerReferences': refs},
            'spec': {'nodeName': 'gpu-1', 'containers': [{'name': 'c'}]}, 'status': {'phase': 'Running'}}


def _slice(driver, devices):
    spec = {'driver': driver, 'nodeName': 'gpu-1', 'pool': {'name': 'gpu-1', 'generation': 1, 'resourceSliceCount': 1},
            'devices': [{'name': name} for name in devices]}
    return {'metadata': {'name': 's-' + driver}, 'spec': spec}


@pytest.fixture(name='cluster')
def cluster_fixture(monkeypatch):
    """A node on the device plugin; a label patch makes the DaemonSets switch the plugins at once (``react``)."""
    cluster = {'labels': {DP_LABEL: 'true'}, 'allocatable': {'nvidia.com/mig-1g.5gb': '1'}, 'classes': [], 'other': [],
               'dra': [], 'dp': [_pod(DP_NS, 'dp-1')], 'slices': [], 'sent': [], 'react': True}

    def react():
        if cluster['labels'].get(DRA_LABEL) == 'true':
            cluster['dp'], cluster['allocatable'] = [], {'nvidia.com/mig-1g.5gb': '0'}
            cluster['dra'] = [_pod(DRA_NS, 'dra-1', 'dra-driver-nvidia-gpu-kubelet-plugin')]
            cluster['slices'] = [_slice('gpu.nvidia.com', EXPECTED)]
        else:
            cluster['dra'], cluster['slices'] = [], []
            cluster['dp'], cluster['allocatable'] = [_pod(DP_NS, 'dp-2')], {'nvidia.com/mig-1g.5gb': '1'}

    def node():
        return {'metadata': {'name': 'gpu-1', 'resourceVersion': '1', 'labels': dict(cluster['labels']), 'annotations': {}},
                'spec': {}, 'status': {'allocatable': dict(cluster['allocatable'])}}

    def send(self, method, path, query=None, body=None, content_type=None):
        cluster['sent'].append('%s %s' % (method, path))
        if method == 'GET' and path == '/api/v1/namespaces/%s/pods' % DRA_NS:
            return json.dumps({'items': cluster['dra']})
        if method == 'GET' and path == '/api/v1/namespaces/%s/pods' % DP_NS:
            return json.dumps({'items': cluster['dp']})
        if method == 'GET' and path == '/apis/resource.k8s.io/v1/resourceslices':
            return json.dumps({'items': cluster['slices'] + cluster['other']})
        if method == 'GET' and path == '/apis/resource.k8s.io/v1/deviceclasses':
            return json.dumps({'items': cluster['classes']})
        if method == 'POST' and path == '/apis/resource.k8s.io/v1/deviceclasses':
            cluster['classes'].append(body)
            return json.dumps(body)
        if method == 'GET' and path == '/api/v1/nodes/gpu-1':
            return json.dumps(node())
        if method == 'PATCH' and path == '/api/v1/nodes/gpu-1':
            cluster['labels'].update(body['metadata']['labels'])
            if cluster['react']:
                react()
            return json.dumps(node())
        raise AssertionError('unexpected request %s %s' % (method, path))

    monkeypatch.setattr(Kube, 'send', send)
    return cluster


def run(args=None, check=False, diff=False):
    return run_module(allocator_switch.main, dict(dict(AUTH, node='gpu-1', to='dra', gpus=GPUS, timeout=2), **(args or {})),
                      check=check, diff=diff)


def _writes(cluster):
    return [request for request in cluster['sent'] if not request.startswith('GET ')]


def test_check_mode_says_what_would_change_and_writes_nothing(cluster):
    result = run({'create_device_classes': True}, check=True, diff=True)
    assert result['changed'] and result['relabelled'] and result['device_classes_created'] == ['mig-1g.5gb.nvidia.com']
    assert result['diff'] == {'before': {'labels': {DP_LABEL: 'true', DRA_LABEL: None}},
                              'after': {'labels': {DP_LABEL: 'false', DRA_LABEL: 'true'}}}
    assert any('still advertises nvidia.com/mig-1g.5gb=1' in item for item in result['unfinished'])
    assert _writes(cluster) == []


def test_to_dra_creates_the_class_switches_the_labels_and_waits_then_a_second_run_changes_nothing(cluster):
    result = run({'create_device_classes': True})
    assert result['changed'] and not result.get('failed'), result
    assert _writes(cluster) == ['POST /apis/resource.k8s.io/v1/deviceclasses', 'PATCH /api/v1/nodes/gpu-1']
    assert cluster['labels'] == {DP_LABEL: 'false', DRA_LABEL: 'true'}
    assert cluster['classes'][0]['spec']['extendedResourceName'] == 'nvidia.com/mig-1g.5gb'
    del cluster['sent'][:]
    again = run({'create_device_classes': True})
    assert not again['changed'] and again['unfinished'] == [] and _writes(cluster) == []


def test_back_to_the_device_plugin_waits_for_the_slices_to_go(cluster):
    cluster['classes'] = [RIGHT_CLASS]
    run()
    del cluster['sent'][:]
    result = run({'to': 'device-plugin'})
    assert result['changed'] and cluster['labels'] == {DP_LABEL: 'true', DRA_LABEL: 'false'} and cluster['slices'] == []
    assert _writes(cluster) == ['PATCH /api/v1/nodes/gpu-1']


def test_a_missing_class_is_refused_before_any_write(cluster):
    result = run()
    assert result['failed'] and 'no DeviceClass maps nvidia.com/mig-1g.5gb' in result['msg'] and _writes(cluster) == []


def test_a_mismatched_class_is_refused_even_when_asked_to_create(cluster):
    wrong = json.loads(json.dumps(RIGHT_CLASS).replace("profile == '1g.5gb'", "profile == '2g.10gb'"))
    cluster['classes'] = [wrong]
    result = run({'create_device_classes': True})
    assert result['failed'] and 'MIG profile 1g.5gb: DeviceClass mig-1g.5gb.nvidia.com: its selector picks MIG devices of ' \
        'profile 2g.10gb' in result['msg']
    assert _writes(cluster) == []


def test_another_drivers_slices_are_refused_before_any_write(cluster):
    cluster['classes'] = [RIGHT_CLASS]
    cluster['other'] = [_slice('gpu.example.com', ['x'])]
    result = run()
    assert result['failed'] and 'ResourceSlices of driver(s) gpu.example.com' in result['msg'] and _writes(cluster) == []


def test_a_move_that_does_not_complete_fails_naming_what_is_left(cluster):
    cluster['classes'] = [RIGHT_CLASS]
    cluster['react'] = False
    result = run({'timeout': 0})
    assert result['failed'] and result['changed'] and result['relabelled']
    assert 'is not handed to NVIDIA\'s DRA driver alone 0s after its labels changed' in result['msg']
    assert 'device plugin still has pod(s) on the node: dp-1' in result['msg']
