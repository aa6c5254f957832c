# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for the fleet planner: each rule of the objective, the policy, the demand and the explanations."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils import _fleetplan
from ansible_collections.gpufleet.mig.plugins.module_utils._fleetplan import (DeclaredTarget, Demand, FleetPlanError, Gpu, Instance, Node,
                                                                              PendingPod, Policy, Pool, Quota, evaluate_layouts, plan_fleet)
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import GpuLayout, InstanceSpec

A100 = 'A100-SXM4-40GB'
FULL = (Instance('7g.40gb', 0),)


def node(name, gpus=2, instances=FULL, labels=None, model=A100):
    return Node(name, tuple(Gpu(index, model, instances) for index in range(gpus)), labels or {})


def pods(count, resource, namespace='ns', selector=None, first=0):
    return tuple(PendingPod('%s/p%d' % (namespace, first + number), {resource: 1}, selector or {}) for number in range(count))


def profiles(layout):
    return sorted(spec.profile for spec in layout.instances)


def test_serves_a_profile_no_node_offers_by_changing_one_gpu():
    fleet = [node('n1'), node('n2')]
    plan = plan_fleet(fleet, Demand(pods=pods(2, 'nvidia.com/mig-3g.20gb')))
    assert plan.served == {'3g.20gb': 2}
    assert plan.served_before == {'3g.20gb': 0}
    assert plan.unmet == ()
    assert plan.nodes_changed == ('n1',)
    assert plan.gpus_changed == 1   # two 3g.20gb fit on one A100-40GB
    layouts = plan.layouts()
    assert list(layouts) == ['n1'] and list(layouts['n1']) == [0]
    assert profiles(layouts['n1'][0]) == ['3g.20gb', '3g.20gb']
    assert plan.optimal and plan.stats['stages']['exact']


def test_free_instances_serve_without_change():
    fleet = [node('n1', instances=(Instance('3g.20gb', 0), Instance('3g.20gb', 4)))]
    plan = plan_fleet(fleet, Demand(pods=pods(2, '3g.20gb')))
    assert plan.served == plan.served_before == {'3g.20gb': 2}
    assert plan.gpus_changed == 0 and plan.nodes_changed == ()


def test_fewest_gpus_then_least_carved():
    plan = plan_fleet([node('n1', gpus=4)], Demand(pods=pods(3, '1g.5gb')))
    assert plan.gpus_changed == 1
    changed = [g for g in plan.gpus if g.changed]
    # Only what is asked is carved; the rest of the GPU stays free and contiguous.
    assert profiles(changed[0].target) == ['1g.5gb'] * 3
    assert changed[0].fragmentation == 0


def test_fewest_nodes_before_fewest_gpus():
    # n1 has two GPUs that could each take one 4g.20gb; n2 one GPU with room for a 3g beside its busy 4g (start 0).
    busy = (Instance('4g.20gb', 0, ('ns/run',)),)
    fleet = [node('n1', gpus=1), node('n2', gpus=1, instances=busy)]
    plan = plan_fleet(fleet, Demand(pods=pods(1, '3g.20gb')))
    assert plan.served == {'3g.20gb': 1}
    assert len(plan.nodes_changed) == 1 and plan.gpus_changed == 1


def test_busy_instances_stay_without_move_busy():
    busy = (Instance('7g.40gb', 0, ('ns/run',)),)
    plan = plan_fleet([node('n1', gpus=1, instances=busy)], Demand(pods=pods(3, '1g.5gb')))
    assert plan.served == {'1g.5gb': 0}
    assert plan.busy_destroyed == 0 and plan.gpus_changed == 0
    assert len(plan.unmet) == 1
    assert str(plan.unmet[0]).startswith('3 x 1g.5gb cannot be placed: pods with node selector any node: ')
    assert 'hold busy instances that stay where they are' in plan.unmet[0].reason


def test_busy_instance_keeps_its_placement_in_a_changed_gpu():
    busy = (Instance('3g.20gb', 4, ('ns/run',)), Instance('3g.20gb', 0))
    plan = plan_fleet([node('n1', gpus=1, instances=busy)], Demand(pods=pods(4, '1g.5gb')))
    target = plan.gpus[0].target
    assert ('3g.20gb', 4) in [(spec.profile, spec.start) for spec in target.instances]
    assert plan.served == {'1g.5gb': 4}
    assert plan.busy_destroyed == 0


def test_move_busy_destroys_only_when_it_serves_more():
    busy = (Instance('7g.40gb', 0, ('ns/run',)),)
    fleet = [node('n1', gpus=1, instances=busy)]
    demand = Demand(pods=pods(7, '1g.5gb'))
    plan = plan_fleet(fleet, demand, Policy(move_busy=True))
    assert plan.busy_destroyed == 1 and plan.evicted_pods == ('ns/run',)
    assert plan.served == {'1g.5gb': 7}
    assert plan.gpus[0].destroyed_busy == busy
    # One pending device does not outweigh the running pod: nothing moves.
    plan = plan_fleet(fleet, Demand(pods=pods(1, '1g.5gb')), Policy(move_busy=True))
    assert plan.busy_destroyed == 0 and plan.gpus_changed == 0


