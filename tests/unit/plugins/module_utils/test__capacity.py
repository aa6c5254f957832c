# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The capacity-aware preflight's decision (_capacity.capacity_check) over plain API objects."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._capacity import (
    CapacityInputError, capacity_check, pod_requests, unschedulable_after, why_not)
from ansible_collections.gpufleet.mig.plugins.module_utils._drain import CORDON_ANNOTATION

MIG1 = 'nvidia.com/mig-1g.10gb'
MIG3 = 'nvidia.com/mig-3g.40gb'


def node(name, allocatable=None, labels=None, taints=None, unschedulable=False, annotations=None):
    allocatable = dict({'cpu': '64'}, **(allocatable or {}))
    return {'metadata': {'name': name, 'labels': labels or {}, 'annotations': annotations or {}},
            'spec': dict({'taints': taints} if taints else {}, **({'unschedulable': True} if unschedulable else {})),
            'status': {'allocatable': allocatable}}


def pod(name, on, requests=None, owner='ReplicaSet', ns='team-a', selector=None, affinity=None, tolerations=None, phase='Running',
        init=None):
    meta = {'name': name, 'namespace': ns}
    if owner:
        meta['ownerReferences'] = [{'kind': owner, 'name': 'owner', 'controller': True}]
    spec = {'nodeName': on, 'containers': [{'name': 'main', 'resources': {'limits': dict(requests or {})}}]}
    if init:
        spec['initContainers'] = [{'name': 'init', 'resources': {'requests': init}}]
    for key, value in (('nodeSelector', selector), ('affinity', affinity), ('tolerations', tolerations)):
        if value is not None:
            spec[key] = value
    return {'metadata': meta, 'spec': spec, 'status': {'phase': phase}}


def quota(ns, **hard):
    return {'metadata': {'name': 'gpus', 'namespace': ns}, 'spec': {'hard': dict((k.replace('_', '/'), v) for k, v in hard.items())}}


def test_room_left_places_every_evicted_pod():
    nodes = [node('a', {MIG1: '7'}), node('b', {MIG1: '7'})]
    pods = [pod('p1', 'a', {MIG1: 2}), pod('p2', 'a', {MIG1: 1}), pod('cpu', 'a', {})]
    found = capacity_check(nodes, pods, [], {'a': {MIG3: 2}})
    assert found['problems'] == []
    assert found['evicted'] == ['team-a/p1', 'team-a/p2']
    assert found['placed'] == {'team-a/p1': 'b', 'team-a/p2': 'b'}
    assert found['resources'][MIG1] == {'before': 14, 'after': 7, 'used': 3, 'quota': 0}
    assert found['resources'][MIG3] == {'before': 0, 'after': 2, 'used': 0, 'quota': 0}


def test_a_pod_whose_resource_disappears_is_stranded_with_why():
    nodes = [node('a', {MIG1: '7'}), node('b', {MIG3: '2'})]
    found = capacity_check(nodes, [pod('p1', 'a', {MIG1: 1})], [], {'a': {MIG3: 2}})
    assert [s['pod'] for s in found['stranded']] == ['team-a/p1']
    assert found['stranded'][0]['why'] == ['a, b: too few free nvidia.com/mig-1g.10gb after the change']
    assert any('pod team-a/p1 (nvidia.com/mig-1g.10gb: 1) fits on no node after the change' in p for p in found['problems'])
    assert any(p.startswith('nvidia.com/mig-1g.10gb: the pods that keep running or come back request 1, the cluster offers 0') for p in found['problems'])


def test_the_changed_node_itself_takes_its_pods_back():
    found = capacity_check([node('a', {MIG1: '7'})], [pod('p1', 'a', {MIG1: 3})], [], {'a': {MIG1: '3', MIG3: '1'}})
    assert found['problems'] == [] and found['placed'] == {'team-a/p1': 'a'}


