# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Nodes under NVIDIA's DRA driver (``gpu.nvidia.com``) for the fleet report, as plain data.

Two halves: ``cluster_nodes`` turns one cluster's lists (the ResourceSlices of ``gpu.nvidia.com``, every ResourceClaim,
the DRA kubelet plugin's pods) into each node's reading, which the ``dra_info`` module returns; ``dra_view`` puts one
node's reading beside its GPUs as ``gpu_info`` read them: which device is which GPU or MIG device (the names encode the
GPU's minor number and the MIG device's placement, ``_dra.mig_device_name``), whether the slices list what NVIDIA's
driver would publish for those GPUs (``_dra.expected_devices``), and the claims allocated on each device. The fleet
report (``_fleet_report``) draws all three of its renderings from ``dra_view``'s result.

Nothing here talks to the API server or NVML.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.gpufleet.mig.plugins.module_utils._dra import (
    DRIVER, SHARED_COUNTERS, DraError, claims_on_pool, dynamic_mig_reason, expected_devices, parse_device, plugin_pods, published_devices)
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import pod_state

__all__ = ('cluster_nodes', 'dra_view')


def cluster_nodes(nodes, slices, claims, pods, daemonset):
    """Each node of ``nodes`` as NVIDIA's DRA driver shows it in one cluster: ``{node: reading or None}``.

    ``slices`` are the cluster's ResourceSlices (those of other drivers, and those bound to no single node, are left
    out), ``claims`` every ResourceClaim, ``pods`` the DRA kubelet plugin's pods (only those the DaemonSet ``daemonset``
    owns count). A node with neither a plugin pod nor a slice of ``gpu.nvidia.com`` is no DRA node: None. Otherwise the
    reading is ``{'published': sorted device names, 'complete': bool, 'shared_counters': bool, 'dynamic_mig': the reason
    gpufleet.mig refuses the node or None, 'plugin_pods': [{'name', 'state'}], 'claims': _dra.claims_on_pool's,
    'problems': what could not be read}``.
    """
    node_slices, node_pods = {}, {}
    for item in slices:
        spec = (item.get('spec') or {}) if isinstance(item, Mapping) else {}
        if spec.get('driver') == DRIVER and spec.get('nodeName'):
            node_slices.setdefault(spec['nodeName'], []).append(item)
    for pod in plugin_pods(pods, daemonset):
        node_pods.setdefault((pod.get('spec') or {}).get('nodeName'), []).append(pod)
    readings = {}
    for node in nodes:
        mine, plugins = node_slices.get(node, []), node_pods.get(node, [])
        if not mine and not plugins:
            readings[node] = None
            continue
        problems = []
        try:
            published = published_devices(node, mine)
        except DraError as exc:
            # A slice in a pool not named after the node: what the node publishes cannot be told.
            problems.extend(exc.problems)
            published = {'devices': [], 'complete': False, 'dynamic': False}
        try:
            reason = dynamic_mig_reason(node, plugins)
        except DraError as exc:
            problems.extend(exc.problems)
            reason = None
        readings[node] = {
            'published': published['devices'], 'complete': published['complete'], 'shared_counters': published['dynamic'],
            'dynamic_mig': reason,
            'plugin_pods': sorted(({'name': (pod.get('metadata') or {}).get('name'), 'state': pod_state(pod, message=False)} for pod in plugins),
                                  key=lambda pod: pod['name'] or ''),
            'claims': claims_on_pool(claims, node), 'problems': problems,
        }
    return readings


# -- the report's side --------------------------------------------------------------------------------------------------

def _names(value):
    return sorted(set(name for name in value if isinstance(name, str))) if isinstance(value, (list, tuple)) else []


def _expected(gpus):
    """The devices NVIDIA's driver would publish for ``gpus``, and the problems that stop it for some GPU.

    ``expected_devices`` rejects the whole node for one bad GPU; the report still wants every other GPU's devices, so
    each GPU is asked alone then (the problems keep the whole node's numbering).
    """
    try:
        return expected_devices(gpus), []
    except DraError as exc:
        problems = exc.problems
    expected = []
    for gpu in gpus:
        try:
            expected.extend(expected_devices([gpu]))
        except DraError:
            continue  # its problem is in ``problems`` already
    return sorted(set(expected)), problems


def _what(parsed, gpu):
    """What a device is on the GPU as read: 'whole GPU', '3g.20gb at 4-7', or the GI profile and slice its name gives."""
    if not parsed['mig']:
        return 'whole GPU'
    for gi in (gpu or {}).get('gpu_instances') or []:
        placement = gi.get('placement') if isinstance(gi, Mapping) else None
        if isinstance(placement, Mapping) and gi.get('profile_id') == parsed['profile_id'] and placement.get('start') == parsed['start']:
            start, size = placement.get('start'), placement.get('size')
            span = str(start) if not isinstance(size, int) or size <= 1 else '%d-%d' % (start, start + size - 1)
            return '%s at %s' % (gi.get('profile'), span)
    return 'GPU instance profile %d at slice %d' % (parsed['profile_id'], parsed['start'])


