# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether a cluster keeps room for its GPU workloads after a rollout: pure, over API objects as plain dicts.

The rollout drains the nodes it changes; the pods it evicts come back only where a node offers their GPU resources
after the change and the scheduler may put them there. :func:`capacity_check` asks that before anything changes:

* per GPU resource (``nvidia.com/gpu``, ``nvidia.com/mig-*``), what the cluster offers before and after, what the pods
  that will still exist request, and what ResourceQuotas grant (``requests.nvidia.com/...``, the only quota form
  extended resources allow). A quota is a ceiling, not a promise; what the fleet could honour before the change is
  taken as promised, so the check refuses a change that takes it away, never a quota that was already out of reach;
* every evicted pod that a controller recreates (a ReplicaSet's, a Job's, a StatefulSet's, ...) is placed again,
  biggest first, on a node that offers its GPU resources after the change and whose labels, taints and
  schedulability let the scheduler use it (``nodeSelector``, required node affinity, tolerations). An evicted pod
  with no controller is not recreated by anyone: it is listed, not placed.

Like the scheduler, the placement is greedy (best fit, biggest pods first), so it can refuse where a cleverer packing
would fit; only GPU resources are counted (CPU and memory are the scheduler's ordinary business); labels are taken
as they are now (a layout change rewrites only nvidia.com/mig-* count labels, which pods rarely select on).
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.gpufleet.mig.plugins.module_utils._drain import (
    CORDON_ANNOTATION, GPU_RESOURCE_PREFIXES, classify_pods, dra_gpu_pods, pod_name, spare_untouched_gpus)

QUOTA_PREFIX = 'requests.'
# Taint effects that keep a pod off a node (PreferNoSchedule only steers the scheduler).
_HARD_EFFECTS = ('NoSchedule', 'NoExecute')
_UNSCHEDULABLE_TAINT = {'key': 'node.kubernetes.io/unschedulable', 'effect': 'NoSchedule'}
_FINISHED = ('Succeeded', 'Failed')


class CapacityInputError(ValueError):
    """The changes given to the check are not what it takes."""


def _count(value):
    """A GPU resource quantity ('2', 2, '2000m') as a whole number; extended resources are integers."""
    if isinstance(value, bool):
        raise CapacityInputError('a GPU resource count must be a number, got %r' % (value,))
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith('m') and text[:-1].isdigit():
        return int(text[:-1]) // 1000
    try:
        return int(text)
    except ValueError:
        raise CapacityInputError('a GPU resource count must be a whole number, got %r' % (value,))


def gpu_resources(amounts):
    """The GPU resources of a resource list (allocatable, requests, limits) as {name: int}."""
    return dict((key, _count(value)) for key, value in (amounts or {}).items() if key.startswith(GPU_RESOURCE_PREFIXES))


def pod_requests(pod):
    """The GPU resources a pod needs, as the scheduler counts them: the containers' sum, or an init container's if more.

    Extended resources cannot be overcommitted, so a limit alone stands for the request.
    """
    spec = pod.get('spec') or {}

    def of(container):
        resources = container.get('resources') or {}
        return gpu_resources(dict(resources.get('limits') or {}, **(resources.get('requests') or {})))

    total = {}
    for container in spec.get('containers') or []:
        for key, value in of(container).items():
            total[key] = total.get(key, 0) + value
    for container in spec.get('initContainers') or []:
        for key, value in of(container).items():
            total[key] = max(total.get(key, 0), value)
    return dict((key, value) for key, value in total.items() if value)


def gpu_quota_hard(quota):
    """A ResourceQuota's hard limits on GPU resources: ``{'requests.<resource>': count}``.

    ``requests.`` items are the only quota form extended resources allow; the capacity check and the fleet plan
    (``mig_plan``) both read quotas through this.
    """
    return dict((key, _count(value)) for key, value in ((quota.get('spec') or {}).get('hard') or {}).items()
                if key.startswith(QUOTA_PREFIX) and key[len(QUOTA_PREFIX):].startswith(GPU_RESOURCE_PREFIXES))


def _recreated(pod):
    """Whether a controller (not a DaemonSet: classify_pods never evicts those) recreates the pod once evicted."""
    return any(owner.get('controller') for owner in (pod.get('metadata') or {}).get('ownerReferences') or [])


def _expression_matches(expression, value, present):
    operator, values = expression.get('operator'), expression.get('values') or []
    if operator == 'In':
        return present and value in values
    if operator == 'NotIn':
        return not present or value not in values
    if operator == 'Exists':
        return present
    if operator == 'DoesNotExist':
        return not present
    if operator in ('Gt', 'Lt'):
        try:
            number, bound = int(value), int(values[0])
        except (TypeError, ValueError, IndexError):
            return False
        return number > bound if operator == 'Gt' else number < bound
    return False


def _term_matches(term, node):
    """One nodeSelectorTerm: all its expressions and fields hold; an empty term selects nothing (as in Kubernetes)."""
    expressions, fields = term.get('matchExpressions') or [], term.get('matchFields') or []
    if not expressions and not fields:
        return False
    labels = (node.get('metadata') or {}).get('labels') or {}
    for expression in expressions:
        key = expression.get('key')
        if not _expression_matches(expression, labels.get(key), key in labels):
            return False
    for expression in fields:
        # metadata.name is the only field node affinity supports.
        if expression.get('key') != 'metadata.name' or not _expression_matches(expression, node['metadata']['name'], True):
            return False
    return True


def _tolerates(tolerations, taint):
    for toleration in tolerations:
        if toleration.get('effect') and toleration['effect'] != taint.get('effect'):
            continue
        operator = toleration.get('operator') or 'Equal'
        if not toleration.get('key'):
            if operator == 'Exists':
                return True
            continue
        if toleration['key'] != taint.get('key'):
            continue
        if operator == 'Exists' or (toleration.get('value') or '') == (taint.get('value') or ''):
            return True
    return False


def _taint_text(taint):
    return '%s%s:%s' % (taint.get('key'), '=%s' % taint['value'] if taint.get('value') else '', taint.get('effect'))


def unschedulable_after(node, changing):
    """Whether the node stays cordoned after the rollout: a cordon of the rollout's own ends on the nodes it changes."""
    meta = node.get('metadata') or {}
    ours = CORDON_ANNOTATION in (meta.get('annotations') or {})
    return bool((node.get('spec') or {}).get('unschedulable')) and not (changing and ours)


def why_not(pod, node, changing):
    """Why the scheduler may not put ``pod`` on ``node`` after the rollout, None when it may (GPU resources aside)."""
    spec = pod.get('spec') or {}
    labels = (node.get('metadata') or {}).get('labels') or {}
    for key, value in (spec.get('nodeSelector') or {}).items():
        if labels.get(key) != value:
            return 'node selector %s=%s does not match' % (key, value)
    required = ((spec.get('affinity') or {}).get('nodeAffinity') or {}).get('requiredDuringSchedulingIgnoredDuringExecution')
    if required is not None and not any(_term_matches(term, node) for term in required.get('nodeSelectorTerms') or []):
        return 'required node affinity does not match'
    tolerations = spec.get('tolerations') or []
    taints = [t for t in (node.get('spec') or {}).get('taints') or [] if t.get('effect') in _HARD_EFFECTS]
    if unschedulable_after(node, changing):
        taints.append(_UNSCHEDULABLE_TAINT)
    for taint in taints:
        if not _tolerates(tolerations, taint):
            return 'taint %s is not tolerated' % _taint_text(taint)
    return None


def _check_changes(changes, nodes):
    if not isinstance(changes, Mapping):
        raise CapacityInputError('changes must map node names to the GPU resources each offers after the change, got %s'
                                 % type(changes).__name__)
    known = set(node['metadata']['name'] for node in nodes)
    unknown = sorted(name for name in changes if name not in known)
    if unknown:
        raise CapacityInputError('changes name nodes the cluster does not have: %s' % ', '.join(unknown))
    for name, offered in changes.items():
        if not isinstance(offered, Mapping):
            raise CapacityInputError('node %s: the resources after the change must be a mapping, got %s' % (name, type(offered).__name__))
        strays = sorted(key for key in offered if not key.startswith(GPU_RESOURCE_PREFIXES))
        if strays:
            raise CapacityInputError('node %s: %s are not GPU resources (nvidia.com/gpu or nvidia.com/mig-*)' % (name, ', '.join(strays)))


def _fits(needed, free):
    return all(free.get(key, 0) >= count for key, count in needed.items())


def _requests_text(requests):
    return ', '.join('%s: %d' % item for item in sorted(requests.items()))


def capacity_check(nodes, pods, quotas, changes, gpu_only=True, precise=None, claims=()):
    """What a rollout that changes ``changes`` leaves of the cluster's GPU capacity, and what it would strand.

    ``nodes``, ``pods``, ``quotas``: every Node, Pod and ResourceQuota of the cluster as the API returns them.
    ``changes``: ``{node name: {GPU resource: count}}``, the resources each node the rollout drains offers after it
    (what its device plugin will advertise). ``gpu_only``: whether the drain evicts only the pods that use GPUs.
    ``precise``: ``{node name: (gpus, pod_gpus)}`` for the nodes whose drain is GPU-precise: it evicts only the pods on
    ``gpus`` (the GPUs that change), as :func:`_drain.spare_untouched_gpus` decides from ``pod_gpus``; the pods it spares
    keep their devices on the node. ``claims``: the cluster's ResourceClaims, where a drained node has pods that use
    claims (``_drain.needs_claims``): the pods holding devices of NVIDIA's DRA driver on it are evicted as the drain
    evicts them. [simplified] The devices DRA nodes offer are not counted (only resources that pods request are), so
    such a pod is listed as evicted but neither placed nor stranded.

    Returns a dict: ``resources`` (``{resource: {'before', 'after', 'used', 'quota'}}``), ``evicted`` (the pods the
    drains evict, 'namespace/name'), ``spared`` (the GPU pods of drained nodes that a GPU-precise drain keeps running),
    ``not_recreated`` (those of them with no controller: the drain ends them),
    ``placed`` (``{pod: node}``, where each evicted GPU pod fits after the change), ``stranded`` (a list of ``{'pod',
    'requests', 'why'}`` for those that fit nowhere) and ``problems`` (one sentence each; none when the cluster keeps
    room). Raises CapacityInputError when ``changes`` is malformed.
    """
    _check_changes(changes, nodes)
    by_name = dict((node['metadata']['name'], node) for node in nodes)
    before = dict((name, gpu_resources((node.get('status') or {}).get('allocatable'))) for name, node in by_name.items())
    after = dict(before, **dict((name, gpu_resources(offered)) for name, offered in changes.items()))

    running = [pod for pod in pods if (pod.get('spec') or {}).get('nodeName') in by_name
               and (pod.get('status') or {}).get('phase') not in _FINISHED]
    precise = precise or {}
    evicted, spared = [], []
    for name in sorted(changes):
        on_node = [pod for pod in running if pod['spec']['nodeName'] == name]
        to_evict, skipped = classify_pods(on_node, gpu_only=gpu_only, dra_pods=dra_gpu_pods(on_node, claims, name) if claims else ())
        if name in precise:
            gpus, pod_gpus = precise[name]
            kept = spare_untouched_gpus(to_evict, skipped, gpus, pod_gpus)[0]
            spared.extend(pod_name(pod) for pod in to_evict if pod not in kept)
            to_evict = kept
        evicted.extend(to_evict)
    evicted_names = set(pod_name(pod) for pod in evicted)
    not_recreated = sorted(pod_name(pod) for pod in evicted if not _recreated(pod))
    staying = [pod for pod in running if pod_name(pod) not in evicted_names]
    # Each pod's GPU requests, computed once: the totals, the free space and the placement all use them.
    requests = dict((pod_name(pod), pod_requests(pod)) for pod in running)
    returning = [pod for pod in evicted if _recreated(pod) and requests[pod_name(pod)]]

    resources = {}

    def row(key):
        return resources.setdefault(key, {'before': 0, 'after': 0, 'used': 0, 'quota': 0})

    for which, offered in (('before', before), ('after', after)):
        for amounts in offered.values():
            for key, count in amounts.items():
                row(key)[which] += count
    for pod in staying + returning:
        for key, count in requests[pod_name(pod)].items():
            row(key)['used'] += count
    granted = {}
    for quota in quotas:
        for key, value in gpu_quota_hard(quota).items():
            resource = key[len(QUOTA_PREFIX):]
            row(resource)['quota'] += value
            granted.setdefault(resource, []).append('%s: %s' % (quota['metadata'].get('namespace'), quota['spec']['hard'][key]))

    problems = []
    for key in sorted(resources):
        figures = resources[key]
        if figures['after'] < figures['used']:
            problems.append('%s: the pods that keep running or come back request %d, the cluster offers %d after the change (%d now)'
                            % (key, figures['used'], figures['after'], figures['before']))
        elif figures['after'] < min(figures['quota'], figures['before']):
            problems.append('%s: ResourceQuotas grant %d (%s) and the cluster offers %d now, %d after the change'
                            % (key, figures['quota'], ', '.join(granted[key]), figures['before'], figures['after']))

    free = dict((name, dict(offered)) for name, offered in after.items())
    for pod in staying:
        node = pod['spec']['nodeName']
        for key, count in requests[pod_name(pod)].items():
            free[node][key] = free[node].get(key, 0) - count
    placed, stranded = {}, []
    # Biggest first, then by name: the same cluster always gives the same answer.
    for pod in sorted(returning, key=lambda p: (-sum(requests[pod_name(p)].values()), pod_name(p))):
        needed = requests[pod_name(pod)]
        fitting, refusals = [], {}
        for name in sorted(by_name):
            reason = why_not(pod, by_name[name], name in changes)
            if reason is None and not _fits(needed, free[name]):
                reason = 'too few free %s after the change' % ', '.join(sorted(k for k in needed if free[name].get(k, 0) < needed[k]))
            if reason is None:
                fitting.append(name)
            else:
                refusals.setdefault(reason, []).append(name)
        if fitting:
            # Best fit: the node left with the least of what the pod uses, so big holes stay for big pods.
            node = min(fitting, key=lambda n: (sum(free[n].get(k, 0) - needed[k] for k in needed), n))
            for key, count in needed.items():
                free[node][key] -= count
            placed[pod_name(pod)] = node
        else:
            why = ['%s: %s' % (', '.join(names), reason) for reason, names in sorted(refusals.items(), key=lambda item: item[1])]
            stranded.append({'pod': pod_name(pod), 'requests': needed, 'why': why})
    for entry in stranded:
        problems.append('pod %s (%s) fits on no node after the change: %s'
                        % (entry['pod'], _requests_text(entry['requests']), '; '.join(entry['why'])))
    return {'resources': resources, 'evicted': sorted(evicted_names), 'spared': sorted(spared), 'not_recreated': not_recreated, 'placed': placed,
            'stranded': stranded, 'problems': problems}
