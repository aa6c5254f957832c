# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""dra_plugin: when it restarts a DRA node's kubelet plugin, what check mode and diff say, what it refuses, and its
timeout. The cluster is answered at the wire (``Kube.send``), so every request is recorded; the simulated cluster's
runs are in the integration target dra_plugin."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import Kube
from ansible_collections.gpufleet.mig.plugins.module_utils._module import GpufleetModule
from ansible_collections.gpufleet.mig.plugins.modules import dra_plugin
from modrun import run_module  # tests/unit/plugins/modules/modrun.py

AUTH = {'host': 'http://127.0.0.1:9', 'api_key': 'token'}
NS = 'dra-driver-nvidia-gpu'
GPU_3G = {'profile': '3g.20gb', 'profile_id': 9, 'placement': {'start': 4, 'size': 4}, 'compute_slices': 3,
          'compute_instances': [{'placement': {'start': 0, 'size': 3}}]}
GPUS = [{'index': 0, 'minor_number': 0, 'mig_mode': {'current': True}, 'gpu_instances': [GPU_3G]},
        {'index': 1, 'minor_number': 1, 'mig_mode': {'current': False}, 'gpu_instances': []}]
EXPECTED = ['gpu-0-mig-3g20gb-9-4', 'gpu-1']


def plugin_pod(uid, env=None):
    return {'metadata': {'name': 'plugin-' + uid, 'namespace': NS, 'uid': uid,
                         'ownerReferences': [{'kind': 'DaemonSet', 'name': 'dra-driver-nvidia-gpu-kubelet-plugin'}]},
            'spec': {'nodeName': 'gpu-1', 'containers': [{'name': 'gpus', 'env': env or []}]}, 'status': {'phase': 'Running'}}


def resource_slice(devices, pool='gpu-1', **spec):
    return {'metadata': {'name': '0-gpu.nvidia.com-gpu-1-abcde'},
            'spec': dict({'driver': 'gpu.nvidia.com', 'nodeName': 'gpu-1', 'pool': {'name': pool, 'generation': 1, 'resourceSliceCount': 1},
                          'devices': [{'name': name} for name in devices]}, **spec)}


@pytest.fixture(name='cluster')
def cluster_fixture(monkeypatch):
    """The node's plugin pods, slices and the claims; a deleted plugin pod comes back with ``republish`` (or nothing)."""
    cluster = {'pods': [plugin_pod('old')], 'slices': [resource_slice(['gpu-0', 'gpu-1'])], 'claims': [], 'republish': EXPECTED,
               'other_slices': [], 'sent': [], 'nodes': {'gpu-1': {'nvidia.com/mig.config': 'mixed'}, 'gpu-2': {}}}

    def send(self, method, path, query=None, body=None, content_type=None):
        cluster['sent'].append('%s %s' % (method, path))
        if method == 'GET' and path == '/api/v1/namespaces/%s/pods' % NS:
            return json.dumps({'items': cluster['pods']})
        if method == 'GET' and path == '/apis/resource.k8s.io/v1/resourceslices':
            assert query in ([('fieldSelector', 'spec.nodeName=gpu-1')], [('fieldSelector', 'spec.nodeName=gpu-2')])
            return json.dumps({'items': cluster['slices'] if query[0][1].endswith('gpu-1') else cluster['other_slices']})
        if method == 'GET' and path == '/apis/resource.k8s.io/v1/resourceclaims':
            if cluster.get('claims_error'):
                raise ApiException(status=500, reason='Internal Server Error')
            return json.dumps({'items': cluster['claims']})
        if method == 'GET' and path.startswith('/api/v1/nodes/'):
            name = path.rsplit('/', 1)[1]
            if name not in cluster['nodes']:
                raise ApiException(status=404, reason='Not Found')
            return json.dumps({'metadata': {'name': name, 'labels': cluster['nodes'][name], 'annotations': {}}})
        if method == 'DELETE' and path.startswith('/api/v1/namespaces/%s/pods/' % NS):
            cluster['pods'] = []
            if cluster['republish'] is not None:
                cluster['pods'] = [plugin_pod('new')]
                cluster['slices'] = [resource_slice(cluster['republish'])]
            return json.dumps({})
        raise AssertionError('unexpected request %s %s' % (method, path))

    monkeypatch.setattr(Kube, 'send', send)
    return cluster