def test_staying_pods_keep_their_share():
    nodes = [node('a', {MIG1: '7'}), node('b', {MIG1: '2'})]
    pods = [pod('stay', 'b', {MIG1: 2}), pod('moves', 'a', {MIG1: 1})]
    found = capacity_check(nodes, pods, [], {'a': {MIG3: 2}})
    assert [s['pod'] for s in found['stranded']] == ['team-a/moves']
    assert found['resources'][MIG1]['used'] == 3


def test_pods_without_a_controller_are_not_placed_and_not_counted():
    nodes = [node('a', {MIG1: '7'})]
    found = capacity_check(nodes, [pod('bare', 'a', {MIG1: 1}, owner=None)], [], {'a': {}})
    assert found['problems'] == [] and found['not_recreated'] == ['team-a/bare'] and found['placed'] == {}
    assert found['resources'][MIG1]['used'] == 0


def test_daemonset_and_finished_pods_are_not_evicted():
    nodes = [node('a', {MIG1: '7'})]
    pods = [pod('ds', 'a', {MIG1: 1}, owner='DaemonSet'), pod('done', 'a', {MIG1: 1}, phase='Succeeded')]
    found = capacity_check(nodes, pods, [], {'a': {MIG1: 7}})
    assert found['evicted'] == [] and found['resources'][MIG1]['used'] == 1


def test_gpu_only_false_evicts_cpu_pods_too_but_places_only_gpu_pods():
    nodes = [node('a', {MIG1: '7'})]
    found = capacity_check(nodes, [pod('cpu', 'a', {})], [], {'a': {MIG1: 7}}, gpu_only=False)
    assert found['evicted'] == ['team-a/cpu'] and found['placed'] == {} and found['problems'] == []


def test_biggest_first_best_fit():
    # a: 3 free, b: 2 free after. Pods of 2 and 3: biggest first takes a (the only fit), 2 goes to b.
    nodes = [node('a', {MIG1: '3'}), node('b', {MIG1: '2'}), node('c', {MIG1: '7'})]
    pods = [pod('two', 'c', {MIG1: 2}), pod('three', 'c', {MIG1: 3})]
    found = capacity_check(nodes, pods, [], {'c': {}})
    assert found['placed'] == {'team-a/three': 'a', 'team-a/two': 'b'} and found['problems'] == []


@pytest.mark.parametrize('spec, why', [
    ({'selector': {'pool': 'b'}}, 'node selector pool=b does not match'),
    ({'affinity': {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [
        {'matchExpressions': [{'key': 'nvidia.com/mig.capable', 'operator': 'In', 'values': ['true']}]}]}}}},
     'required node affinity does not match'),
    ({'affinity': {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [{}]}}}},
     'required node affinity does not match'),
])
def test_selectors_and_affinity(spec, why):
    target = node('b', {MIG1: '7'}, labels={'pool': 'a'})
    assert why_not(pod('p', 'a', {MIG1: 1}, **spec), target, False) == why


@pytest.mark.parametrize('operator, values, labels, ok', [
    ('In', ['true'], {'k': 'true'}, True),
    ('NotIn', ['true'], {'k': 'false'}, True),
    ('NotIn', ['true'], {}, True),
    ('Exists', [], {'k': ''}, True),
    ('DoesNotExist', [], {'k': 'x'}, False),
    ('Gt', ['3'], {'k': '4'}, True),
    ('Lt', ['3'], {'k': '4'}, False),
    ('Gt', ['3'], {'k': 'four'}, False),
    ('Bogus', ['3'], {'k': '4'}, False),
])
def test_affinity_operators(operator, values, labels, ok):
    affinity = {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [
        {'matchExpressions': [{'key': 'k', 'operator': operator, 'values': values}]}]}}}
    assert (why_not(pod('p', 'x', affinity=affinity), node('n', labels=labels), False) is None) == ok


