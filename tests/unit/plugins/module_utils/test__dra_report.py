# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DRA nodes for the fleet report: device names, one cluster's lists as each node's reading, and a node's DRA devices
beside its GPUs (stale slices, stranded GPUs, claims)."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._dra import parse_device
from ansible_collections.gpufleet.mig.plugins.module_utils._dra_report import cluster_nodes, dra_view
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import pod_state

DS = 'dra-driver-nvidia-gpu-kubelet-plugin'


def gi(profile, profile_id, start, size, slices):
    return {'profile': profile, 'profile_id': profile_id, 'placement': {'start': start, 'size': size}, 'compute_slices': slices,
            'compute_instances': [{'placement': {'start': 0, 'size': slices}}]}


def gpu(index, minor, mig, instances=()):
    return {'index': index, 'minor_number': minor, 'model': 'A100-SXM4-40GB', 'mig_capable': True,
            'mig_mode': {'current': mig, 'pending': mig}, 'gpu_instances': list(instances)}


# GPU 0 whole, GPU 1 (minor 3) with a 3g.20gb at 4-7 and a 1g.5gb at 0.
GPUS = [gpu(0, 0, False), gpu(1, 3, True, [gi('3g.20gb', 9, 4, 4, 3), gi('1g.5gb', 19, 0, 1, 1)])]
EXPECTED = ['gpu-0', 'gpu-3-mig-1g5gb-19-0', 'gpu-3-mig-3g20gb-9-4']


def pod(name, node, owner=DS, env=None, status=None):
    return {'metadata': {'name': name, 'ownerReferences': [{'kind': 'DaemonSet', 'name': owner}]},
            'spec': {'nodeName': node, 'containers': [{'name': 'gpus', 'env': env or []}]}, 'status': status or {'phase': 'Running'}}


def rslice(node, devices, driver='gpu.nvidia.com', pool=None, generation=1, count=1, **spec):
    return {'metadata': {'name': '%s-%s-%d' % (driver, node, generation)},
            'spec': dict({'driver': driver, 'nodeName': node, 'devices': [{'name': d} for d in devices],
                          'pool': {'name': pool or node, 'generation': generation, 'resourceSliceCount': count}}, **spec)}


def claim(name, node, devices, pods=(), driver='gpu.nvidia.com'):
    return {'metadata': {'namespace': 'ml', 'name': name},
            'status': {'allocation': {'devices': {'results': [{'driver': driver, 'pool': node, 'device': d} for d in devices]}},
                       'reservedFor': [{'resource': 'pods', 'name': p, 'uid': 'u-' + p} for p in pods]}}


def reading(published, claims=(), complete=True, pods=({'name': 'plugin-a', 'state': 'Running'},), **extra):
    entry = {'published': list(published), 'complete': complete, 'shared_counters': False, 'dynamic_mig': None,
             'plugin_pods': list(pods), 'claims': list(claims), 'problems': []}
    entry.update(extra)
    return entry


@pytest.mark.parametrize('name, parsed', [
    ('gpu-0', {'minor': 0, 'mig': False, 'profile_id': None, 'start': None}),
    ('gpu-12', {'minor': 12, 'mig': False, 'profile_id': None, 'start': None}),
    ('gpu-3-mig-3g20gb-9-4', {'minor': 3, 'mig': True, 'profile_id': 9, 'start': 4}),
    # A profile with attributes: its '+' became '-', so only the last two numbers are the GI profile id and start.
    ('gpu-0-mig-1g10gb-me-20-6', {'minor': 0, 'mig': True, 'profile_id': 20, 'start': 6}),
    ('gpu-1-mig-1g10gb-me-all-15-0', {'minor': 1, 'mig': True, 'profile_id': 15, 'start': 0}),
])
def test_parse_device_reads_minor_and_placement(name, parsed):
    assert parse_device(name) == parsed


