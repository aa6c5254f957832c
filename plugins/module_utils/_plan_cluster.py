# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The fleet planner at the edge: its input from the cluster's API objects and gpu_info facts, its plan as plain data.

Pure (no cluster access), so ``mig_plan`` stays thin: :func:`fleet_input` turns Nodes, Pods and ResourceQuotas (as the
API returns them), each node's gpu_info ``node.gpus`` and, where read, each node's pod-resources answer into the
planner's ``Node``/``Demand``; :func:`plan_data` turns a ``FleetPlan`` into what the module returns, with slot diagrams
drawn by ``_diagram``.

What the cluster does not tell (each also said where it is decided):

* Which MIG device a running pod holds: the API server only knows that a pod on a node requests
  ``nvidia.com/mig-<profile>``; the device is the kubelet's choice. Where the node's pod-resources answer
  (``gpufleet.mig.pod_resources``) is given, a pod it places marks exactly the GPU instances it holds
  (``_podresources.pods_to_instances``). [UNC] The pods it does not cover (no answer, API not available, a device
  gpu_info does not know) are spread over the node's remaining instances of their profile, those with processes
  (gpu_info ``processes``) first, then by GPU index and start: the count of busy instances per node and profile is
  right, which of two same-profile instances is busy may not be. The result says per node which it was (``busy``).
* Only the ``mixed`` strategy's ``nvidia.com/mig-*`` resources are demand and busy work: under ``single`` a pod asks
  for ``nvidia.com/gpu`` and nothing says which profile it needs.
* A pending pod is served only on the planned nodes the scheduler may give it: its nodeSelector, required node
  affinity and the node's taints against its tolerations, decided by ``_capacity.why_not`` (as for the capacity
  check; a cordon of the rollout's own does not count, it ends with the rollout). Node labels are taken as they are now.
"""

from __future__ import annotations

import collections
import hashlib
import json
from collections.abc import Mapping

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils._capacity import CapacityInputError, gpu_quota_hard, pod_requests, why_not
from ansible_collections.gpufleet.mig.plugins.module_utils._diagram import gpu_slots, slot_changes, slots_text
from ansible_collections.gpufleet.mig.plugins.module_utils._drain import pod_name, pod_resources_unread
from ansible_collections.gpufleet.mig.plugins.module_utils._fleetplan import (
    DeclaredTarget, Demand, FleetPlanError, Gpu, Instance, Node, PendingPod, Policy, Pool, Quota,
)
from ansible_collections.gpufleet.mig.plugins.module_utils._planner import PlanError, find_placements
from ansible_collections.gpufleet.mig.plugins.module_utils._podresources import pods_to_instances
from ansible_collections.gpufleet.mig.plugins.module_utils._resources import MIG_RESOURCE_PREFIX, mig_resource_name

__all__ = ('CONFIG_LABEL', 'CONFIG_PREFIX', 'fleet_input', 'plan_data', 'planned_configs', 'policy_of')

_FINISHED = ('Succeeded', 'Failed')
# The GPU Operator's label naming a node's MIG config; the rollout reads it (roles/mig_rollout/tasks/preflight.yml).
CONFIG_LABEL = 'nvidia.com/mig.config'
CONFIG_PREFIX = 'gpufleet-plan-'


def _mig_requests(pod, where):
    try:
        requests = pod_requests(pod)
    except CapacityInputError as exc:
        raise FleetPlanError('%s: %s' % (where, exc)) from exc
    return dict((key, count) for key, count in requests.items() if key.startswith(MIG_RESOURCE_PREFIX))


def _gpu_of(node, entry):
    """The planner's Gpu for a gpu_info GPU entry, or None for a GPU without MIG."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get('index'), int):
        raise FleetPlanError('gpu_facts of node %s: expected gpu_info GPU entries (with index), got %r' % (node, entry))
    if not entry.get('mig_capable'):
        return None
    where = 'node %s GPU %s' % (node, entry['index'])
    if not entry.get('model'):
        raise FleetPlanError('%s (%s): the collection\'s GPU catalog does not know this model, so it cannot be planned'
                             % (where, entry.get('name') or 'no name'))
    instances = []
    for instance in entry.get('gpu_instances') or ():
        placement = instance.get('placement') or {} if isinstance(instance, Mapping) else {}
        if not isinstance(instance, Mapping) or not instance.get('profile') or not isinstance(placement.get('start'), int):
            raise FleetPlanError('%s: GPU instance %r has no profile or placement.start (gpu_info gpu_instances)' % (where, instance))
        instances.append((instance['profile'], placement['start'], instance.get('id')))
    mig = (entry.get('mig_mode') or {}).get('current')
    return {'index': entry['index'], 'model': entry['model'], 'instances': instances, 'mig_enabled': bool(mig),
            'with_processes': set(p.get('gpu_instance_id') for p in entry.get('processes') or () if isinstance(p, Mapping))}