def test_affinity_by_node_name_and_terms_are_ored():
    affinity = {'nodeAffinity': {'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [
        {'matchFields': [{'key': 'metadata.name', 'operator': 'In', 'values': ['n2']}]},
        {'matchExpressions': [{'key': 'pool', 'operator': 'In', 'values': ['x']}]}]}}}
    p = pod('p', 'x', affinity=affinity)
    assert why_not(p, node('n2'), False) is None
    assert why_not(p, node('n1', labels={'pool': 'x'}), False) is None
    assert why_not(p, node('n1'), False) == 'required node affinity does not match'


@pytest.mark.parametrize('tolerations, ok', [
    (None, False),
    ([{'key': 'gpu', 'operator': 'Exists'}], True),
    ([{'key': 'gpu', 'value': 'reserved'}], True),
    ([{'key': 'gpu', 'operator': 'Equal', 'value': 'other'}], False),
    ([{'key': 'gpu', 'operator': 'Exists', 'effect': 'NoExecute'}], False),
    ([{'operator': 'Exists'}], True),
    ([{'value': 'reserved'}], False),
])
def test_taints_and_tolerations(tolerations, ok):
    target = node('n', taints=[{'key': 'gpu', 'value': 'reserved', 'effect': 'NoSchedule'},
                               {'key': 'soft', 'effect': 'PreferNoSchedule'}])
    why = why_not(pod('p', 'x', tolerations=tolerations), target, False)
    assert (why is None) == ok
    if not ok:
        assert why == 'taint gpu=reserved:NoSchedule is not tolerated'


def test_cordoned_nodes():
    theirs = node('n', unschedulable=True)
    ours = node('m', unschedulable=True, annotations={CORDON_ANNOTATION: 'true'})
    assert unschedulable_after(theirs, True) and unschedulable_after(theirs, False)
    assert not unschedulable_after(ours, True) and unschedulable_after(ours, False)
    assert why_not(pod('p', 'x'), theirs, True) == 'taint node.kubernetes.io/unschedulable:NoSchedule is not tolerated'
    assert why_not(pod('p', 'x', tolerations=[{'key': 'node.kubernetes.io/unschedulable', 'operator': 'Exists'}]), theirs, True) is None


def test_quota_promised_and_honoured_before_must_stay():
    nodes = [node('a', {MIG1: '7'}), node('b', {MIG1: '7'})]
    quotas = [quota('team-a', **{'requests.nvidia.com_mig-1g.10gb': '6'}), quota('team-b', **{'requests.nvidia.com_mig-1g.10gb': 4}),
              quota('team-c', **{'requests.cpu': '100'})]
    found = capacity_check(nodes, [], quotas, {'a': {MIG3: 2}})
    assert found['resources'][MIG1]['quota'] == 10
    assert found['problems'] == ['nvidia.com/mig-1g.10gb: ResourceQuotas grant 10 (team-a: 6, team-b: 4) and the cluster offers 14 now, 7 after the change']
    # Granted beyond what the fleet ever offered is not a promise this change breaks.
    found = capacity_check(nodes, [], [quota('team-a', **{'requests.nvidia.com_mig-3g.40gb': '9'})], {'a': {MIG3: 2}})
    assert found['problems'] == []


def test_quota_within_what_remains():
    nodes = [node('a', {MIG1: '7'}), node('b', {MIG1: '7'})]
    assert capacity_check(nodes, [], [quota('t', **{'requests.nvidia.com_mig-1g.10gb': '7'})], {'a': {MIG3: 2}})['problems'] == []


def test_pod_requests_counts_init_containers_and_limits():
    p = pod('p', 'a', {MIG1: '2'}, init={MIG1: '3', 'cpu': '1'})
    assert pod_requests(p) == {MIG1: 3}
    assert pod_requests(pod('p', 'a', {MIG1: '2000m'})) == {MIG1: 2}
    assert pod_requests(pod('p', 'a', {MIG1: 0})) == {}


