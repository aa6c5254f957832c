# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The reliability checks themselves: each kind of loss they exist to catch must be caught.

The fault and kill runs pass only if check_run finds nothing; these tests make sure that "nothing" means
something, on hand-made snapshots of a two-GPU A100 node.
"""

from __future__ import annotations

import copy
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from world import CORDON_ANNOTATION, DRA_NAMESPACE, FAILURE_ANNOTATION, STATE_LABEL, check_run, dra_devices, nothing_changed  # noqa: E402


class FakeWorld(object):
    nodes = {'n1': {'model': 'A100-SXM4-40GB', 'count': 2, 'start': 'off'}}


def gi(profile, start, size):
    return {'profile': profile, 'start': start, 'size': size, 'compute_instances': [{'profile': profile, 'start': 0, 'size': size}]}


OLD_GPU = {'index': 0, 'mig_mode_current': 0, 'gpu_instances': []}
NEW_GPU = {'index': 0, 'mig_mode_current': 1,
           'gpu_instances': [gi('1g.5gb', 0, 1), gi('1g.5gb', 1, 1), gi('2g.10gb', 2, 2), gi('3g.20gb', 4, 4)]}
# The A100's GPU instance profile IDs (NVIDIA's MIG user guide): 1g.5gb 19, 2g.10gb 14, 3g.20gb 9.
for _gi in NEW_GPU['gpu_instances']:
    _gi['profile_id'] = {'1g.5gb': 19, '2g.10gb': 14, '3g.20gb': 9}[_gi['profile']]


def node(state=None, cordoned=False, annotations=None, allocatable=None, config=None):
    labels = {}
    if state:
        labels[STATE_LABEL] = state
    if config:
        labels['nvidia.com/mig.config'] = config
    return {'metadata': {'name': 'n1', 'labels': labels, 'annotations': dict(annotations or {})},
            'spec': {'unschedulable': cordoned}, 'status': {'allocatable': dict(allocatable or {'nvidia.com/gpu': '2'})}}


def snapshot(gpus, node_obj, low_water=None, audit=None, mutating=0, slices=None):
    return {'gpus': {'n1': [dict(g, index=i) for i, g in enumerate(gpus)]}, 'nodes': {'n1': node_obj}, 'pods': [],
            'pdb_low_water': low_water or {}, 'audit': audit or [], 'mutating': {'n1': mutating}, 'slices': {'n1': slices or []}}


BEFORE = snapshot([OLD_GPU, OLD_GPU], node())
CONVERGED = node('success', config='a100-a', allocatable={'nvidia.com/mig-1g.5gb': '4', 'nvidia.com/mig-2g.10gb': '2',
                                                          'nvidia.com/mig-3g.20gb': '2'})


def outcome(after, results=None, api_down=False):
    outcomes, fleet = check_run(FakeWorld(), BEFORE, after, {'n1': 'a'}, results, api_down)
    return outcomes['n1'][0], outcomes['n1'][1], fleet


def test_a_converged_node_passes():
    assert outcome(snapshot([NEW_GPU, NEW_GPU], CONVERGED), {'n1': {'status': 'changed'}}) == ('converged', [], [])


def test_a_cleanly_failed_node_passes_whatever_mix_of_old_and_new_gpus():
    failed = node('failed', cordoned=True, annotations={FAILURE_ANNOTATION: 'why', CORDON_ANNOTATION: 'true'})
    assert outcome(snapshot([NEW_GPU, OLD_GPU], failed), {'n1': {'status': 'failed'}}) == ('failed', [], [])


def test_a_torn_gpu_is_lost():
    torn = copy.deepcopy(NEW_GPU)
    del torn['gpu_instances'][-1]
    found, problems, dummy = outcome(snapshot([NEW_GPU, torn], node('failed', annotations={FAILURE_ANNOTATION: 'x'})))
    assert found == 'failed'
    assert problems and 'GPU 1 is in neither its old layout nor the target a' in problems[0]


def test_a_compute_instance_split_is_not_the_target():
    split = copy.deepcopy(NEW_GPU)
    split['gpu_instances'][3]['compute_instances'] = [{'profile': '1c.3g.20gb', 'start': 0, 'size': 1}]
    assert outcome(snapshot([NEW_GPU, split], CONVERGED))[0] != 'converged'


@pytest.mark.parametrize('annotations', [{}, {FAILURE_ANNOTATION: 'why'}])
def test_a_cordon_without_our_mark_or_a_failed_label_is_lost(annotations):
    found, problems, dummy = outcome(snapshot([OLD_GPU, OLD_GPU], node('success', cordoned=True, annotations=annotations)))
    assert any('cordoned without a visible reason' in p for p in problems)


def test_a_failed_label_without_a_reason_is_not_a_clean_failure():
    found, problems, dummy = outcome(snapshot([OLD_GPU, OLD_GPU], node('failed')))
    assert found == 'unexplained' and problems


def test_pending_is_only_acceptable_while_the_api_server_is_down():
    pending = node('pending', cordoned=True, annotations={CORDON_ANNOTATION: 'true'})
    assert outcome(snapshot([OLD_GPU, OLD_GPU], pending), api_down=True)[:2] == ('pending', [])
    assert outcome(snapshot([OLD_GPU, OLD_GPU], pending))[0] == 'unexplained'


def test_untouched_means_exactly_as_before():
    assert outcome(snapshot([OLD_GPU, OLD_GPU], node()), {'n1': {'status': 'failed'}}) == ('untouched', [], [])
    assert outcome(snapshot([OLD_GPU, OLD_GPU], node(annotations={'other': 'x'})))[0] == 'unexplained'


def test_the_report_must_agree_with_the_node():
    assert 'the node converged but the rollout reported failed' in outcome(
        snapshot([NEW_GPU, NEW_GPU], CONVERGED), {'n1': {'status': 'failed'}})[1]
    assert 'the node is untouched but the rollout reported None' in outcome(snapshot([OLD_GPU, OLD_GPU], node()), {})[1]


def test_a_broken_budget_and_a_deleted_workload_pod_are_lost():
    after = snapshot([NEW_GPU, NEW_GPU], CONVERGED,
                     low_water={'ns/pdb': {'margin': -1, 'currentHealthy': 0, 'desiredHealthy': 1, 'time': 't'}},
                     audit=[{'verb': 'delete', 'resource': 'pods', 'namespace': 'ml', 'name': 'p1', 'code': 200},
                            {'verb': 'delete', 'resource': 'pods', 'namespace': 'gpu-operator', 'name': 'plugin', 'code': 200}])
    fleet = outcome(after)[2]
    assert fleet == ['disruption budget ns/pdb was broken: 0 healthy pods for 1 desired at t',
                     'a workload pod was deleted outside the Eviction API: ml/p1']


def test_nothing_changed_counts_successful_writes_and_mutating_calls_only():
    after = snapshot([OLD_GPU, OLD_GPU], node(), mutating=2,
                     audit=[{'verb': 'patch', 'resource': 'nodes', 'name': 'n1', 'code': 500},
                            {'verb': 'patch', 'resource': 'nodes', 'name': 'n1', 'code': 200},
                            {'verb': 'get', 'resource': 'nodes', 'name': 'n1', 'code': 200}])
    assert nothing_changed(FakeWorld(), BEFORE, after) == ['API write: patch nodes /n1', 'n1: 2 mutating NVML call(s)']


class FakeDraWorld(object):
    nodes = {'n1': {'model': 'A100-SXM4-40GB', 'count': 2, 'start': 'off', 'allocator': 'dra'}}


# What NVIDIA's DRA driver publishes for two A100s in layout a (written out, not computed by dra_devices).
NEW_DEVICES = sorted('gpu-%d-mig-%s' % (gpu, device) for gpu in (0, 1) for device in ('1g5gb-19-0', '1g5gb-19-1', '2g10gb-14-2', '3g20gb-9-4'))
DRA_CONVERGED = node('success', config='a100-a', allocatable={})


def dra_outcome(after, results=None):
    before = snapshot([OLD_GPU, OLD_GPU], node(allocatable={}), slices=['gpu-0', 'gpu-1'])
    outcomes, fleet = check_run(FakeDraWorld(), before, after, {'n1': 'a'}, results)
    return outcomes['n1'][0], outcomes['n1'][1], fleet


def test_dra_devices_are_named_by_profile_id_and_placement():
    assert dra_devices([dict(NEW_GPU, index=0), dict(NEW_GPU, index=1)]) == NEW_DEVICES
    assert dra_devices([dict(OLD_GPU, index=0), {'index': 1, 'mig_mode_current': 1, 'gpu_instances': []}]) == ['gpu-0']


def test_a_dra_node_converges_when_its_slices_list_exactly_its_mig_devices():
    assert dra_outcome(snapshot([NEW_GPU, NEW_GPU], DRA_CONVERGED, slices=NEW_DEVICES), {'n1': {'status': 'changed'}}) == ('converged', [], [])


@pytest.mark.parametrize('slices', [['gpu-0', 'gpu-1'], NEW_DEVICES[1:], NEW_DEVICES + ['gpu-1-mig-1g5gb-19-6'], []],
                         ids=['stale', 'one-missing', 'one-extra', 'wiped'])
def test_a_dra_node_whose_slices_differ_from_its_gpus_has_not_converged(slices):
    found, problems, dummy = dra_outcome(snapshot([NEW_GPU, NEW_GPU], DRA_CONVERGED, slices=slices), {'n1': {'status': 'changed'}})
    assert found == 'unexplained'
    assert any('ResourceSlices list %s, the GPUs have %s' % (slices, NEW_DEVICES) in p for p in problems)


def test_a_dra_plugin_restart_is_not_a_workload_pod_deleted():
    after = snapshot([NEW_GPU, NEW_GPU], DRA_CONVERGED, slices=NEW_DEVICES,
                     audit=[{'verb': 'delete', 'resource': 'pods', 'namespace': DRA_NAMESPACE, 'name': 'plugin', 'code': 200}])
    assert dra_outcome(after)[2] == []