@pytest.mark.parametrize('name', ['gpu-', 'gpu-01', 'gpu-0-mig-3g20gb-9', 'gpu-0-mig--9-4', 'nic-0', 'GPU-0', 'gpu-0\n', None, 3,
                                  'gpu-0-mig-3g20gb-9-4-extra-x'])
def test_parse_device_refuses_names_the_driver_does_not_give(name):
    assert parse_device(name) is None


def test_plugin_state_names_a_waiting_reason_before_the_phase():
    assert pod_state({'status': {'phase': 'Running'}}) == 'Running'
    assert pod_state({'status': {'phase': 'Running', 'containerStatuses': [
        {'state': {'waiting': {'reason': 'CrashLoopBackOff', 'message': 'back-off'}}}]}}, message=False) == 'CrashLoopBackOff'
    assert pod_state({}) == 'unknown'


def test_cluster_nodes_reads_each_node_from_one_set_of_lists():
    slices = [rslice('gpu-a', ['gpu-1', 'gpu-0']), rslice('gpu-a', ['nic-0'], driver='net.example.com'),
              rslice('gpu-b', []), rslice('gpu-x', ['gpu-0'])]
    # A slice bound to no single node is no node's.
    slices.append({'metadata': {'name': 'shared'}, 'spec': {'driver': 'gpu.nvidia.com', 'allNodes': True, 'pool': {'name': 'p'}}})
    pods = [pod('plugin-a', 'gpu-a'), pod('plugin-c', 'gpu-c', status={'phase': 'Running', 'containerStatuses': [
        {'state': {'waiting': {'reason': 'CrashLoopBackOff'}}}]}), pod('other-d', 'gpu-d', owner='something-else')]
    claims = [claim('held', 'gpu-a', ['gpu-0'], pods=['trainer-0']), claim('net', 'gpu-a', ['nic-0'], driver='net.example.com'),
              claim('elsewhere', 'gpu-x', ['gpu-0'])]
    readings = cluster_nodes(['gpu-a', 'gpu-b', 'gpu-c', 'gpu-d', 'cpu-1'], slices, claims, pods, DS)
    assert list(readings) == ['gpu-a', 'gpu-b', 'gpu-c', 'gpu-d', 'cpu-1']
    assert readings['gpu-a'] == {
        'published': ['gpu-0', 'gpu-1'], 'complete': True, 'shared_counters': False, 'dynamic_mig': None,
        'plugin_pods': [{'name': 'plugin-a', 'state': 'Running'}], 'problems': [],
        'claims': [{'namespace': 'ml', 'name': 'held', 'devices': ['gpu-0'],
                    'reserved_for': [{'resource': 'pods', 'name': 'trainer-0', 'uid': 'u-trainer-0'}]}]}
    # A slice without devices (every GPU stranded), and a crash-looping plugin that published nothing: both DRA nodes.
    assert readings['gpu-b']['published'] == [] and readings['gpu-b']['plugin_pods'] == []
    assert readings['gpu-c']['published'] == [] and readings['gpu-c']['plugin_pods'] == [{'name': 'plugin-c', 'state': 'CrashLoopBackOff'}]
    # A pod of another DaemonSet, and a node with nothing of the driver: no DRA node.
    assert readings['gpu-d'] is None and readings['cpu-1'] is None