@pytest.mark.parametrize('changes, message', [
    (['a'], 'changes must map node names'),
    ({'z': {}}, 'changes name nodes the cluster does not have: z'),
    ({'a': 3}, 'node a: the resources after the change must be a mapping, got int'),
    ({'a': {'cpu': 1}}, 'node a: cpu are not GPU resources'),
    ({'a': {MIG1: 'many'}}, "a GPU resource count must be a whole number, got 'many'"),
    ({'a': {MIG1: True}}, 'a GPU resource count must be a number, got True'),
])
def test_bad_changes_are_named(changes, message):
    with pytest.raises(CapacityInputError) as raised:
        capacity_check([node('a', {MIG1: '7'})], [], [], changes)
    assert message in str(raised.value)


def test_pods_on_unknown_nodes_and_pending_pods_are_ignored():
    nodes = [node('a', {MIG1: '1'})]
    pods = [pod('pending', None, {MIG1: 5}), pod('elsewhere', 'gone', {MIG1: 5})]
    found = capacity_check(nodes, pods, [], {'a': {MIG1: 1}})
    assert found['problems'] == [] and found['resources'][MIG1]['used'] == 0


def test_a_gpu_precise_drain_spares_the_pods_on_gpus_that_do_not_change():
    # Node a has two GPUs of 7 x 1g.10gb each; GPU 1 changes to 2 x 3g.40gb, GPU 0 stays. The pod on GPU 0 keeps its
    # slice, the pod on GPU 1 must go elsewhere: node b has room for one only.
    nodes = [node('a', {MIG1: '14'}), node('b', {MIG1: '1'})]
    pods = [pod('on-0', 'a', {MIG1: 1}), pod('on-1', 'a', {MIG1: 1}), pod('unknown', 'a', {MIG1: 1})]
    after = {'a': {MIG1: 7, MIG3: 2}}
    node_level = capacity_check(nodes, pods, [], after)
    assert node_level['evicted'] == ['team-a/on-0', 'team-a/on-1', 'team-a/unknown'] and node_level['spared'] == []
    # The kubelet does not say where 'unknown' runs: it counts as evicted, as the drain evicts it.
    precise = capacity_check(nodes, pods, [], after, precise={'a': ([1], {'team-a/on-0': [0], 'team-a/on-1': [1]})})
    assert precise['evicted'] == ['team-a/on-1', 'team-a/unknown'] and precise['spared'] == ['team-a/on-0']
    # The spared pod's slice is taken on node a after the change; the two evicted ones fill b's and one of a's six left.
    assert precise['problems'] == [] and sorted(precise['placed'].values()) == ['a', 'b']
    assert precise['resources'][MIG1] == {'before': 15, 'after': 8, 'used': 3, 'quota': 0}


def test_a_gpu_precise_drain_still_strands_what_the_changing_gpu_held():
    nodes = [node('a', {MIG1: '14'})]
    pods = [pod('on-1-%d' % i, 'a', {MIG1: 1}) for i in range(3)]
    found = capacity_check(nodes, pods, [], {'a': {MIG1: 7, MIG3: 2}},
                           precise={'a': ([1], dict(('team-a/on-1-%d' % i, [1]) for i in range(3)))})
    # GPU 0's seven slices are free after the change: every pod of GPU 1 fits there.
    assert found['problems'] == [] and set(found['placed'].values()) == {'a'}
    full = capacity_check(nodes, pods + [pod('on-0-%d' % i, 'a', {MIG1: 1}) for i in range(6)], [], {'a': {MIG1: 7, MIG3: 2}},
                          precise={'a': ([1], dict([('team-a/on-1-%d' % i, [1]) for i in range(3)]
                                                   + [('team-a/on-0-%d' % i, [0]) for i in range(6)]))})
    assert [entry['pod'] for entry in full['stranded']] == ['team-a/on-1-1', 'team-a/on-1-2']
    assert full['spared'] == ['team-a/on-0-%d' % i for i in range(6)]
