# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet planner's benchmark (issue 15 part 4), pure Python over ``_fleetplan`` (no simulator).

Seeded synthetic fleets and demands (:func:`synthetic`) at 8, 128 and 1,000 nodes; the planner side by side with

* (a) :func:`greedy`: nos-style, one pending pod's device at a time: a free instance of its profile on a node it may
  use, else the first GPU (node order) where the instances already committed there (busy ones where they are, and those
  given to earlier pods) plus the new one fit; that GPU is repartitioned to exactly those (nos: "without deleting used
  resources");
* (b) :func:`best_uniform`: one named config of the GPU Operator's default mig-parted config per GPU model, applied to
  every GPU of that model that holds no busy instance (mig-manager would destroy them) and that policy does not leave
  alone, the config chosen per model by coordinate ascent on demand served;
* (c) the exact optimum: the same MIP without the aggregation of interchangeable GPUs (each GPU its own variables) and
  without a time limit, at the sizes where it finishes.

Every layout set is scored by ``_fleetplan.evaluate_layouts``, so all sides count demand served the same way.
"""

from __future__ import annotations

import os
import random
import time

import yaml

# pylint: disable=wrong-import-position
from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog, _fleetplan
from ansible_collections.gpufleet.mig.plugins.module_utils._fleetplan import (Demand, Gpu, Instance, Node, PendingPod, Policy, Pool,
                                                                              Quota, evaluate_layouts, plan_fleet)
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import GpuLayout, InstanceSpec
from ansible_collections.gpufleet.mig.plugins.module_utils._planner import PlanError, find_placements

import planning  # noqa: E402

OPERATOR_CONFIG = os.path.join(os.environ.get('NVIDIA_SRC', os.path.join(planning.ROOT, '..', 'shared', 'nvidia')),
                               'gpu-operator-v26.7.0-mig-parted-config.yaml')

# Node kinds: (model, GPUs per node, named configs of the operator's default config that nodes start in).
KINDS = (
    ('A100-SXM4-40GB', 8, ('all-1g.5gb', 'all-balanced', 'all-3g.20gb', 'all-7g.40gb')),
    ('A100-SXM4-80GB', 8, ('all-1g.10gb', 'all-balanced', 'all-2g.20gb', 'all-7g.80gb')),
    ('H100-SXM5-80GB', 8, ('all-1g.10gb', 'all-balanced', 'all-3g.40gb', 'all-7g.80gb')),
    ('A30', 4, ('all-1g.6gb', 'all-balanced', 'all-4g.24gb')),
)
POOLS = (Pool('train', {'pool': 'train'}), Pool('infer', {'pool': 'infer'}))
NAMESPACES = ('team-a', 'team-b', 'team-c', 'team-d')


def operator_config(path=OPERATOR_CONFIG):
    """The mig-parted config inside the GPU Operator's default ConfigMap (``data['config.yaml']``)."""
    with open(path) as handle:
        return yaml.safe_load(yaml.safe_load(handle)['data']['config.yaml'])


def _placed(model, layout):
    return find_placements(model, [InstanceSpec(spec.profile, (spec.profile,)) for spec in layout.instances])


def synthetic(nodes, seed=15, config=None):
    """(fleet, demand, policy): ``nodes`` nodes of the KINDS in named configs, some GPUs busy, pending pods and quotas.

    Half of the nodes are idle, the others run pods on their first k GPUs (every instance of those GPUs busy). Pending
    demand is about three devices per node, drawn over the profiles of the fleet's models; a third of the pods select a
    pool. Two namespaces have quotas that cut some of their pending demand.
    """
    rng = random.Random('%s-%d' % (seed, nodes))
    config = config or operator_config()
    layouts = {}
    fleet = []
    for number in range(nodes):
        key, count, labels = KINDS[rng.randrange(len(KINDS))]
        model = _catalog.model_by_key(key)
        if key not in layouts:
            valid = planning.valid_layouts(model, config, labels)
            layouts[key] = dict((label, _placed(model, valid[label])) for label in labels)
        label = labels[rng.randrange(len(labels))]
        busy_gpus = 0 if rng.random() < 0.5 else rng.randint(1, count)
        gpus = []
        for index in range(count):
            busy = index < busy_gpus
            instances = tuple(Instance(p.profile, p.start, ('%s/run-%d-%d-%d' % (NAMESPACES[(number + index) % 4], number, index, p.start),)
                                       if busy else ()) for p in layouts[key][label])
            gpus.append(Gpu(index, key, instances))
        fleet.append(Node('node-%04d' % number, tuple(gpus), {'pool': POOLS[number % 2].name, 'kind': key}))
    profiles = sorted(set(p.name for node in fleet for gpu in node.gpus for p in _catalog.model_by_key(gpu.model).gi_profiles
                          if not p.attribute and p.compute_slices < 7))
    pods = []
    for number in range(nodes * 3):
        profile = profiles[rng.randrange(len(profiles))]
        selector = {'pool': POOLS[rng.randrange(2)].name} if rng.random() < 0.33 else {}
        pods.append(PendingPod('%s/pending-%d' % (NAMESPACES[number % 4], number), {'nvidia.com/mig-' + profile: 1}, selector))
    quotas = []
    for namespace in NAMESPACES[:2]:
        hard = dict(('requests.nvidia.com/mig-' + p, rng.randint(0, nodes)) for p in profiles[: len(profiles) // 2])
        quotas.append(Quota(namespace, hard))
    return tuple(fleet), Demand(pods=tuple(pods), quotas=tuple(quotas)), Policy(pools=POOLS)


# --------------------------------------------------------------------------------------------------
# (a) nos-style greedy
# --------------------------------------------------------------------------------------------------

def _fits(model, committed):
    try:
        return find_placements(model, [InstanceSpec(p, (p,), s) for p, s in committed]) is not None
    except PlanError:
        return False


def greedy(fleet, demand, policy):
    """Layouts chosen pod by pod, nos-style (see the module docstring). Pods over their quota are skipped, as the planner does."""
    by_resource, valid = _fleetplan._fleet_profiles(fleet)  # pylint: disable=protected-access
    headroom = {}
    used = {}
    for node in fleet:
        for gpu in node.gpus:
            for instance in gpu.instances:
                for pod in instance.pods:
                    used[pod.split('/')[0], instance.profile] = used.get((pod.split('/')[0], instance.profile), 0) + 1
    for quota in demand.quotas:
        for key, value in quota.hard:
            profile = by_resource[key[len('requests.'):]]
            headroom[quota.namespace, profile] = max(0, value - used.get((quota.namespace, profile), 0))
    frozen = set(policy.frozen_nodes)
    state = {}   # (node, index) -> {'free': [(profile, start)], 'committed': [(profile, start|None)], 'changed': bool}
    for node in fleet:
        for gpu in node.gpus:
            state[node.name, gpu.index] = {'free': [(i.profile, i.start) for i in gpu.instances if not i.busy],
                                           'committed': [(i.profile, i.start) for i in gpu.instances if i.busy], 'changed': False}
    changed_nodes = set()
    for pod in demand.pods:
        for key, count in pod.requests:
            profile = by_resource.get(key, key)
            for dummy in range(count):
                limit = headroom.get((pod.namespace, profile))
                if limit is not None:
                    if limit <= 0:
                        continue
                    headroom[pod.namespace, profile] = limit - 1
                _greedy_place(fleet, pod, profile, state, frozen, policy, changed_nodes)
    layouts = {}
    for node in fleet:
        for gpu in node.gpus:
            entry = state[node.name, gpu.index]
            if entry['changed']:
                layouts.setdefault(node.name, {})[gpu.index] = GpuLayout(True, tuple(InstanceSpec(p, (p,), s) for p, s in entry['committed']))
    return layouts


def _greedy_place(fleet, pod, profile, state, frozen, policy, changed_nodes):
    eligible = [node for node in fleet if _fleetplan._in_scope(node, pod.scope)]  # pylint: disable=protected-access
    for node in eligible:
        for gpu in node.gpus:
            entry = state[node.name, gpu.index]
            for position, (name, start) in enumerate(entry['free']):
                if name == profile:
                    entry['committed'].append(entry['free'].pop(position))
                    return True
    for node in eligible:
        if node.name in frozen:
            continue
        if policy.max_nodes_changed is not None and node.name not in changed_nodes and len(changed_nodes) >= policy.max_nodes_changed:
            continue
        for gpu in node.gpus:
            model = _catalog.model_by_key(gpu.model)
            if profile not in model.profile_names:
                continue
            entry = state[node.name, gpu.index]
            if _fits(model, entry['committed'] + [(profile, None)]):
                entry['committed'].append((profile, None))
                entry['free'] = []
                entry['changed'] = True
                changed_nodes.add(node.name)
                return True
    return False


# --------------------------------------------------------------------------------------------------
# (b) the best single uniform layout per model
# --------------------------------------------------------------------------------------------------

def _served(fleet, demand, policy, layouts):
    """Demand served by given layouts: ``evaluate_layouts`` without the plan around it (the search below scores many)."""
    run = _fleetplan._run(fleet, demand, policy, fixed=_fleetplan._fixed(fleet, layouts))  # pylint: disable=protected-access
    return sum(_fleetplan._served(run).values())  # pylint: disable=protected-access


def best_uniform(fleet, demand, policy, config=None, passes=2):
    """({model: label}, layouts): one operator config label per model, on every GPU of it without busy instances."""
    config = config or operator_config()
    models = sorted(set(gpu.model for node in fleet for gpu in node.gpus))
    options = dict((key, planning.valid_layouts(_catalog.model_by_key(key), config)) for key in models)
    for key in models:
        options[key] = dict((label, layout) for label, layout in options[key].items() if layout.mig_enabled and layout.instances)
    choice = dict((key, None) for key in models)
    frozen = set(policy.frozen_nodes)

    def layouts_for(choice):
        result = {}
        for node in fleet:
            if node.name in frozen:
                continue
            for gpu in node.gpus:
                label = choice[gpu.model]
                if label is None or any(i.busy for i in gpu.instances):
                    continue
                result.setdefault(node.name, {})[gpu.index] = options[gpu.model][label]
        return result

    best_score = _served(fleet, demand, policy, layouts_for(choice))
    for dummy in range(passes):
        improved = False
        for key in models:
            for label in sorted(options[key]):
                trial = dict(choice, **{key: label})
                score = _served(fleet, demand, policy, layouts_for(trial))
                if score > best_score:
                    best_score, choice, improved = score, trial, True
        if not improved:
            break
    return choice, layouts_for(choice)


# --------------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------------

def _figures(plan):
    return {'served': plan.served_total, 'nodes_changed': len(plan.nodes_changed), 'gpus_changed': plan.gpus_changed,
            'busy_destroyed': plan.busy_destroyed, 'fragmentation': plan.fragmentation}


def compare(nodes, exact_limit=8, seed=15):
    """Planner, greedy, best uniform layout and (up to ``exact_limit`` nodes) the exact optimum on one synthetic fleet."""
    config = operator_config()
    fleet, demand, policy = synthetic(nodes, seed, config)
    clock = time.process_time
    started = clock()
    plan = plan_fleet(fleet, demand, policy)
    cpu = clock() - started
    result = {'nodes': nodes, 'gpus': sum(len(n.gpus) for n in fleet), 'demand': sum(plan.demand.values()),
              'servable': sum(plan.demand.values()) - sum(u.count for u in plan.unmet if 'ResourceQuota' in u.reason),
              'before': sum(plan.served_before.values()), 'planner': _figures(plan), 'planner_cpu_s': cpu, 'optimal': plan.optimal,
              'gap': plan.gap, 'stats': dict(plan.stats, stages=dict(plan.stats['stages']))}
    result['greedy'] = _figures(evaluate_layouts(fleet, demand, greedy(fleet, demand, policy), policy))
    choice, layouts = best_uniform(fleet, demand, policy, config, passes=2 if nodes <= 128 else 1)
    result['uniform'] = _figures(evaluate_layouts(fleet, demand, layouts, policy))
    result['uniform_labels'] = choice
    if nodes <= exact_limit:
        patient = Policy(pools=policy.pools, time_limit_s=3600.0)
        started = clock()
        exact = _fleetplan._plan_of(  # pylint: disable=protected-access
            _fleetplan._run(fleet, demand, patient, aggregate=False, exact=True), policy, plan.served_before)  # pylint: disable=protected-access
        result['exact'] = _figures(exact)
        result['exact_cpu_s'] = clock() - started
        result['exact_optimal'] = exact.optimal
        # The heuristic mode of large fleets, forced on this one: its gap to the exact optimum.
        heuristic = _fleetplan._plan_of(  # pylint: disable=protected-access
            _fleetplan._run(fleet, demand, policy, exact=False), policy, plan.served_before)  # pylint: disable=protected-access
        result['heuristic'] = _figures(heuristic)
    return result