def run(args=None, check=False, diff=False):
    return run_module(dra_plugin.main, dict(AUTH, node='gpu-1', gpus=GPUS, **(args or {})), check=check, diff=diff)


def _deletes(cluster):
    return [sent for sent in cluster['sent'] if sent.startswith('DELETE')]


def test_stale_slices_restart_the_plugin_and_wait(cluster):
    result = run()
    assert result['changed'] and result['restarted']
    assert (result['expected'], result['published']) == (EXPECTED, EXPECTED)
    assert (result['missing'], result['unexpected'], result['pods']) == (['gpu-0-mig-3g20gb-9-4'], ['gpu-0'], ['plugin-old'])
    assert _deletes(cluster) == ['DELETE /api/v1/namespaces/%s/pods/plugin-old' % NS]


def test_check_mode_says_what_differs_and_deletes_nothing(cluster):
    result = run(check=True, diff=True)
    assert result['changed'] and result['restarted'] and _deletes(cluster) == []
    assert result['diff'] == {'before': {'devices': ['gpu-0', 'gpu-1']}, 'after': {'devices': EXPECTED}}
    assert result['published'] == ['gpu-0', 'gpu-1']


def test_matching_slices_change_nothing_and_report_claims(cluster, monkeypatch):
    # Recorded at the call: in-process, ansible-core sends a module's warnings to the controller's display once any
    # test has loaded controller code, so the result's 'warnings' depends on the order the tests run in.
    warned = []
    monkeypatch.setattr(GpufleetModule, 'warn', lambda self, message: warned.append(message))
    cluster['slices'] = [resource_slice(EXPECTED), resource_slice(['nic-0'], driver='net.example.com', pool='elsewhere')]
    held = {'metadata': {'namespace': 'ml', 'name': 'c1'},
            'status': {'allocation': {'devices': {'results': [{'driver': 'gpu.nvidia.com', 'pool': 'gpu-1', 'device': 'gpu-0'}]}},
                       'reservedFor': [{'resource': 'pods', 'name': 'p1', 'uid': 'u1'}]}}
    cluster['claims'] = [held]
    result = run()
    assert not result['changed'] and not result['restarted'] and _deletes(cluster) == []
    assert result['claims'] == [{'namespace': 'ml', 'name': 'c1', 'devices': ['gpu-0'],
                                 'reserved_for': [{'resource': 'pods', 'name': 'p1', 'uid': 'u1'}]}]
    assert warned == ['ResourceClaim ml/c1 holds device(s) gpu-0 of node gpu-1, which the node no longer has']


def test_timeout_names_what_is_missing_and_the_plugin(cluster):
    cluster['republish'] = None  # the DaemonSet does not bring the pod back
    result = run({'timeout': 0})
    assert result['failed'] and result['restarted'] and result['changed']
    assert result['msg'] == ('node gpu-1: its ResourceSlices of driver gpu.nvidia.com do not list the expected devices 0s after the '
                             'DRA kubelet plugin was restarted: missing gpu-0-mig-3g20gb-9-4; not expected gpu-0; plugin: no new '
                             'plugin pod on the node')
    assert result['published'] == ['gpu-0', 'gpu-1']