def test_cluster_nodes_keeps_what_cannot_be_read_as_the_nodes_problems():
    slices = [rslice('gpu-a', ['gpu-0'], pool='somewhere')]
    pods = [pod('plugin-a', 'gpu-a'), pod('plugin-b', 'gpu-b', env=[{'name': 'FEATURE_GATES', 'value': 'DynamicMIG=true'}]),
            pod('plugin-c', 'gpu-c', env=[{'name': 'FEATURE_GATES', 'valueFrom': {'configMapKeyRef': {'name': 'x', 'key': 'y'}}}])]
    readings = cluster_nodes(['gpu-a', 'gpu-b', 'gpu-c'], slices, [], pods, DS)
    assert readings['gpu-a']['complete'] is False and readings['gpu-a']['published'] == []
    assert readings['gpu-a']['problems'] == ["ResourceSlice gpu.nvidia.com-gpu-a-1 of driver gpu.nvidia.com on node gpu-a is in pool "
                                             "'somewhere'; NVIDIA's DRA driver publishes a node's devices in the pool named after the "
                                             "node (gpu-a)"]
    assert 'runs with the feature gate DynamicMIG=true' in readings['gpu-b']['dynamic_mig'] and readings['gpu-b']['problems'] == []
    assert readings['gpu-c']['dynamic_mig'] is None and 'takes FEATURE_GATES from valueFrom' in readings['gpu-c']['problems'][0]


def test_cluster_nodes_counts_only_the_newest_complete_generation():
    slices = [rslice('gpu-a', ['gpu-0'], generation=1), rslice('gpu-a', ['gpu-0-mig-7g40gb-0-0'], generation=2, count=2)]
    readings = cluster_nodes(['gpu-a'], slices, [], [pod('plugin-a', 'gpu-a')], DS)
    assert readings['gpu-a']['published'] == ['gpu-0-mig-7g40gb-0-0'] and readings['gpu-a']['complete'] is False


def test_dra_view_is_none_for_a_node_without_dra():
    assert dra_view(GPUS, None) is None


def test_dra_view_puts_each_device_beside_its_gpu_with_its_claims():
    held = {'namespace': 'ml', 'name': 'c1', 'devices': ['gpu-3-mig-3g20gb-9-4'],
            'reserved_for': [{'resource': 'pods', 'name': 'p1', 'uid': 'u'}, {'resource': 'pods', 'name': 'p2', 'uid': 'v'}]}
    view = dra_view(GPUS, reading(EXPECTED, claims=[held]))
    assert view['match'] and view['complete'] and not view['dynamic'] and view['problems'] == []
    assert (view['published'], view['expected'], view['claims']) == (3, 3, 1)
    assert [row['index'] for row in view['gpus']] == [0, 1] and view['other'] == []
    assert view['gpus'][0]['devices'] == [{'name': 'gpu-0', 'what': 'whole GPU', 'published': True, 'expected': True, 'status': 'ok',
                                           'state': 'published', 'claims': []}]
    # By placement start: the 1g.5gb at 0 before the 3g.20gb at 4-7.
    assert [(d['name'], d['what'], d['claims']) for d in view['gpus'][1]['devices']] == [
        ('gpu-3-mig-1g5gb-19-0', '1g.5gb at 0', []),
        ('gpu-3-mig-3g20gb-9-4', '3g.20gb at 4-7', [{'claim': 'ml/c1', 'pods': ['p1', 'p2']}])]


def test_dra_view_shows_stale_slices_after_a_change_without_a_plugin_restart():
    # The plugin read GPU 1 (minor 3) with MIG off; since then it was partitioned.
    held = {'namespace': 'ml', 'name': 'old', 'devices': ['gpu-3'], 'reserved_for': [{'resource': 'pods', 'name': 'p', 'uid': 'u'}]}
    view = dra_view(GPUS, reading(['gpu-0', 'gpu-3'], claims=[held]))
    assert not view['match']
    assert [(d['name'], d['status'], d['state']) for d in view['gpus'][1]['devices']] == [
        ('gpu-3', 'unexpected', 'published, not expected'),
        ('gpu-3-mig-1g5gb-19-0', 'missing', 'expected, not published'),
        ('gpu-3-mig-3g20gb-9-4', 'missing', 'expected, not published')]
    assert view['problems'] == ["ResourceClaim ml/old holds device(s) gpu-3, which NVIDIA's DRA driver would not publish for the GPUs as read"]