def _kubelet_placements(node, answer, entries):
    """``({pod: [(GPU index, start)]}, None)`` from a node's ``pod_resources`` result, or ``({}, why not)``.

    FleetPlanError when ``answer`` is not such a result. A pod listed with MIG devices gpu_info does not know is left out.
    """
    if answer is None:
        return {}, 'no pod_resources answer for this node'
    where = 'pod_resources of node %s' % node
    if not isinstance(answer, Mapping):
        raise FleetPlanError('%s must be the result of gpufleet.mig.pod_resources, got %r' % (where, answer))
    unread = pod_resources_unread(answer)
    if unread:
        return {}, unread
    pods = answer.get('pods')
    if not isinstance(pods, Mapping) or not all(
            isinstance(resources, Mapping) and all(isinstance(ids, list) for ids in resources.values()) for resources in pods.values()):
        raise FleetPlanError('%s must be the result of gpufleet.mig.pod_resources (pods: pod -> resource -> device ids); '
                             'got pods=%r' % (where, pods))
    return pods_to_instances(pods, entries)[0], None


def _busy(node, gpus, pods, placed):
    """``({(GPU index, start): pod names}, guessed pod names)``: each running pod on the instances ``placed`` (the
    kubelet's answer) says it holds, the others spread over the remaining instances (see the module docstring)."""
    instances = set((gpu['index'], start) for gpu in gpus for dummy, start, dummy2 in gpu['instances'])
    busy = collections.defaultdict(list)
    held = collections.defaultdict(list)
    for pod in sorted(pods, key=pod_name):
        requests = _mig_requests(pod, 'pod %s' % pod_name(pod))
        known = placed.get(pod_name(pod))
        if requests and known and instances.issuperset(known):
            for place in known:
                busy[place].append(pod_name(pod))
            continue
        for resource, count in sorted(requests.items()):
            held[resource].extend([pod_name(pod)] * count)
    guessed = sorted(set(name for names in held.values() for name in names))
    for resource, names in sorted(held.items()):
        slots = []
        for gpu in gpus:
            model = _catalog.model_by_key(gpu['model'])
            for profile, start, gi_id in gpu['instances']:
                if (gpu['index'], start) in busy:
                    continue   # the kubelet gave it to a pod
                try:
                    name = mig_resource_name(model.resolve_profile(profile)[0].name)
                except (_catalog.UnknownProfileError, ValueError):
                    continue   # the planner names an unknown profile when it reads the instance
                if name == resource:
                    slots.append((gi_id not in gpu['with_processes'], gpu['index'], start))
        # More pods than instances: the node advertises devices that gpu_info did not see; the rest hold nothing known.
        for (dummy, index, start), name in zip(sorted(slots), names):
            busy[index, start].append(name)
    return busy, guessed


def _admitted_nodes(pod, by_name, planned):
    """The planned nodes the scheduler may give a pending pod (node selector, required node affinity, taints), or None
    when that is every planned node its node selector matches (which the planner tests itself)."""
    selector = (pod.get('spec') or {}).get('nodeSelector') or {}
    selected = [name for name in planned
                if all(((by_name[name].get('metadata') or {}).get('labels') or {}).get(key) == value for key, value in selector.items())]
    # changing=True: a cordon of the rollout's own ends when the rollout that applies the plan is done with the node.
    admitted = tuple(name for name in selected if why_not(pod, by_name[name], True) is None)
    return None if len(admitted) == len(selected) else admitted