def test_no_plugin_pod_on_the_node_is_an_error(cluster):
    cluster['pods'] = [dict(plugin_pod('x'), metadata=dict(plugin_pod('x')['metadata'], ownerReferences=[]))]
    result = run()
    assert result['failed'] and 'no pod of DaemonSet %s/dra-driver-nvidia-gpu-kubelet-plugin' % NS in result['msg']
    # Its slices are read only to name the drivers that publish its devices instead; nothing else is asked or changed.
    assert not any('resourceclaims' in sent for sent in cluster['sent']) and _deletes(cluster) == []


def test_slices_of_another_driver_are_named(cluster):
    cluster['pods'] = []
    cluster['slices'] = [resource_slice(['gpu-0'], driver='gpu.example.com')]
    result = run()
    assert result['failed'] and result['msg'].endswith(
        "its ResourceSlices are of driver(s) gpu.example.com: gpufleet.mig drives only NVIDIA's DRA driver gpu.nvidia.com")


def test_dynamic_mig_is_refused_before_any_change(cluster):
    cluster['pods'] = [plugin_pod('old', env=[{'name': 'FEATURE_GATES', 'value': 'DynamicMIG=true,'}])]
    result = run()
    assert result['failed'] and 'runs with the feature gate DynamicMIG=true' in result['msg'] and result['pods'] == ['plugin-old']
    assert _deletes(cluster) == []


def test_slices_with_counters_are_refused_as_dynamic_mig(cluster):
    cluster['slices'] = [resource_slice([], sharedCounters=[{'name': 'gpu-0-counter-set', 'counters': {}}])]
    result = run()
    assert result['failed'] and 'share counters, which only dynamic MIG publishes' in result['msg'] and _deletes(cluster) == []


def test_a_slice_in_another_pool_is_an_error(cluster):
    cluster['slices'] = [resource_slice(EXPECTED, pool='rack-7')]
    result = run()
    assert result['failed'] and "is in pool 'rack-7'" in result['msg'] and result['problems'] == [result['msg']]
    assert _deletes(cluster) == []


def test_check_mode_reads_the_node_labels(cluster):
    result = run(check=True)
    assert result['allocator'] == 'dra' and result['labels'] == {'nvidia.com/mig.config': 'mixed'}


# -- nodes: the preflight's read of many nodes -----------------------------------------------------------------------

A100_PLAN = [{'index': 0, 'model': 'A100-SXM4-40GB', 'mig_enabled': True,
              'after': {'mig-enabled': True, 'placements': [{'profile': '3g.20gb', 'start': 4, 'compute_instances': ['3g.20gb']},
                                                            {'profile': '1g.5gb', 'start': 0, 'compute_instances': ['1g.5gb']}]}},
             {'index': 1, 'model': 'A100-SXM4-40GB', 'mig_enabled': False, 'after': {'mig-enabled': False}}]


def run_nodes(nodes, check=True):
    return run_module(dra_plugin.main, dict(AUTH, nodes=nodes), check=check)


def test_nodes_detects_the_allocator_and_plans_the_devices(cluster):
    result = run_nodes([{'node': 'gpu-1', 'gpus': GPUS, 'planned_layouts': A100_PLAN}, {'node': 'gpu-2', 'gpus': GPUS}])
    assert not result.get('failed'), result
    dra = result['nodes']['gpu-1']
    assert dra['allocator'] == 'dra' and dra['restarted'] and result['changed']
    assert dra['expected'] == ['gpu-0-mig-1g5gb-19-0', 'gpu-0-mig-3g20gb-9-4', 'gpu-1']
    assert dra['labels'] == {'nvidia.com/mig.config': 'mixed'}
    assert result['nodes']['gpu-2'] == {'allocator': 'device-plugin', 'pods': []}
    # One list of the plugin pods for all nodes; nothing deleted.
    assert cluster['sent'].count('GET /api/v1/namespaces/%s/pods' % NS) == 1 and _deletes(cluster) == []