def test_move_busy_counts_each_destroyed_instance():
    # Two busy instances of one profile on one GPU: destroying both would cost two running pods.
    busy = (Instance('1g.5gb', 0, ('ns/a',)), Instance('1g.5gb', 1, ('ns/b',)))
    fleet = [node('n1', gpus=1, instances=busy), node('n2', gpus=1, instances=(Instance('1g.5gb', 0),))]
    plan = plan_fleet(fleet, Demand(pods=pods(1, '1g.5gb')), Policy(move_busy=True))
    assert plan.served == plan.served_before == {'1g.5gb': 1}
    assert plan.busy_destroyed == 0 and plan.gpus_changed == 0
    plan = plan_fleet(fleet[:1], Demand(pods=pods(1, '1g.5gb')), Policy(move_busy=True))
    assert plan.served == {'1g.5gb': 1} and plan.busy_destroyed == 0
    assert evaluate_layouts(fleet[:1], Demand(pods=pods(1, '1g.5gb')), plan.layouts()).served == plan.served


def test_move_busy_serves_evicted_pods_again_in_their_pool():
    busy = (Instance('7g.40gb', 0, ('ns/run',)),)
    fleet = [node('n1', gpus=1, instances=busy, labels={'pool': 'a'}), node('n2', gpus=1, labels={'pool': 'a'})]
    policy = Policy(pools=(Pool('a', {'pool': 'a'}),), move_busy=True)
    plan = plan_fleet(fleet, Demand(pods=pods(7, '1g.5gb')), policy)
    # Serving 7 x 1g on n2 keeps the busy 7g: nothing is destroyed.
    assert plan.served == {'1g.5gb': 7} and plan.busy_destroyed == 0


def test_max_nodes_changed_caps_the_plan_and_explains():
    fleet = [node('n1', gpus=1), node('n2', gpus=1)]
    plan = plan_fleet(fleet, Demand(pods=pods(4, '3g.20gb')), Policy(max_nodes_changed=1))
    assert len(plan.nodes_changed) == 1
    assert plan.served == {'3g.20gb': 2}
    assert 'the plan already changes the 1 nodes that max_nodes_changed allows' in plan.unmet[0].reason
    assert plan.unmet[0].count == 2


def test_frozen_nodes_and_gpus_are_left_alone():
    fleet = [node('n1', gpus=2), node('n2', gpus=1)]
    plan = plan_fleet(fleet, Demand(pods=pods(2, '3g.20gb')), Policy(frozen_nodes=('n1',)))
    assert plan.nodes_changed == ('n2',)
    plan = plan_fleet(fleet, Demand(pods=pods(2, '3g.20gb')), Policy(frozen_nodes=('n2',), frozen_gpus=(('n1', 0),)))
    assert [(g.node, g.index) for g in plan.gpus if g.changed] == [('n1', 1)]
    plan = plan_fleet(fleet, Demand(pods=pods(1, '3g.20gb')), Policy(frozen_nodes=('n1', 'n2')))
    assert plan.served == {'3g.20gb': 0}
    assert 'policy leaves alone every GPU that could offer it' in plan.unmet[0].reason


def test_quota_caps_what_is_worth_serving():
    busy = (Instance('3g.20gb', 0, ('team/run',)), Instance('3g.20gb', 4))
    fleet = [node('n1', gpus=1, instances=busy), node('n2', gpus=1)]
    quota = Quota('team', {'requests.nvidia.com/mig-3g.20gb': 2, 'requests.cpu': 9})
    plan = plan_fleet(fleet, Demand(pods=pods(3, 'nvidia.com/mig-3g.20gb', namespace='team'), quotas=(quota,)))
    # Hard 2, one used by the running pod: one pending pod is worth serving (the free 3g.20gb serves it, no change).
    assert plan.served == {'3g.20gb': 1}
    assert plan.gpus_changed == 0
    assert plan.demand == {'3g.20gb': 3}
    assert [str(u) for u in plan.unmet] == [
        '2 x 3g.20gb cannot be placed: namespace team is over its ResourceQuota requests.nvidia.com/mig-3g.20gb (1 used by running pods)']


def test_node_selector_limits_where_pods_are_served():
    fleet = [node('a1', gpus=1, labels={'pool': 'a'}), node('b1', gpus=1, labels={'pool': 'b'})]
    plan = plan_fleet(fleet, Demand(pods=pods(1, '3g.20gb', selector={'pool': 'b'})))
    assert plan.nodes_changed == ('b1',)
    plan = plan_fleet(fleet, Demand(pods=pods(1, '3g.20gb', selector={'pool': 'c'})))
    assert plan.unmet[0].reason.endswith('no node matches {pool=c}')