def fleet_input(nodes, pods, quotas, gpu_facts, pod_resources=None, busy_sources=None):
    """The planner's fleet (Nodes) and demand (a Demand without targets) from API objects and gpu_info facts.

    ``gpu_facts``: ``{node name: gpu_info node.gpus}``; only those nodes are planned. ``pod_resources``: ``{node name:
    gpufleet.mig.pod_resources result}``, the kubelet's answer of each node it covers (see :func:`_busy`).
    ``busy_sources``, a dict when given, receives per planned node ``{'known': bool, 'reason': why guessed or None,
    'guessed': pods spread, 'instances': [{'gpu', 'start', 'profile', 'pods'}]}``: its busy instances and whether they
    are what the kubelet says or guessed.
    FleetPlanError names a node the cluster does not have and malformed facts or answers.
    """
    by_name = dict((node['metadata']['name'], node) for node in nodes)
    unknown = sorted(name for name in gpu_facts if name not in by_name)
    if unknown:
        raise FleetPlanError('gpu_facts name nodes the cluster does not have: %s' % ', '.join(unknown))
    pod_resources = pod_resources or {}
    strays = sorted(name for name in pod_resources if name not in gpu_facts)
    if strays:
        raise FleetPlanError('pod_resources name nodes that gpu_facts does not plan: %s; planned: %s'
                             % (', '.join(strays), ', '.join(sorted(gpu_facts)) or 'none'))
    running = collections.defaultdict(list)
    pending = []
    for pod in pods:
        spec, status = pod.get('spec') or {}, pod.get('status') or {}
        if status.get('phase') in _FINISHED or (pod.get('metadata') or {}).get('deletionTimestamp'):
            continue
        if spec.get('nodeName'):
            running[spec['nodeName']].append(pod)
        else:
            requests = _mig_requests(pod, 'pod %s' % pod_name(pod))
            if requests:
                pending.append(PendingPod(pod_name(pod), requests, spec.get('nodeSelector') or {},
                                          _admitted_nodes(pod, by_name, sorted(gpu_facts))))
    fleet = []
    for name in sorted(gpu_facts):
        entries = gpu_facts[name]
        if not isinstance(entries, list):
            raise FleetPlanError('gpu_facts of node %s must be the list gpu_info returns as node.gpus, got %s' % (name, type(entries).__name__))
        gpus = [gpu for gpu in (_gpu_of(name, entry) for entry in entries) if gpu is not None]
        placed, why_guessed = _kubelet_placements(name, pod_resources.get(name), entries)
        busy, guessed = _busy(name, gpus, running.get(name, ()), placed)
        if busy_sources is not None:
            if guessed and why_guessed is None:
                why_guessed = 'the kubelet places no known GPU instance for %s' % ', '.join(guessed)
            busy_sources[name] = {'known': not guessed, 'reason': why_guessed if guessed else None, 'guessed': guessed,
                                  'instances': [{'gpu': gpu['index'], 'start': start, 'profile': profile, 'pods': busy[gpu['index'], start]}
                                                for gpu in gpus for profile, start, dummy in gpu['instances'] if busy.get((gpu['index'], start))]}
        fleet.append(Node(name, tuple(
            Gpu(gpu['index'], gpu['model'], tuple(Instance(profile, start, tuple(busy.get((gpu['index'], start), ())))
                                                  for profile, start, dummy in gpu['instances']), gpu['mig_enabled'])
            for gpu in gpus), (by_name[name].get('metadata') or {}).get('labels') or {}))
    # Kubernetes enforces every quota of a namespace: the lowest hard limit of each resource is the one that binds.
    hard = collections.defaultdict(dict)
    for quota in quotas:
        namespace = (quota.get('metadata') or {}).get('namespace') or 'default'
        try:
            limits = gpu_quota_hard(quota)
        except CapacityInputError as exc:
            raise FleetPlanError('ResourceQuota %s/%s: %s' % (namespace, quota['metadata'].get('name'), exc)) from exc
        for key, count in limits.items():
            hard[namespace][key] = min(count, hard[namespace].get(key, count))
    return fleet, Demand(pods=tuple(sorted(pending, key=lambda p: p.name)),
                         quotas=tuple(Quota(namespace, limits) for namespace, limits in sorted(hard.items())))


def policy_of(params):
    """The planner's Policy and declared targets from mig_plan's options."""
    pools = tuple(Pool(pool['name'], pool['selector']) for pool in params.get('pools') or ())
    targets = tuple(DeclaredTarget(target['pool'], target['profile'], target['count']) for target in params.get('targets') or ())
    policy = Policy(pools=pools, frozen_nodes=tuple(params.get('frozen_nodes') or ()),
                    frozen_gpus=tuple((gpu['node'], gpu['index']) for gpu in params.get('frozen_gpus') or ()),
                    max_nodes_changed=params.get('max_nodes_changed'), move_busy=bool(params.get('move_busy')),
                    time_limit_s=params.get('time_limit') or Policy.time_limit_s)
    return policy, targets


def _placed(planned):
    """The target's placements: pinned instances where they are, the others where ``find_placements`` puts them (largest
    first, lowest start), which is where the planner measured fragmentation; the rollout may place them elsewhere."""
    model = _catalog.model_by_key(planned.model)
    if not planned.target.mig_enabled:
        return []
    try:
        placed = find_placements(model, planned.target.instances)
    except PlanError as exc:
        raise FleetPlanError('node %s GPU %s: %s' % (planned.node, planned.index, exc)) from exc
    if placed is None:
        raise FleetPlanError('internal error: the plan of node %s GPU %s cannot be placed' % (planned.node, planned.index))
    return [{'profile': item.profile, 'start': item.start, 'compute_instances': [compute.profile for compute in item.compute_instances]} for item in placed]