def test_nodes_honours_the_allocator_given(cluster):
    result = run_nodes([{'node': 'gpu-1', 'gpus': GPUS, 'allocator': 'device-plugin'}, {'node': 'gpu-2', 'gpus': GPUS, 'allocator': 'dra'}])
    cluster['other_slices'] = [resource_slice(['gpu-0'], driver='gpu.example.com', pool='gpu-2', nodeName='gpu-2')]
    assert result['failed'] and result['nodes']['gpu-1'] == {'allocator': 'device-plugin', 'pods': ['plugin-old']}
    assert result['nodes']['gpu-2']['failed'] and 'no pod of DaemonSet' in result['nodes']['gpu-2']['msg']
    assert result['msg'].startswith('1 of 2 nodes: gpu-2: no pod of DaemonSet')


STRANDED = [dict(A100_PLAN[0], after={'mig-enabled': True, 'placements': []})]


def test_nodes_refuse_a_stranded_gpu_and_an_unknown_allocator_before_any_request(cluster):
    result = run_nodes([{'node': 'gpu-1', 'gpus': GPUS, 'planned_layouts': STRANDED, 'allocator': 'dra'},
                        {'node': 'gpu-2', 'gpus': GPUS, 'allocator': 'nvidia'}])
    assert result['failed'] and cluster['sent'] == []
    assert 'nodes[0] (gpu-1): ' in result['msg'] and 'stranded' in result['msg']
    assert "allocator 'nvidia' is not one of auto, device-plugin, dra" in result['msg']


def test_nodes_left_to_auto_judge_the_dra_layout_only_where_the_driver_serves(cluster):
    # gpu-1 runs the DRA kubelet plugin: the stranded GPU is its problem. gpu-2 runs none: its device plugin check judges.
    result = run_nodes([{'node': 'gpu-1', 'gpus': GPUS, 'planned_layouts': STRANDED}, {'node': 'gpu-2', 'gpus': GPUS, 'planned_layouts': STRANDED}])
    assert result['failed'] and result['nodes']['gpu-1']['failed'] and 'stranded' in result['nodes']['gpu-1']['msg']
    assert result['nodes']['gpu-2'] == {'allocator': 'device-plugin', 'pods': []}
    assert result['msg'].startswith('1 of 2 nodes: gpu-1: ') and _deletes(cluster) == []


def test_nodes_after_an_api_failure_fail_with_it_and_the_others_are_still_told(cluster):
    # The claims list fails inspecting gpu-1: gpu-3, also a DRA node, is not tried; gpu-2 (no plugin pod) is still told.
    cluster['claims_error'] = True
    result = run_nodes([{'node': 'gpu-1', 'gpus': GPUS}, {'node': 'gpu-2', 'gpus': GPUS}, {'node': 'gpu-3', 'gpus': GPUS, 'allocator': 'dra'}])
    assert result['failed'] and result['msg'].startswith('2 of 3 nodes: gpu-1: ')
    assert '500' in result['nodes']['gpu-1']['msg'] and result['nodes']['gpu-3']['msg'].startswith('not read: ')
    assert result['nodes']['gpu-2'] == {'allocator': 'device-plugin', 'pods': []}
    assert cluster['sent'].count('GET /apis/resource.k8s.io/v1/resourceclaims') == 1


def test_nodes_only_in_check_mode(cluster):
    result = run_nodes([{'node': 'gpu-1', 'gpus': GPUS}], check=False)
    assert result['failed'] and 'run it in check mode' in result['msg'] and cluster['sent'] == []


def test_nodes_refuse_dynamic_mig_per_node(cluster):
    cluster['pods'] = [plugin_pod('old', env=[{'name': 'FEATURE_GATES', 'value': 'DynamicMIG=true'}])]
    result = run_nodes([{'node': 'gpu-1', 'gpus': GPUS}, {'node': 'gpu-2', 'gpus': GPUS}])
    assert result['failed'] and 'DynamicMIG=true' in result['nodes']['gpu-1']['msg']
    assert result['nodes']['gpu-2']['allocator'] == 'device-plugin'
