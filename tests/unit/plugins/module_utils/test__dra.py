# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A node's devices under NVIDIA's DRA driver: expected names from gpu_info's GPUs, the node's slices, claims on its pool,
the DynamicMIG gate."""

from __future__ import annotations

import copy
import os
import sys

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils import _dra
from ansible_collections.gpufleet.mig.plugins.module_utils._dra import (
    DraError, claims_on_pool, dynamic_mig_reason, expected_devices, mig_device_name, plugin_pods, published_devices)

sys.path.insert(0, os.path.join(os.environ.get('GPUFLEET_ROOT', os.getcwd()), 'tests', 'k8ssim'))
import sim_dra  # noqa: E402  pylint: disable=wrong-import-position


def _gi(profile, profile_id, start, slices, ci_sizes=None):
    sizes = [slices] if ci_sizes is None else ci_sizes
    return {'profile': profile, 'profile_id': profile_id, 'placement': {'start': start, 'size': slices}, 'compute_slices': slices,
            'compute_instances': [{'placement': {'start': 0, 'size': size}} for size in sizes]}


def _gpu(index, minor, mig, instances=()):
    return {'index': index, 'minor_number': minor, 'uuid': 'GPU-%d' % index, 'mig_capable': mig is not None,
            'mig_mode': {'current': mig, 'pending': mig, 'change_pending': False}, 'gpu_instances': list(instances)}


# ---------------------------------------------------------------------------------------------- names
@pytest.mark.parametrize('profile, gi_id, start, name', [
    ('1g.5gb', 19, 0, 'gpu-3-mig-1g5gb-19-0'),
    ('3g.20gb', 9, 4, 'gpu-3-mig-3g20gb-9-4'),
    ('1g.10gb+me', 20, 6, 'gpu-3-mig-1g10gb-me-20-6'),
    ('7g.80gb', 0, 0, 'gpu-3-mig-7g80gb-0-0'),
    ('1g.12gb-me', 36, 1, 'gpu-3-mig-1g12gb-me-36-1'),
])
def test_mig_device_name_is_nvidias_canonical_name(profile, gi_id, start, name):
    assert mig_device_name(3, profile, gi_id, start) == name
    # The simulator's copy of MigSpecTuple.ToCanonicalName agrees.
    assert sim_dra.canonical_mig_name(3, profile, gi_id, start) == name


# ---------------------------------------------------------------------------------------------- expected devices
def test_expected_whole_gpus_and_mig_devices_by_minor_not_index():
    gpus = [_gpu(0, 1, False), _gpu(1, 0, True, [_gi('1g.5gb', 19, 0, 1), _gi('3g.20gb', 9, 4, 3)]), _gpu(2, 2, None)]
    assert expected_devices(gpus) == ['gpu-0-mig-1g5gb-19-0', 'gpu-0-mig-3g20gb-9-4', 'gpu-1', 'gpu-2']


def test_expected_skips_a_gpu_instance_without_compute_instances():
    gpus = [_gpu(0, 0, True, [_gi('1g.5gb', 19, 0, 1), _gi('1g.5gb', 19, 1, 1, ci_sizes=[])])]
    assert expected_devices(gpus) == ['gpu-0-mig-1g5gb-19-0']


def test_expected_of_no_gpus_is_nothing():
    assert expected_devices([]) == []


def test_stranded_gpu_is_refused_with_why():
    with pytest.raises(DraError) as err:
        expected_devices([_gpu(0, 0, False), _gpu(1, 1, True, [])])
    assert len(err.value.problems) == 1
    assert 'gpus[1] (GPU 1): MIG is enabled but the GPU has no MIG devices' in str(err.value)
    assert 'stranded' in str(err.value)


def test_only_empty_gpu_instances_are_stranded_too():
    with pytest.raises(DraError, match='stranded'):
        expected_devices([_gpu(0, 0, True, [_gi('2g.10gb', 14, 0, 2, ci_sizes=[])])])


def test_split_gpu_instance_is_refused():
    with pytest.raises(DraError) as err:
        expected_devices([_gpu(0, 0, True, [_gi('3g.20gb', 9, 4, 3, ci_sizes=[1, 2])])])
    assert 'GPU instance 3g.20gb at 4 is split into smaller compute instances (sizes [1, 2] of 3 slices)' in str(err.value)
    assert 'stranded' not in str(err.value)


@pytest.mark.parametrize('profile', ['foo', '1c.3g.20gb', '3g.20GB', '', None, '0g.5gb', '1g.5gb+'])
def test_unknown_profile_naming_is_refused(profile):
    with pytest.raises(DraError) as err:
        expected_devices([_gpu(0, 0, True, [_gi(profile, 9, 0, 3)])])
    assert 'profile %r is not a GPU instance profile name' % (profile,) in str(err.value)
    assert 'such as 1g.5gb or 1g.10gb+me' in str(err.value)


@pytest.mark.parametrize('gpus, words', [
    ('all', 'gpus must be a list'),
    (['gpu0'], "gpus[0] must be a GPU as gpu_info returns it (a mapping), got 'gpu0'"),
    ([{'index': 0, 'mig_mode': {'current': False}}], 'gpus[0] (GPU 0): minor_number must be'),
    ([dict(_gpu(0, 0, False), minor_number=-1)], 'minor_number must be'),
    ([dict(_gpu(0, 0, False), minor_number=True)], 'minor_number must be'),
    ([_gpu(0, 0, False), _gpu(1, 0, False)], 'gpus[1] (GPU 1): minor_number 0 is also the minor number of gpus[0]'),
    ([dict(_gpu(0, 0, False), mig_mode='on')], "mig_mode must be a mapping whose current is true, false or null, got 'on'"),
    ([dict(_gpu(0, 0, False), mig_mode={'current': 'yes'})], 'mig_mode must be a mapping'),
    ([dict(_gpu(0, 0, True), gpu_instances=None)], 'gpu_instances must be a list, got None'),
    ([_gpu(0, 0, True, ['gi'])], "gpus[0] (GPU 0).gpu_instances[0] must be a mapping, got 'gi'"),
    ([_gpu(0, 0, True, [dict(_gi('1g.5gb', 19, 0, 1), profile_id=None)])], '(1g.5gb): profile_id must be integers'),
    ([_gpu(0, 0, True, [dict(_gi('1g.5gb', 19, 0, 1), placement=None)])], 'placement.start'),
    ([_gpu(0, 0, True, [dict(_gi('1g.5gb', 19, 0, 1), compute_instances='x')])], "(1g.5gb): compute_instances must be a list, as gpu_info returns it, got 'x'"),
    ([_gpu(0, 0, True, [dict(_gi('1g.5gb', 19, 0, 1), profile_id=None, compute_slices=-1)])], 'profile_id, compute_slices must be integers'),
])
def test_bad_gpus_name_the_bad_value(gpus, words):
    with pytest.raises(DraError) as err:
        expected_devices(gpus)
    assert words in str(err.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(DraError) as err:
        expected_devices([_gpu(0, 0, True, []), _gpu(1, None, False), _gpu(2, 2, True, [_gi('x', 1, 0, 1)])])
    assert len(err.value.problems) == 3


# ---------------------------------------------------------------------------------------------- slices
def _slice(name, devices, driver='gpu.nvidia.com', node='n1', pool='n1', generation=1, count=1, **spec):
    body = dict({'driver': driver, 'nodeName': node, 'pool': {'name': pool, 'generation': generation, 'resourceSliceCount': count},
                 'devices': [{'name': d} for d in devices]}, **spec)
    return {'metadata': {'name': name}, 'spec': body}


def test_published_devices_ignores_other_drivers():
    slices = [_slice('a', ['gpu-1', 'gpu-0']), _slice('b', ['nic-0'], driver='net.example.com', pool='elsewhere')]
    assert published_devices('n1', slices) == {'devices': ['gpu-0', 'gpu-1'], 'complete': True, 'dynamic': False}


def test_published_devices_wrong_pool_is_an_error():
    with pytest.raises(DraError, match=r"ResourceSlice a of driver gpu.nvidia.com on node n1 is in pool 'n2'.*named after the node"):
        published_devices('n1', [_slice('a', ['gpu-0'], pool='n2')])


def test_published_devices_wrong_node_is_an_error():
    with pytest.raises(DraError, match="ResourceSlice a of driver gpu.nvidia.com is for node 'n2', not n1"):
        published_devices('n1', [_slice('a', ['gpu-0'], node='n2', pool='n2')])


def test_published_devices_newest_generation_and_completeness():
    slices = [_slice('old', ['gpu-0'], generation=1), _slice('new-1', ['gpu-1'], generation=2, count=2)]
    assert published_devices('n1', slices) == {'devices': ['gpu-1'], 'complete': False, 'dynamic': False}
    slices.append(_slice('new-2', ['gpu-2'], generation=2, count=2))
    assert published_devices('n1', slices) == {'devices': ['gpu-1', 'gpu-2'], 'complete': True, 'dynamic': False}


def test_published_devices_none():
    assert published_devices('n1', []) == {'devices': [], 'complete': True, 'dynamic': False}


def test_published_devices_counters_mean_dynamic_mig():
    assert published_devices('n1', [_slice('a', [], sharedCounters=[{'name': 'gpu-0-counter-set'}])])['dynamic']
    dynamic = _slice('a', ['gpu-0-mig-1g5gb-19-0'])
    dynamic['spec']['devices'][0]['consumesCounters'] = [{'counterSet': 'gpu-0-counter-set'}]
    assert published_devices('n1', [dynamic])['dynamic']


def test_slices_are_compared_by_placement_not_count():
    # Same profiles and count, other placements: the names differ.
    gpus = [_gpu(0, 0, True, [_gi('1g.5gb', 19, 0, 1), _gi('1g.5gb', 19, 1, 1)])]
    published = published_devices('n1', [_slice('a', ['gpu-0-mig-1g5gb-19-0', 'gpu-0-mig-1g5gb-19-6'])])['devices']
    assert set(expected_devices(gpus)) ^ set(published) == {'gpu-0-mig-1g5gb-19-1', 'gpu-0-mig-1g5gb-19-6'}


# ---------------------------------------------------------------------------------------------- claims
def _claim(name, results, reserved=()):
    return {'metadata': {'namespace': 'ml', 'name': name},
            'status': {'allocation': {'devices': {'results': [dict(zip(('driver', 'pool', 'device'), r)) for r in results]}},
                       'reservedFor': [{'resource': 'pods', 'name': p, 'uid': 'u-' + p} for p in reserved]}}


def test_claims_on_pool():
    claims = [_claim('b', [('gpu.nvidia.com', 'n1', 'gpu-0-mig-1g5gb-19-1'), ('gpu.nvidia.com', 'n1', 'gpu-0-mig-1g5gb-19-0')], ['p1']),
              _claim('a', [('gpu.nvidia.com', 'n2', 'gpu-0')]),
              _claim('c', [('net.example.com', 'n1', 'gpu-0')]),
              {'metadata': {'namespace': 'ml', 'name': 'pending'}, 'spec': {}}]
    assert claims_on_pool(claims, 'n1') == [
        {'namespace': 'ml', 'name': 'b', 'devices': ['gpu-0-mig-1g5gb-19-0', 'gpu-0-mig-1g5gb-19-1'],
         'reserved_for': [{'resource': 'pods', 'name': 'p1', 'uid': 'u-p1'}]}]
    assert claims_on_pool(claims, 'n1', devices=['gpu-0-mig-1g5gb-19-1'])[0]['devices'] == ['gpu-0-mig-1g5gb-19-1']
    assert claims_on_pool(claims, 'n1', devices=['gpu-1']) == []


# ---------------------------------------------------------------------------------------------- plugin pods, DynamicMIG
def _pod(name, env=None, args=None, owner='dra-driver-nvidia-gpu-kubelet-plugin'):
    container = {'name': 'gpus', 'env': env or []}
    if args is not None:
        container['args'] = args
    return {'metadata': {'name': name, 'ownerReferences': [{'kind': 'DaemonSet', 'name': owner}]},
            'spec': {'containers': [{'name': 'compute-domains'}, container]}}


def test_plugin_pods_are_the_daemonsets():
    pods = [_pod('a'), _pod('b', owner='other'), {'metadata': {'name': 'bare'}}]
    assert [p['metadata']['name'] for p in plugin_pods(pods, 'dra-driver-nvidia-gpu-kubelet-plugin')] == ['a']


@pytest.mark.parametrize('env, args, dynamic', [
    ([], None, False),
    ([{'name': 'FEATURE_GATES', 'value': 'DynamicMIG=true,'}], None, True),     # as the chart renders it
    ([{'name': 'FEATURE_GATES', 'value': 'MPSSupport=true, DynamicMIG = True'}], None, True),
    ([{'name': 'FEATURE_GATES', 'value': 'DynamicMIG=false'}], None, False),
    ([{'name': 'FEATURE_GATES', 'value': 'DynamicMIG=1'}, {'name': 'FEATURE_GATES', 'value': 'DynamicMIG=0'}], None, False),
    ([{'name': 'FEATURE_GATES', 'value': 'DynamicMIG=true'}], ['--feature-gates=DynamicMIG=false'], False),
    ([{'name': 'FEATURE_GATES', 'value': 'DynamicMIG=true'}], ['--feature-gates', 'MPSSupport=false'], True),
    ([], ['--feature-gates', 'DynamicMIG=t'], True),
    ([{'name': 'OTHER', 'value': 'DynamicMIG=true'}], None, False),
])
def test_dynamic_mig_gate(env, args, dynamic):
    reason = dynamic_mig_reason('n1', [_pod('plug', env, args)])
    if dynamic:
        assert 'node n1: the DRA kubelet plugin pod plug runs with the feature gate DynamicMIG=true' in reason
        assert 'destroys the MIG devices it did not create' in reason
    else:
        assert reason is None


@pytest.mark.parametrize('value, words', [('DynamicMIG', "'DynamicMIG' is not key=bool"), ('DynamicMIG=yes', "'DynamicMIG=yes' is not key=bool")])
def test_unreadable_gates_are_errors(value, words):
    with pytest.raises(DraError, match=words):
        dynamic_mig_reason('n1', [_pod('plug', [{'name': 'FEATURE_GATES', 'value': value}])])


def test_gates_from_value_from_cannot_be_told():
    env = [{'name': 'FEATURE_GATES', 'valueFrom': {'configMapKeyRef': {'name': 'x', 'key': 'y'}}}]
    with pytest.raises(DraError, match='takes FEATURE_GATES from valueFrom'):
        dynamic_mig_reason('n1', [_pod('plug', env)])


def test_expected_devices_does_not_change_its_input():
    gpus = [_gpu(0, 0, True, [_gi('1g.5gb', 19, 0, 1)])]
    before = copy.deepcopy(gpus)
    expected_devices(gpus)
    assert gpus == before


# -- planned_gpus: the devices of a layout before it is applied ------------------------------------------------------

def _read_gpu(index, minor, current):
    return {'index': index, 'minor_number': minor, 'mig_mode': {'current': current}, 'gpu_instances': []}


def _plan(index, placements, enabled=True, model='A100-SXM4-40GB'):
    return {'index': index, 'model': model, 'mig_enabled': enabled, 'after': {'mig-enabled': enabled, 'placements': placements}}


def test_planned_gpus_give_the_devices_of_the_planned_layout():
    gpus = [_read_gpu(0, 4, False), _read_gpu(1, 5, True), _read_gpu(2, 6, False)]
    planned = [_plan(0, [{'profile': '3g.20gb', 'start': 4, 'compute_instances': ['3g.20gb']},
                         {'profile': '1g.5gb', 'start': 6, 'compute_instances': ['1g.5gb']}]),
               _plan(1, [], enabled=False)]
    # GPU 2 is not in the plan: it stays as read.
    assert _dra.expected_devices(_dra.planned_gpus(gpus, planned)) == ['gpu-4-mig-1g5gb-19-6', 'gpu-4-mig-3g20gb-9-4', 'gpu-5', 'gpu-6']


def test_planned_split_and_empty_gpu_instances_are_refused():
    gpus = [_read_gpu(0, 0, False), _read_gpu(1, 1, False)]
    planned = [_plan(0, [{'profile': '3g.20gb', 'start': 4, 'compute_instances': ['1c.3g.20gb', '1c.3g.20gb']}]), _plan(1, [])]
    with pytest.raises(_dra.DraError) as caught:
        _dra.expected_devices(_dra.planned_gpus(gpus, planned))
    assert len(caught.value.problems) == 2
    assert 'split into smaller compute instances' in caught.value.problems[0] and 'stranded' in caught.value.problems[1]


def test_planned_layouts_that_are_no_mig_layout_result_are_named():
    gpus = [_read_gpu(0, 0, False)]
    with pytest.raises(_dra.DraError) as caught:
        _dra.planned_gpus(gpus, [{'index': 0}, _plan(0, [], model='A200'), _plan(0, [{'profile': '9g.99gb', 'start': 0}])])
    problems = caught.value.problems
    assert problems[0].startswith('planned_layouts[0] must be a GPU result of mig_layout')
    assert problems[1].startswith("planned_layouts[1] (GPU 0): unknown GPU model 'A200'; valid models: ")
    assert problems[2].startswith("planned_layouts[2].after.placements[0]: {'profile': '9g.99gb', 'start': 0} is not a planned GPU "
                                  'instance of A100-SXM4-40GB')