def _counts(layout):
    return dict(collections.Counter(mig_resource_name(spec.profile) for spec in layout.instances))


def plan_data(plan, gpu_facts, busy_sources=None):
    """What mig_plan returns for a FleetPlan: per node its GPUs (layouts, slot diagrams), its busy instances and where
    they are known from (``busy_sources`` of :func:`fleet_input`), and the plan's figures."""
    nodes = {}
    for planned in plan.gpus:
        entry = next(gpu for gpu in gpu_facts[planned.node] if isinstance(gpu, Mapping) and gpu.get('index') == planned.index)
        placements = _placed(planned)
        current, target = slot_changes(gpu_slots(entry), gpu_slots(entry, {'mig-enabled': planned.target.mig_enabled, 'placements': placements}))
        node = nodes.setdefault(planned.node, {'changed': False, 'gpus': [], 'resources': {}, 'new': {}, 'diagrams': []})
        node['changed'] = node['changed'] or planned.changed
        after, before = _counts(planned.target), _counts(planned.current)
        for resource, count in after.items():
            node['resources'][resource] = node['resources'].get(resource, 0) + count
            if count > before.get(resource, 0):
                node['new'][resource] = node['new'].get(resource, 0) + count - before.get(resource, 0)
        target_layout = dict(planned.target.to_dict(), placements=placements)
        node['gpus'].append({'index': planned.index, 'model': planned.model, 'changed': planned.changed,
                             'current': planned.current.to_dict(), 'target': target_layout,
                             'evicts': sorted(set(pod for instance in planned.destroyed_busy for pod in instance.pods)),
                             'fragmentation': planned.fragmentation})
        if planned.changed:
            node['diagrams'].extend(['%s now' % slots_text(current), '%s planned' % slots_text(target)])
        else:
            node['diagrams'].append('%s unchanged' % slots_text(current))
    for name, source in (busy_sources or {}).items():
        if name in nodes:
            nodes[name]['busy'] = source
    summary = list(plan.explain())
    for name in sorted(nodes):
        node = nodes[name]
        new = ', '.join('%d x %s' % (count, resource) for resource, count in sorted(node['new'].items()))
        summary.append('%s: %s' % (name, 'changes, offering %s more' % new if new else 'changes' if node['changed'] else 'unchanged'))
        summary.extend('  ' + line for line in node['diagrams'])
        if node.get('busy') and not node['busy']['known']:
            summary.append('  busy instances guessed for %s: %s' % (', '.join(node['busy']['guessed']), node['busy']['reason']))
    return {
        'nodes': nodes,
        'demand': dict(plan.demand), 'served': dict(plan.served), 'served_before': dict(plan.served_before),
        'unmet': [{'profile': unmet.profile, 'count': unmet.count, 'reason': unmet.reason, 'message': str(unmet)} for unmet in plan.unmet],
        'nodes_changed': list(plan.nodes_changed), 'gpus_changed': plan.gpus_changed, 'busy_destroyed': plan.busy_destroyed,
        'evicted_pods': list(plan.evicted_pods), 'fragmentation': plan.fragmentation, 'optimal': plan.optimal,
        'summary': summary,
    }


def planned_configs(plan):
    """The plan as the rollout takes it: ``(config, labels)``, a mig-parted v1 config with one named config per distinct
    node layout (every MIG GPU of the node by index: the planned GPUs that change and the others as they are) and
    ``{node: config name}`` for the ``nvidia.com/mig.config`` label of every planned node.

    A config's name is ``gpufleet-plan-`` and a digest of its entries, so nodes with the same layout share one, a name
    always means the same layout, and planning an unchanged fleet again writes the same names.
    """
    per_node = collections.defaultdict(list)
    for planned in sorted(plan.gpus, key=lambda g: (g.node, g.index)):
        layout = planned.target.to_dict()
        per_node[planned.node].append({'devices': [planned.index], 'mig-enabled': layout['mig-enabled'],
                                       'mig-devices': layout['mig-devices']})
    configs, labels = {}, {}
    for node, entries in sorted(per_node.items()):
        name = CONFIG_PREFIX + hashlib.sha256(json.dumps(entries, sort_keys=True).encode('utf-8')).hexdigest()[:12]
        configs[name] = entries
        labels[node] = name
    return {'version': 'v1', 'mig-configs': configs}, labels