STATUS = {
    'ok': 'published',
    'unexpected': 'published, not expected',
    'missing': 'expected, not published',
    'gone': 'held by a claim, neither published nor expected',
}


def dra_view(gpus, dra):
    """One node's DRA devices beside its GPUs; None when ``dra`` is None (no DRA on the node: nothing to show).

    ``gpus``: the node's GPUs as ``gpu_info`` returns them (mappings); ``dra``: the node's reading (``cluster_nodes``).
    Returns ``{'gpus': [{'index', 'devices'}] in the order of gpus, 'other': devices on no GPU as read, 'published',
    'expected', 'claims' (counts), 'complete', 'match' (the complete slices list exactly the expected devices),
    'dynamic' (the plugin runs dynamic MIG), 'compared' (False with dynamic MIG or without GPUs read: nothing is
    expected, and there is no match), 'plugin_pods', 'problems'}``; each device is ``{'name', 'what', 'published', 'expected', 'status' (a key of STATUS),
    'state' (its words), 'claims': [{'claim': 'namespace/name', 'pods': [pod names]}]}``, ordered by placement.
    """
    if dra is None:
        return None
    if not isinstance(dra, Mapping):
        return {'gpus': [], 'other': [], 'published': 0, 'expected': 0, 'claims': 0, 'complete': False, 'match': False,
                'dynamic': False, 'compared': False, 'plugin_pods': [], 'problems': ['the DRA reading is not a mapping: %r' % (dra,)]}
    gpus = [gpu for gpu in gpus if isinstance(gpu, Mapping)]
    published = _names(dra.get('published'))
    problems = [str(p) for p in dra.get('problems') or []]
    dynamic = bool(dra.get('dynamic_mig') or dra.get('shared_counters'))
    if dra.get('dynamic_mig'):
        problems.append(str(dra['dynamic_mig']))
    if dra.get('shared_counters'):
        problems.append(SHARED_COUNTERS)
    # With dynamic MIG the driver publishes profiles and placements, not the MIG devices that exist; and without the GPUs
    # (gpu_info failed: its message is the node's problem) there is nothing to expect either.
    compared = not dynamic and bool(gpus)
    expected, stopped = _expected(gpus) if compared else ([], [])
    problems.extend(stopped)
    pods = [pod for pod in dra.get('plugin_pods') or [] if isinstance(pod, Mapping)]
    if not pods:
        problems.append('no DRA kubelet plugin pod runs on the node: its ResourceSlices are not kept up to date')
    held = {}
    claims = [claim for claim in dra.get('claims') or [] if isinstance(claim, Mapping)]
    for claim in claims:
        name = '%s/%s' % (claim.get('namespace'), claim.get('name'))
        pod_names = [ref.get('name') for ref in claim.get('reserved_for') or []
                     if isinstance(ref, Mapping) and ref.get('resource') == 'pods']
        for device in _names(claim.get('devices')):
            held.setdefault(device, []).append({'claim': name, 'pods': pod_names})
        gone = [device for device in _names(claim.get('devices')) if device not in expected]
        if gone and compared:
            problems.append('ResourceClaim %s holds device(s) %s, which NVIDIA\'s DRA driver would not publish for the GPUs as '
                            'read' % (name, ', '.join(gone)))
    by_minor = dict((gpu.get('minor_number'), gpu) for gpu in gpus if isinstance(gpu.get('minor_number'), int))
    rows = dict((id(gpu), []) for gpu in gpus)
    other = []
    for name in sorted(set(published) | set(expected) | set(held)):
        parsed = parse_device(name)
        gpu = by_minor.get(parsed['minor']) if parsed else None
        if name in published:
            status = 'ok' if name in expected or not compared else 'unexpected'
        else:
            status = 'missing' if name in expected else 'gone'
        device = {'name': name, 'published': name in published, 'expected': name in expected, 'status': status,
                  'state': STATUS[status], 'claims': held.get(name, []),
                  'what': _what(parsed, gpu) if parsed else 'a name NVIDIA\'s DRA driver does not give'}
        if gpu is None and parsed:
            device['what'] = '%s; no GPU with minor number %d' % (device['what'], parsed['minor'])
        # A GPU's whole-GPU device first, then its MIG devices by placement start.
        order = (parsed['minor'] if parsed else -1, parsed['start'] if parsed and parsed['mig'] else -1, name)
        (other if gpu is None else rows[id(gpu)]).append((order, device))
    rows = dict((key, [device for dummy, device in sorted(devices, key=lambda pair: pair[0])]) for key, devices in rows.items())
    other = [device for dummy, device in sorted(other, key=lambda pair: pair[0])]
    match = compared and bool(dra.get('complete')) and set(published) == set(expected)
    return {'gpus': [{'index': gpu.get('index'), 'devices': rows[id(gpu)]} for gpu in gpus], 'other': other,
            'published': len(published), 'expected': len(expected), 'claims': len(claims), 'complete': bool(dra.get('complete')),
            'match': match, 'dynamic': dynamic, 'compared': compared, 'plugin_pods': pods, 'problems': problems}