def test_the_nodes_a_pod_may_have_limit_where_it_is_served():
    # What a pod's required node affinity and tolerations allow (decided by the caller), beside its node selector.
    fleet = [node('a1', gpus=1, labels={'pool': 'a'}), node('a2', gpus=1, labels={'pool': 'a'})]
    plan = plan_fleet(fleet, Demand(pods=(PendingPod('ns/p', {'3g.20gb': 1}, {'pool': 'a'}, nodes=['a2']),)))
    assert plan.nodes_changed == ('a2',) and plan.served == {'3g.20gb': 1}
    # Pods of one selector with and without such limits are two demands; both are served.
    both = (PendingPod('ns/p', {'3g.20gb': 1}, {'pool': 'a'}, nodes=('a2',)), PendingPod('ns/q', {'3g.20gb': 1}, {'pool': 'a'}))
    assert plan_fleet(fleet, Demand(pods=both)).served == {'3g.20gb': 2}
    plan = plan_fleet(fleet, Demand(pods=(PendingPod('ns/p', {'3g.20gb': 1}, {'pool': 'a'}, nodes=()),)))
    assert plan.nodes_changed == () and plan.unmet[0].reason == (
        'pods with node selector {pool=a}, on the nodes their node affinity and tolerations allow (none): '
        'no node matches {pool=a}, on the nodes their node affinity and tolerations allow (none)')
    with pytest.raises(FleetPlanError, match="nodes of pod 'ns/p' must be a collection of node names or None, got 'a2'"):
        PendingPod('ns/p', {'3g.20gb': 1}, nodes='a2')


def test_declared_target_per_pool():
    fleet = [node('a1', gpus=1, labels={'pool': 'a'}), node('b1', gpus=1, labels={'pool': 'b'})]
    policy = Policy(pools=(Pool('a', {'pool': 'a'}), Pool('b', {'pool': 'b'})))
    plan = plan_fleet(fleet, Demand(targets=(DeclaredTarget('b', '2g.10gb', 3),)), policy)
    assert plan.served == {'2g.10gb': 3}
    assert plan.nodes_changed == ('b1',)
    plan = plan_fleet(fleet, Demand(targets=(DeclaredTarget('b', '2g.10gb', 4),)), policy)
    assert plan.served == {'2g.10gb': 3}   # at most three 2g.10gb fit on an A100-40GB
    assert plan.unmet[0].reason.startswith('declared target of pool b: ')


def test_model_without_the_profile_explains():
    fleet = [node('a30', gpus=1, model='A30', instances=(Instance('4g.24gb', 0),), labels={'kind': 'a30'}), node('a100', gpus=1)]
    plan = plan_fleet(fleet, Demand(pods=pods(1, '3g.20gb', selector={'kind': 'a30'})))
    assert 'no GPU model on the nodes matching {kind=a30} offers it (their models: A30)' in plan.unmet[0].reason


@pytest.mark.parametrize('demand, policy, fleet, message', [
    (Demand(pods=pods(1, 'nvidia.com/mig-9g.1gb')), Policy(), None, "pod ns/p0: unknown MIG profile or resource 'nvidia.com/mig-9g.1gb'; valid: 1g.10gb"),
    (Demand(pods=pods(1, '3g.40gb')), Policy(), None, 'pod ns/p0: 3g.40gb is demand no GPU model of the fleet can serve (offered by'),
    (Demand(pods=(PendingPod('ns/x', {'3g.20gb': 0}),)), Policy(), None, 'request 3g.20gb must be a whole number, 1 or more; got 0'),
    (Demand(targets=(DeclaredTarget('z', '3g.20gb', 1),)), Policy(), None, "no node is in pool 'z'"),
    (Demand(), Policy(pools=(Pool('a', {}), Pool('b', {}))), None, "node 'n1' matches pools a and b"),
    (Demand(), Policy(pools=(Pool('a', {}), Pool('a', {'x': 'y'}))), None, 'pool names must be unique'),
    (Demand(), Policy(frozen_nodes=('zz',)), None, "frozen node 'zz' is not in the fleet; nodes: n1"),
    (Demand(), Policy(frozen_gpus=(('n1', 7),)), None, "frozen GPU ('n1', 7) is not in the fleet"),
    (Demand(), Policy(max_nodes_changed=-1), None, 'max_nodes_changed must be a whole number of nodes, 0 or more, or None; got -1'),
    (Demand(), Policy(), [node('n1', model='Z100')], "node n1 GPU 0: unknown GPU model 'Z100'; valid models: "),
    (Demand(), Policy(), [node('n1', instances=(Instance('4g.20gb', 0), Instance('3g.20gb', 0)))], 'overlaps another current instance'),
    (Demand(), Policy(), [node('n1', instances=(Instance('3g.20gb', 2),))], '3g.20gb cannot start at memory slice 2; valid starts: 0, 4'),
    (Demand(quotas=(Quota('ns', {'requests.nvidia.com/mig-3g.20gb': -1}),)), Policy(), None, 'must be a whole number, 0 or more; got -1'),
])
def test_bad_input_names_the_value(demand, policy, fleet, message):
    with pytest.raises(FleetPlanError) as error:
        plan_fleet(fleet or [node('n1')], demand, policy)
    assert message in str(error.value)