def test_dra_view_names_a_stranded_gpu_and_still_shows_the_others():
    gpus = [gpu(0, 0, False), gpu(1, 1, True)]
    view = dra_view(gpus, reading(['gpu-0']))
    assert view['match'] and view['expected'] == 1
    assert view['gpus'][1]['devices'] == []
    assert len(view['problems']) == 1 and 'gpus[1] (GPU 1): MIG is enabled but the GPU has no MIG devices' in view['problems'][0]
    assert 'stranded' in view['problems'][0]


def test_dra_view_keeps_devices_of_no_gpu_and_claims_on_gone_devices():
    gone = {'namespace': 'ml', 'name': 'c9', 'devices': ['gpu-3-mig-2g10gb-14-0'], 'reserved_for': []}
    view = dra_view(GPUS, reading(EXPECTED + ['gpu-7', 'weird'], claims=[gone]))
    assert not view['match']
    assert [(d['name'], d['status'], d['what']) for d in view['other']] == [
        ('weird', 'unexpected', "a name NVIDIA's DRA driver does not give"),
        ('gpu-7', 'unexpected', 'whole GPU; no GPU with minor number 7')]
    row = [d for d in view['gpus'][1]['devices'] if d['name'] == 'gpu-3-mig-2g10gb-14-0']
    assert [(d['status'], d['state'], d['what'], d['claims']) for d in row] == [
        ('gone', 'held by a claim, neither published nor expected', 'GPU instance profile 14 at slice 0', [{'claim': 'ml/c9', 'pods': []}])]
    assert view['problems'] == ["ResourceClaim ml/c9 holds device(s) gpu-3-mig-2g10gb-14-0, which NVIDIA's DRA driver would not "
                                "publish for the GPUs as read"]


def test_dra_view_problems_dynamic_mig_shared_counters_no_plugin_and_an_incomplete_pool():
    view = dra_view(GPUS, reading(EXPECTED, complete=False, pods=(), dynamic_mig='node n: DynamicMIG=true', shared_counters=True,
                                  problems=['a slice in the wrong pool']))
    assert not view['match'] and not view['complete']
    # Dynamic MIG publishes what can be made, not what exists: nothing is expected, the published devices are just shown.
    assert view['dynamic'] and not view['compared'] and view['expected'] == 0 and view['published'] == 3
    assert [d['status'] for row in view['gpus'] for d in row['devices']] == ['ok', 'ok', 'ok']
    assert view['problems'] == [
        'a slice in the wrong pool', 'node n: DynamicMIG=true',
        'its ResourceSlices of driver gpu.nvidia.com share counters, which only dynamic MIG publishes; gpufleet.mig manages static MIG only',
        'no DRA kubelet plugin pod runs on the node: its ResourceSlices are not kept up to date']


def test_without_the_gpus_nothing_is_compared():
    # gpu_info failed on the node (its message is the node's problem): the published devices are shown, not judged.
    view = dra_view([], reading(['gpu-0'], claims=[{'namespace': 'ml', 'name': 'c', 'devices': ['gpu-0'], 'reserved_for': []}]))
    assert not view['compared'] and not view['match'] and view['expected'] == 0 and view['problems'] == []
    assert [(d['name'], d['status']) for d in view['other']] == [('gpu-0', 'ok')]


def test_dra_view_survives_corrupt_input():
    assert dra_view(GPUS, 'garbage')['problems'] == ["the DRA reading is not a mapping: 'garbage'"]
    view = dra_view(['not a gpu', {'index': 5}], reading(['gpu-0', 7], claims=['x', {'devices': 'gpu-0'}], pods=['x']))
    assert view['gpus'] == [{'index': 5, 'devices': []}] and [d['name'] for d in view['other']] == ['gpu-0']
    assert any('minor_number must be' in p for p in view['problems'])
    assert 'no DRA kubelet plugin pod runs on the node: its ResourceSlices are not kept up to date' in view['problems']
