# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet planner's guarantees hold on any small fleet, demand and policy.

Each example is a fleet of one to three nodes (A100-SXM4-40GB, A30 and H100-SXM5-80GB GPUs, each with a random set of
current instances that fits, some busy), pending pods over the profiles of those models, and a policy (move busy
instances or not, a node budget, a frozen node). Whatever the plan: every target layout fits its GPU (the collection's
placement planner accepts it, with the catalog's placements, max counts and media engines), no busy instance is
destroyed or moved unless policy allows it, it serves at least what the current layouts serve, and it changes no more
nodes than the budget and nothing policy leaves alone.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hostile_tally import budget, record

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils._fleetplan import (Demand, Gpu, Instance, Node, PendingPod, Policy, evaluate_layouts,
                                                                              plan_fleet)
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import InstanceSpec
from ansible_collections.gpufleet.mig.plugins.module_utils._planner import PlanError, find_placements

MODELS = ('A100-SXM4-40GB', 'A30', 'H100-SXM5-80GB')


def _fits(model, pinned):
    try:
        return find_placements(model, [InstanceSpec(p, (p,), s) for p, s in pinned]) is not None
    except PlanError:
        return False


@st.composite
def gpus(draw, index):
    model = _catalog.model_by_key(draw(st.sampled_from(MODELS)))
    plain = [p for p in model.gi_profiles if not p.attribute]
    instances = []
    for dummy in range(draw(st.integers(0, 4))):
        profile = draw(st.sampled_from(plain))
        start = draw(st.sampled_from(profile.starts))
        if _fits(model, [(i.profile, i.start) for i in instances] + [(profile.name, start)]):
            busy = draw(st.booleans())
            instances.append(Instance(profile.name, start, ('ns/run-%d-%d' % (index, start),) if busy else ()))
    return Gpu(index, model.key, tuple(instances))


@st.composite
def examples(draw):
    fleet = []
    for number in range(draw(st.integers(1, 3))):
        fleet.append(Node('n%d' % number, tuple(draw(gpus(index)) for index in range(draw(st.integers(1, 2))))))
    names = sorted(set(p.name for key in MODELS for p in _catalog.model_by_key(key).gi_profiles if not p.attribute))
    offered = set(p for node in fleet for gpu in node.gpus for p in _catalog.model_by_key(gpu.model).profile_names)
    wanted = [name for name in names if name in offered]
    pods = tuple(PendingPod('ns/p%d' % number, {draw(st.sampled_from(wanted)): draw(st.integers(1, 2))})
                 for number in range(draw(st.integers(0, 6))))
    policy = Policy(move_busy=draw(st.booleans()), max_nodes_changed=draw(st.one_of(st.none(), st.integers(0, 2))),
                    frozen_nodes=('n0',) if draw(st.booleans()) else (), time_limit_s=30.0)
    return fleet, Demand(pods=pods), policy


@settings(max_examples=budget(60))
@given(examples())
def test_plan_guarantees(example):
    fleet, demand, policy = example
    plan = plan_fleet(fleet, demand, policy)
    record('fleet plan', 'change' if plan.gpus_changed else 'accepted')
    current = dict(((node.name, gpu.index), gpu) for node in fleet for gpu in node.gpus)
    for planned in plan.gpus:
        gpu = current[planned.node, planned.index]
        model = _catalog.model_by_key(gpu.model)
        specs = [InstanceSpec(spec.profile, spec.compute, spec.start) for spec in planned.target.instances]
        assert find_placements(model, specs) is not None, planned
        kept = set((spec.profile, spec.start) for spec in planned.target.instances if spec.start is not None)
        for instance in gpu.instances:
            if instance.busy and instance not in planned.destroyed_busy:
                assert (instance.profile, instance.start) in kept, (planned, instance)
        if not policy.move_busy:
            assert planned.destroyed_busy == ()
        if planned.node in policy.frozen_nodes:
            assert not planned.changed
    assert plan.served_total >= sum(plan.served_before.values())
    if policy.max_nodes_changed is not None:
        assert len(plan.nodes_changed) <= policy.max_nodes_changed
    assert plan.busy_destroyed == sum(len(g.destroyed_busy) for g in plan.gpus)
    assert sum(u.count for u in plan.unmet) == sum(plan.demand.values()) - plan.served_total
    # What the plan says it serves is what its layouts serve.
    assert evaluate_layouts(fleet, demand, plan.layouts(), policy).served_total == plan.served_total