def test_fragmentation_counts_free_slices_outside_the_largest_block():
    fragmentation = _fleetplan._fragmentation  # pylint: disable=protected-access
    assert fragmentation(8, [(0, 1), (2, 1)]) == 1
    assert fragmentation(8, [(0, 4)]) == 0
    assert fragmentation(8, [(1, 1), (4, 4)]) == 1
    assert fragmentation(8, []) == 0


def test_evaluate_layouts_scores_given_layouts_like_a_plan():
    fleet = [node('n1', gpus=2)]
    demand = Demand(pods=pods(3, '3g.20gb'))
    layouts = {'n1': {0: GpuLayout(True, (InstanceSpec('3g.20gb', ('3g.20gb',)), InstanceSpec('3g.20gb', ('3g.20gb',))))}}
    scored = evaluate_layouts(fleet, demand, layouts)
    assert scored.served == {'3g.20gb': 2} and scored.gpus_changed == 1
    assert scored.served_before == {'3g.20gb': 0}
    # The current layout, given back, is no change.
    same = evaluate_layouts(fleet, demand, {'n1': {1: GpuLayout(True, (InstanceSpec('7g.40gb', ('7g.40gb',)),))}})
    assert same.gpus_changed == 0
    with pytest.raises(FleetPlanError, match='does not fit'):
        evaluate_layouts(fleet, demand, {'n1': {0: GpuLayout(True, (InstanceSpec('7g.40gb', ('7g.40gb',)),) * 2)}})


def _mixed_fleet():
    fleet = []
    for number in range(6):
        busy = number % 3 == 0
        instances = (Instance('3g.20gb', 0, ('ns/r%d' % number,) if busy else ()), Instance('3g.20gb', 4))
        fleet.append(Node('n%d' % number, (Gpu(0, A100, instances), Gpu(1, A100, FULL), Gpu(2, 'A30', (Instance('2g.12gb', 0),))),
                          {'pool': 'a' if number < 3 else 'b'}))
    demand = Demand(pods=pods(5, '1g.5gb') + pods(4, '2g.10gb', selector={'pool': 'b'}, first=10) + pods(3, '1g.6gb', first=20))
    return fleet, demand


def test_aggregation_is_exact():
    fleet, demand = _mixed_fleet()
    policy = Policy(pools=(Pool('a', {'pool': 'a'}), Pool('b', {'pool': 'b'})))
    run = _fleetplan._run  # pylint: disable=protected-access
    aggregated = run(fleet, demand, policy)
    separate = run(fleet, demand, policy, aggregate=False)
    assert aggregated[6] and len(aggregated[6]) < len(separate[6])   # fewer node classes
    assert aggregated[11] == separate[11]   # every stage's optimum


def test_heuristic_mode_serves_as_much_as_exact_mode():
    fleet, demand = _mixed_fleet()
    run = _fleetplan._run  # pylint: disable=protected-access
    exact = _fleetplan._plan_of(run(fleet, demand, Policy(), exact=True), Policy(), {})  # pylint: disable=protected-access
    heuristic = _fleetplan._plan_of(run(fleet, demand, Policy(), exact=False), Policy(), {})  # pylint: disable=protected-access
    assert heuristic.stats['stages']['exact'] is False
    assert heuristic.served == exact.served
    assert heuristic.busy_destroyed == exact.busy_destroyed == 0
    assert len(heuristic.nodes_changed) >= len(exact.nodes_changed)
    # What the plan says it serves is what its layouts serve.
    for plan in (exact, heuristic):
        assert evaluate_layouts(fleet, demand, plan.layouts()).served == plan.served


def test_explain_reads_as_sentences():
    plan = plan_fleet([node('n1', gpus=1)], Demand(pods=pods(3, '3g.20gb')))
    assert plan.explain() == [
        '3g.20gb: 2 of 3 served (0 before)',
        '1 x 3g.20gb cannot be placed: pods with node selector any node: no layout of the 1 GPUs of the nodes matching any node that may '
        'change serves more of it without serving less other demand',
        '1 nodes and 1 GPUs change; 0 busy instances destroyed; fragmentation 0 free slices outside the largest free block',
    ]
