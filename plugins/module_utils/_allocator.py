# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Moving a node between NVIDIA's device plugin and NVIDIA's DRA driver, as plain data: the labels that select each
plugin, the DeviceClasses (KEP-5004, ``spec.extendedResourceName``) that keep pods requesting ``nvidia.com/mig-<profile>``
schedulable once the node's MIG devices come from the DRA driver, and when a move is complete.

KEP-5004 facts used here (``../shared/reference/ecosystem-2026.md`` section 1, kube-scheduler ``extendedresources.go``):
a pod's extended resource is served from DRA through the DeviceClass whose ``extendedResourceName`` names it, and only on
a node that does not advertise the resource itself (allocatable 0 or absent). So a moved node must stop advertising
``nvidia.com/*`` before it is used through DRA, and a class must pick exactly the devices of its profile: a class that
picks any MIG device would give a pod asking for ``nvidia.com/mig-1g.5gb`` a ``3g.20gb`` device.

Nothing here talks to the API server.
"""

from __future__ import annotations

import re

from ansible_collections.gpufleet.mig.plugins.module_utils._dra import DRIVER, DraError
from ansible_collections.gpufleet.mig.plugins.module_utils._drain import CORDON_ANNOTATION
from ansible_collections.gpufleet.mig.plugins.module_utils._resources import mig_resource_name

__all__ = (
    'left_by_a_move',
    'ALLOCATORS',
    'DEVICE_PLUGIN_LABEL',
    'DRA_LABEL',
    'advertised_gpu_resources',
    'check_device_classes',
    'device_class',
    'device_class_name',
    'mig_profiles',
    'other_driver_problem',
    'target_labels',
    'unfinished',
)

ALLOCATORS = ('dra', 'device-plugin')
# The GPU Operator's deploy labels: its operand DaemonSets select nodes on them (k8s.md 3.1; the DRA state's kubelet
# plugin on nvidia.com/gpu.deploy.dra-driver, gpu-operator manifests/state-dra-driver/0500_daemonset.yaml at 046c48fb).
DEVICE_PLUGIN_LABEL = 'nvidia.com/gpu.deploy.device-plugin'
DRA_LABEL = 'nvidia.com/gpu.deploy.dra-driver'
GPU_PREFIX = 'nvidia.com/'

# One term of a CEL selector that the check understands: device.driver == '...' or
# device.attributes['<domain>'].<name> == '...' (single or double quotes).
_DRIVER_TERM = re.compile(r'''^device\.driver\s*==\s*(['"])(?P<value>[^'"]*)\1\Z''')
_ATTRIBUTE_TERM = re.compile(r'''^device\.attributes\[(['"])(?P<domain>[^'"]+)\1\]\.(?P<name>[A-Za-z0-9_]+)\s*==\s*(['"])(?P<value>[^'"]*)\4\Z''')


def target_labels(to, device_plugin_label=DEVICE_PLUGIN_LABEL, dra_label=DRA_LABEL):
    """The node labels that make ``to`` (dra or device-plugin) the node's only GPU plugin (ValueError for another)."""
    if to not in ALLOCATORS:
        raise ValueError('to: %r is not an allocator gpufleet.mig can move a node to (valid: %s)' % (to, ', '.join(ALLOCATORS)))
    dra = to == 'dra'
    # "false" rather than removing the label: the GPU Operator deploys its operands where the label is absent.
    return {device_plugin_label: 'false' if dra else 'true', dra_label: 'true' if dra else 'false'}


def mig_profiles(gpus):
    """The GPU instance profiles of the MIG devices of ``gpus`` (gpu_info's node.gpus), sorted: the resources
    ``nvidia.com/mig-<profile>`` the node's pods may request. GPU instances without compute instances are no device."""
    profiles = set()
    for gpu in gpus or []:
        if not isinstance(gpu, dict) or not (gpu.get('mig_mode') or {}).get('current'):
            continue
        for instance in gpu.get('gpu_instances') or []:
            if isinstance(instance, dict) and instance.get('compute_instances') and isinstance(instance.get('profile'), str):
                profiles.add(instance['profile'])
    return sorted(profiles)


def device_class_name(profile):
    """The name gpufleet.mig gives the DeviceClass of a profile: ``mig-1g.5gb.nvidia.com`` (``+`` becomes ``-``)."""
    return 'mig-%s.nvidia.com' % profile.replace('+', '-').lower()


def _selector(profile):
    return "device.driver == '%s' && device.attributes['%s'].profile == '%s'" % (DRIVER, DRIVER, profile)


def device_class(profile):
    """The DeviceClass that serves ``nvidia.com/mig-<profile>`` from the MIG devices of ``profile`` (KEP-5004).

    The selector uses the ``profile`` attribute NVIDIA's driver sets on MIG devices (``deviceinfo.go``)."""
    return {'apiVersion': 'resource.k8s.io/v1', 'kind': 'DeviceClass',
            'metadata': {'name': device_class_name(profile), 'labels': {'app.kubernetes.io/managed-by': 'gpufleet.mig'}},
            'spec': {'selectors': [{'cel': {'expression': _selector(profile)}}],
                     'extendedResourceName': mig_resource_name(profile)}}


def _class_problem(profile, item):
    """What is wrong with a DeviceClass that maps ``nvidia.com/mig-<profile>``, or None when its selector picks exactly
    the profile's MIG devices of NVIDIA's driver."""
    name = (item.get('metadata') or {}).get('name')
    terms = []
    for selector in (item.get('spec') or {}).get('selectors') or []:
        expression = ((selector or {}).get('cel') or {}).get('expression')
        if not isinstance(expression, str):
            return 'DeviceClass %s: a selector is not a CEL expression (%r)' % (name, selector)
        terms.extend(term.strip() for term in expression.split('&&'))
    found = {}
    for term in terms:
        driver, attribute = _DRIVER_TERM.match(term), _ATTRIBUTE_TERM.match(term)
        if driver:
            found.setdefault('driver', set()).add(driver.group('value'))
        elif attribute and attribute.group('domain') == DRIVER and attribute.group('name') in ('profile', 'type'):
            found.setdefault(attribute.group('name'), set()).add(attribute.group('value'))
        else:
            # [uncertain] Any other expression may narrow or widen the class in ways this check cannot evaluate.
            return ('DeviceClass %s: gpufleet.mig cannot tell which devices its selector term %r picks (understood: '
                    "device.driver == '%s', device.attributes['%s'].profile == '<profile>' and .type == 'mig', joined "
                    'by &&)' % (name, term, DRIVER, DRIVER))
    if found.get('driver', set([DRIVER])) != set([DRIVER]):
        return 'DeviceClass %s: its selector picks devices of driver %s, not %s' % (name, ', '.join(sorted(found['driver'])), DRIVER)
    if found.get('type', set(['mig'])) != set(['mig']):
        return 'DeviceClass %s: its selector picks devices of type %s, not mig' % (name, ', '.join(sorted(found['type'])))
    if 'profile' not in found:
        return ('DeviceClass %s: its selector does not pick MIG devices by profile, so a pod asking for %s could get a MIG '
                "device of another size; select device.attributes['%s'].profile == '%s'"
                % (name, mig_resource_name(profile), DRIVER, profile))
    if found['profile'] != set([profile]):
        return ('DeviceClass %s: its selector picks MIG devices of profile %s, but it maps %s (profile %s)'
                % (name, ', '.join(sorted(found['profile'])), mig_resource_name(profile), profile))
    return None


def check_device_classes(profiles, classes):
    """Which profiles have a DeviceClass that serves ``nvidia.com/mig-<profile>`` from their MIG devices.

    Returns (missing, problems): the profiles no class maps, and what is wrong with each class that maps one of
    ``profiles`` (every class mapping a name must be right: two classes with one name make the scheduler pick one by
    creation time, KEP-5004, so a wrong one may be the one used).
    """
    missing, problems = [], []
    for profile in profiles:
        resource = mig_resource_name(profile)
        mapping = [item for item in classes if (item.get('spec') or {}).get('extendedResourceName') == resource]
        if not mapping:
            missing.append(profile)
        for item in sorted(mapping, key=lambda item: (item.get('metadata') or {}).get('name') or ''):
            problem = _class_problem(profile, item)
            if problem:
                problems.append('MIG profile %s: %s' % (profile, problem))
    return missing, problems


def advertised_gpu_resources(node):
    """The ``nvidia.com/*`` extended resources the node advertises (allocatable above 0), as {name: count}: a device
    plugin's. A stopped plugin's resource goes to 0 at once and stays listed a while (k8s.md 1.6), which is not advertising."""
    allocatable = ((node or {}).get('status') or {}).get('allocatable') or {}
    found = {}
    for name, value in allocatable.items():
        if name.startswith(GPU_PREFIX):
            try:
                count = int(value)
            except (TypeError, ValueError):
                raise DraError('node %s: allocatable %s is %r, not a count' % (node['metadata'].get('name'), name, value))
            if count:
                found[name] = count
    return dict(sorted(found.items()))


def other_driver_problem(node, slices):
    """Why a node with ResourceSlices of drivers other than NVIDIA's is refused, or None."""
    others = sorted(set((item.get('spec') or {}).get('driver') for item in slices) - set([DRIVER]))
    if not others:
        return None
    return ('node %s has ResourceSlices of driver(s) %s: gpufleet.mig moves a node only between NVIDIA\'s device plugin and '
            'NVIDIA\'s DRA driver %s; another DRA driver may be handing out the same GPUs' % (node, ', '.join(map(str, others)), DRIVER))


def unfinished(to, state, expected=None):
    """What keeps a node from being served by ``to`` alone, as sentences; [] once the move is complete.

    ``state``: ``device_plugin_pods`` and ``dra_pods`` (the plugin pods on the node, each {name, running}), ``advertised``
    (:func:`advertised_gpu_resources`) and ``published`` (_dra.published_devices of the node's slices). To ``dra``: no
    device plugin pod and nothing advertised (the node never offers a name both ways), a running DRA plugin pod and a
    complete pool of exactly ``expected`` devices. To ``device-plugin``: no DRA plugin pod and no device left in the
    node's pool (the kubelet wipes a stopped plugin's slices after a delay), a running device plugin pod; what it must
    advertise depends on its MIG strategy and is waited for by device_plugin_config.
    """
    mine, other = ('dra_pods', 'device_plugin_pods') if to == 'dra' else ('device_plugin_pods', 'dra_pods')
    names = {'dra_pods': 'NVIDIA\'s DRA kubelet plugin', 'device_plugin_pods': 'NVIDIA\'s device plugin'}
    left = []
    if state[other]:
        left.append('%s still has pod(s) on the node: %s' % (names[other], ', '.join(pod['name'] for pod in state[other])))
    if not any(pod['running'] for pod in state[mine]):
        left.append('no pod of %s runs on the node%s' % (names[mine], ' (found: %s)' % ', '.join(
            '%s %s' % (pod['name'], pod.get('state') or 'not running') for pod in state[mine]) if state[mine] else ''))
    published = state['published']
    if to == 'dra':
        if state['advertised']:
            left.append('the node still advertises %s' % ', '.join('%s=%d' % item for item in sorted(state['advertised'].items())))
        if not published['complete'] or published['devices'] != expected:
            left.append('its ResourceSlices of driver %s list %s%s, expected %s'
                        % (DRIVER, ', '.join(published['devices']) or 'no device', '' if published['complete'] else ' (incomplete)',
                           ', '.join(expected or []) or 'no device'))
    elif published['devices']:
        left.append('its ResourceSlices of driver %s still list %s' % (DRIVER, ', '.join(published['devices'])))
    return left


STATE_LABEL = 'nvidia.com/mig.config.state'
REASON_ANNOTATION = 'gpufleet.mig/failure-reason'


def left_by_a_move(labels, annotations):
    """Why an earlier move left the node for this one to finish, or None: it failed (labelled failed with a reason that
    says it was moving), or it stopped after the cordon and before the uncordon (labelled pending and cordoned by
    gpufleet.mig), for example killed. Such a node is finished even when its plugins switched since: otherwise it would
    stay cordoned with nothing to say why."""
    labels, annotations = labels or {}, annotations or {}
    state = labels.get(STATE_LABEL)
    if state == 'failed' and str(annotations.get(REASON_ANNOTATION) or '').startswith('moving to '):
        return 'an earlier move failed: %s' % annotations[REASON_ANNOTATION]
    if state == 'pending' and CORDON_ANNOTATION in annotations:
        return 'an earlier run stopped while moving the node (labelled pending, cordoned by gpufleet.mig)'
    return None
