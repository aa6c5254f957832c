# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""dra_info: one cluster's DRA devices, claims and kubelet plugin pods for a set of nodes in a few list requests, and a
cluster without resource.k8s.io/v1. The cluster is answered at the wire (``Kube.send``), so every request is recorded;
the simulated cluster's run is in the integration target fleet_report."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import Kube
from ansible_collections.gpufleet.mig.plugins.modules import dra_info
from modrun import run_module  # tests/unit/plugins/modules/modrun.py

AUTH = {'host': 'http://127.0.0.1:9', 'api_key': 'token'}
NS = 'dra-driver-nvidia-gpu'
SLICES = '/apis/resource.k8s.io/v1/resourceslices'
CLAIMS = '/apis/resource.k8s.io/v1/resourceclaims'
PODS = '/api/v1/namespaces/%s/pods' % NS


def plugin_pod(node):
    return {'metadata': {'name': 'plugin-' + node, 'namespace': NS,
                         'ownerReferences': [{'kind': 'DaemonSet', 'name': 'dra-driver-nvidia-gpu-kubelet-plugin'}]},
            'spec': {'nodeName': node, 'containers': [{'name': 'gpus'}]}, 'status': {'phase': 'Running'}}


def resource_slice(node, devices):
    return {'metadata': {'name': '0-gpu.nvidia.com-%s-abcde' % node},
            'spec': {'driver': 'gpu.nvidia.com', 'nodeName': node, 'pool': {'name': node, 'generation': 1, 'resourceSliceCount': 1},
                     'devices': [{'name': name} for name in devices]}}


@pytest.fixture(name='cluster')
def cluster_fixture(monkeypatch):
    cluster = {'pods': [plugin_pod('gpu-1')], 'slices': [resource_slice('gpu-1', ['gpu-0']), resource_slice('gpu-9', ['gpu-0'])],
               'claims': [{'metadata': {'namespace': 'ml', 'name': 'c1'},
                           'status': {'allocation': {'devices': {'results': [{'driver': 'gpu.nvidia.com', 'pool': 'gpu-1', 'device': 'gpu-0'}]}},
                                      'reservedFor': [{'resource': 'pods', 'name': 'p1', 'uid': 'u1'}]}}],
               'slices_status': 200, 'sent': []}

    def send(self, method, path, query=None, body=None, content_type=None):
        cluster['sent'].append((method, path, query))
        if path == SLICES:
            if cluster['slices_status'] != 200:
                raise ApiException(status=cluster['slices_status'], reason='Not Found')
            return json.dumps({'items': cluster['slices']})
        if path == PODS:
            return json.dumps({'items': cluster['pods']})
        if path == CLAIMS:
            return json.dumps({'items': cluster['claims']})
        raise AssertionError('unexpected request %s %s' % (method, path))

    monkeypatch.setattr(Kube, 'send', send)
    return cluster


def run(nodes, **args):
    return run_module(dra_info.main, dict(AUTH, nodes=nodes, **args), check=True)


def test_three_lists_read_the_whole_fleet(cluster):
    result = run(['gpu-1', 'gpu-2', 'gpu-1'])
    assert not result['changed'] and result['served']
    assert cluster['sent'] == [('GET', SLICES, [('fieldSelector', 'spec.driver=gpu.nvidia.com')]),
                               ('GET', PODS, [('labelSelector', 'dra-driver-nvidia-gpu-component=kubelet-plugin')]),
                               ('GET', CLAIMS, None)]
    # Only the nodes asked for, once each; gpu-9's slice is not theirs.
    assert list(result['nodes']) == ['gpu-1', 'gpu-2'] and result['nodes']['gpu-2'] is None
    assert result['nodes']['gpu-1'] == {
        'published': ['gpu-0'], 'complete': True, 'shared_counters': False, 'dynamic_mig': None,
        'plugin_pods': [{'name': 'plugin-gpu-1', 'state': 'Running'}], 'problems': [],
        'claims': [{'namespace': 'ml', 'name': 'c1', 'devices': ['gpu-0'], 'reserved_for': [{'resource': 'pods', 'name': 'p1', 'uid': 'u1'}]}]}


def test_no_claims_are_listed_when_no_node_uses_the_driver(cluster):
    result = run(['gpu-2', 'gpu-3'])
    assert result['nodes'] == {'gpu-2': None, 'gpu-3': None}
    assert [path for dummy, path, dummy in cluster['sent']] == [SLICES, PODS]


def test_a_cluster_without_the_resource_api_has_no_dra_node(cluster):
    cluster['slices_status'] = 404
    result = run(['gpu-1'])
    assert result['served'] is False and result['nodes'] == {'gpu-1': None} and len(cluster['sent']) == 1


def test_a_refused_list_fails_with_the_servers_status(cluster):
    cluster['slices_status'] = 403
    result = run(['gpu-1'])
    assert result['failed'] and result['status'] == 403 and 'listing resourceslices of driver gpu.nvidia.com failed' in result['msg']


@pytest.mark.parametrize('args, message', [
    ({'nodes': ['gpu-1', 'Bad_Node']}, "nodes[1]: 'Bad_Node' is not a valid Kubernetes object name"),
    ({'namespace': 'DRA'}, "namespace: 'DRA' is not a valid namespace name"),
    ({'daemonset': 'kubelet_plugin'}, "daemonset: 'kubelet_plugin' is not a valid Kubernetes object name"),
    ({'selector': ' '}, 'selector must not be empty'),
])
def test_bad_arguments_are_refused_before_any_request(cluster, args, message):
    result = run_module(dra_info.main, dict(AUTH, **dict({'nodes': ['gpu-1']}, **args)), check=True)
    assert result['failed'] and message in result['msg'] and cluster['sent'] == []
