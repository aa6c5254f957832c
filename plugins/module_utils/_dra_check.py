# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The read of nodes under NVIDIA's DRA driver against their expected devices, through the API (``_dra`` holds the pure
parts): ``dra_plugin`` reads one node with it, and the preflight's one Kubernetes module run per cluster
(``device_plugin_config`` with ``dra``) many, so that a cluster costs one module run, not one per allocator."""

from __future__ import annotations

from ansible_collections.gpufleet.mig.plugins.module_utils._dra import (
    DRIVER, SHARED_COUNTERS, DraError, claims_on_pool, dynamic_mig_reason, expected_devices, planned_gpus, plugin_pods, published_devices)
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import KubeError, name_problem

__all__ = ('ALLOCATORS', 'DRA_DEFAULTS', 'NodeProblem', 'check_nodes', 'inspect', 'no_plugin', 'options_problems', 'planned_devices', 'specs_problems')

ALLOCATORS = ('auto', 'device-plugin', 'dra')
# Where NVIDIA's DRA driver's kubelet plugin runs: the defaults of its Helm chart.
DRA_DEFAULTS = {'namespace': 'dra-driver-nvidia-gpu', 'daemonset': 'dra-driver-nvidia-gpu-kubelet-plugin',
                'selector': 'dra-driver-nvidia-gpu-component=kubelet-plugin'}


class NodeProblem(Exception):
    """Why one node cannot be handed to NVIDIA's DRA driver as gpufleet.mig does it: the node fails, others go on."""


def options_problems(where):
    """The problems with ``where``'s ``namespace``, ``daemonset`` and ``selector`` (``where`` names them in a message)."""
    return [p for p in (name_problem('namespace', where['namespace'], 'label'), name_problem('daemonset', where['daemonset']),
                        not where['selector'].strip() and 'selector must not be empty (it would select every pod)') if p]


def planned_devices(where, spec):
    """The devices NVIDIA's driver will publish for one node's GPUs (planned ones when given), and the problems."""
    try:
        gpus = spec['gpus']
        if spec.get('planned_layouts') is not None:
            gpus = planned_gpus(gpus, spec['planned_layouts'])
        return expected_devices(gpus), []
    except DraError as exc:
        return None, ['%s%s' % (where, problem) for problem in exc.problems]


def specs_problems(specs, first=0):
    """The expected devices of the nodes said to be DRA nodes (``{node: devices}``) and the problems with the nodes.

    A node left to ``auto`` has its devices worked out by ``check_nodes`` only if NVIDIA's DRA driver turns out to serve
    it: a layout the DRA driver cannot publish (a split GPU instance) is no problem on a device plugin node, whose own
    check judges it. ``first``: the number of the first node in the messages (``nodes[<number>]``)."""
    problems, devices, seen = [], {}, set()
    for number, spec in enumerate(specs, first):
        where = 'nodes[%d]' % number
        problems.extend(p for p in [name_problem('%s.node' % where, spec['node'])] if p)
        allocator = spec.get('allocator', 'auto')
        if allocator not in ALLOCATORS:
            problems.append('%s (%s): allocator %r is not one of %s' % (where, spec['node'], allocator, ', '.join(ALLOCATORS)))
        if spec['node'] in seen:
            problems.append('%s: node %s is given twice' % (where, spec['node']))
        seen.add(spec['node'])
        if allocator == 'device-plugin':
            continue
        if spec.get('gpus') is None:
            problems.append('%s (%s): gpus is needed to check a node NVIDIA\'s DRA driver may serve' % (where, spec['node']))
        elif allocator == 'dra':
            devices[spec['node']], found = planned_devices('%s (%s): ' % (where, spec['node']), spec)
            problems.extend(found)
    return devices, problems


def no_plugin(kube, where, node):
    """Why a node said to be a DRA node has no plugin pod, naming the drivers that publish its devices instead."""
    others = sorted(set((item.get('spec') or {}).get('driver') for item in kube.resource_slices(node)) - set([DRIVER]))
    return ('no pod of DaemonSet %s/%s (selector %s) runs on node %s: is the node handed to Kubernetes by NVIDIA\'s DRA driver? '
            '(see the options namespace, daemonset and selector)%s'
            % (where['namespace'], where['daemonset'], where['selector'], node,
               '; its ResourceSlices are of driver(s) %s: gpufleet.mig drives only NVIDIA\'s DRA driver %s' % (', '.join(others), DRIVER)
               if others else ''))


def inspect(kube, node, devices, pods, claims):
    """What one DRA node shows: its plugin pods, whether they would be restarted, the devices and claims (NodeProblem)."""
    reason = dynamic_mig_reason(node, pods)
    if reason:
        raise NodeProblem(reason)
    published = published_devices(node, kube.resource_slices(node))
    if published['dynamic']:
        raise NodeProblem('node %s: %s' % (node, SHARED_COUNTERS))
    read = kube.read_node(node)
    missing = sorted(set(devices) - set(published['devices']))
    unexpected = sorted(set(published['devices']) - set(devices))
    restart = bool(missing or unexpected or not published['complete'])
    return dict(allocator='dra', restarted=restart, expected=devices, published=published['devices'], missing=missing,
                unexpected=unexpected, pods=[p['metadata']['name'] for p in pods], claims=claims_on_pool(claims, node),
                labels=dict(read['metadata'].get('labels') or {}), annotations=dict(read['metadata'].get('annotations') or {}))


def check_nodes(kube, where, specs, devices):
    """Each node's allocator and, for a DRA node, what ``inspect`` finds: ``({node: entry}, [failure, ...])``.

    ``where``: ``namespace``, ``daemonset`` and ``selector`` of the kubelet plugin. ``specs``: the nodes (``node``,
    ``allocator``, ``gpus``, ``planned_layouts``). ``devices``: ``specs_problems``' expected devices (those of a node
    it left out are worked out here). One list of plugin pods for all the nodes (none when every node is said to be a
    device plugin node); a node with a pod (or said to be a DRA node) is inspected. When that list fails, so does the
    whole check (no node's allocator is known); when the API fails inspecting a node for something other than a missing
    object, that node and the DRA nodes after it fail with it, not tried one by one, and the other nodes are still told.
    """
    running = {}
    listed = kube.pods(where['namespace'], where['selector']) if any(spec.get('allocator', 'auto') != 'device-plugin' for spec in specs) else []
    for pod in plugin_pods(listed, where['daemonset']):
        running.setdefault((pod.get('spec') or {}).get('nodeName'), []).append(pod)
    claims = broken = None
    found, failed = {}, []
    for spec in specs:
        node, pods, allocator = spec['node'], running.get(spec['node'], []), spec.get('allocator', 'auto')
        if allocator == 'device-plugin' or (allocator == 'auto' and not pods):
            found[node] = {'allocator': 'device-plugin', 'pods': [p['metadata']['name'] for p in pods]}
            continue
        try:
            if broken is not None:
                raise NodeProblem('not read: %s' % broken)
            if not pods:
                raise NodeProblem(no_plugin(kube, where, node))
            expected = devices.get(node)
            if expected is None:
                expected, problems = planned_devices('', spec)
                if problems:
                    raise NodeProblem('; '.join(problems))
            if claims is None:
                claims = kube.resource_claims()
            found[node] = inspect(kube, node, expected, pods, claims)
        except (NodeProblem, DraError, KubeError) as exc:
            if isinstance(exc, KubeError) and exc.status != 404:
                broken = exc
            found[node] = {'allocator': 'dra', 'failed': True, 'msg': str(exc)}
            failed.append('%s: %s' % (node, exc))
    return found, failed
