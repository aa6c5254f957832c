# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""A node's devices under NVIDIA's DRA driver (``gpu.nvidia.com``), as plain data: what its kubelet plugin publishes
for the node's GPUs with static MIG, what the node's ResourceSlices list, the ResourceClaims allocated from the node's
pool, and whether the plugin runs dynamic MIG.

Written from ``kubernetes-sigs/dra-driver-nvidia-gpu`` at 95932046 (``cmd/gpu-kubelet-plugin``):

- ``nvlib.go`` ``GetPerGpuAllocatableDevices``: a GPU with MIG off is one device; a MIG-enabled GPU announces only
  its existing MIG devices, and nothing at all when it has none ("Likely unintentionally stranded capacity");
- ``mig.go`` ``MigSpecTuple.ToCanonicalName``: ``gpu-<minor>-mig-<profile without dots>-<GI profile id>-<placement
  start>``, "The name unambiguously defines the physical configuration"; ``deviceinfo.go``: ``gpu-<minor>``;
- ``driver.go`` ``publishResources``: one pool named after the node;
- ``pkg/featuregates``: the ``DynamicMIG`` gate, which the chart passes as ``FEATURE_GATES=Key=value,...``.

Nothing here talks to the API server or NVML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible_collections.gpufleet.mig.plugins.module_utils._catalog import CatalogError, model_by_key

__all__ = (
    'DRIVER',
    'DraError',
    'SHARED_COUNTERS',
    'claims_on_pool',
    'dynamic_mig_reason',
    'expected_devices',
    'mig_device_name',
    'parse_device',
    'planned_gpus',
    'plugin_pods',
    'published_devices',
)

DRIVER = 'gpu.nvidia.com'
# Why slices that share counters are refused (published_devices' 'dynamic'): the preflight, the migration and the report.
SHARED_COUNTERS = ('its ResourceSlices of driver %s share counters, which only dynamic MIG publishes; gpufleet.mig manages '
                   'static MIG only' % DRIVER)

# A GPU instance profile as go-nvlib's MigProfileInfo.String() writes it: "<g>g.<gb>gb", then "+attr,..." or "-attr,...".
# Compute-instance profiles ("1c.3g.20gb") are no GPU instance's name. The name part of a device name is built from it.
_GI_PROFILE = re.compile(r'^[1-9][0-9]*g\.[0-9]+gb([+-][a-z]+(,[a-z]+)*)?\Z')
_NOT_RFC1123 = re.compile(r'[^a-z0-9-.]')
# strconv.ParseBool, which the feature gates' parser uses.
_TRUE = ('1', 't', 'T', 'TRUE', 'true', 'True')
_FALSE = ('0', 'f', 'F', 'FALSE', 'false', 'False')
DYNAMIC_MIG = 'DynamicMIG'


class DraError(ValueError):
    """Input that cannot be compared, or a node gpufleet.mig refuses; ``problems`` lists each reason."""

    def __init__(self, problems):
        problems = [problems] if isinstance(problems, str) else list(problems)
        super(DraError, self).__init__('; '.join(problems))
        self.problems = problems


def mig_device_name(minor, profile, gi_profile_id, placement_start):
    """The device NVIDIA's driver publishes for a MIG device (MigSpecTuple.ToCanonicalName).

    The profile's dots go, then toRFC1123Compliant: lower case, any other character '-', '-' trimmed at both ends and
    one trailing '.' removed, so ``1g.10gb+me`` becomes ``1g10gb-me``.
    """
    pname = _NOT_RFC1123.sub('-', profile.replace('.', '').lower()).strip('-')
    if pname.endswith('.'):
        pname = pname[:-1]
    return 'gpu-%d-mig-%s-%d-%d' % (minor, pname, gi_profile_id, placement_start)


# gpu-<minor> or gpu-<minor>-mig-<profile name>-<GI profile id>-<placement start> (MigSpecTuple.ToCanonicalName). The
# profile part may hold '-' ("1g10gb-me"), so the last two numbers are the GI profile id and the placement start.
_DEVICE = re.compile(r'^gpu-(0|[1-9][0-9]*)(?:-mig-([a-z0-9][a-z0-9-]*?)-(0|[1-9][0-9]*)-(0|[1-9][0-9]*))?\Z')


def parse_device(name):
    """What a device name of NVIDIA's DRA driver says: {'minor', 'mig', 'profile_id', 'start'} (the last two None for a
    whole GPU); None for a name the driver does not give (another naming, or not a string)."""
    match = _DEVICE.match(name) if isinstance(name, str) else None
    if not match:
        return None
    minor, mig, profile_id, start = match.groups()
    return {'minor': int(minor), 'mig': mig is not None, 'profile_id': None if mig is None else int(profile_id),
            'start': None if mig is None else int(start)}


def _int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def expected_devices(gpus):
    """The device names NVIDIA's DRA kubelet plugin publishes, with static MIG, for ``gpus`` (gpu_info's node.gpus).

    DraError naming every problem: malformed entries, a GPU instance split into smaller compute instances (NVIDIA's
    plugin does not start: its profile lookup matches only full compute instances, ``getMigDevices``), and a
    MIG-enabled GPU without MIG devices, which the plugin publishes nothing for (stranded).
    """
    if not isinstance(gpus, list):
        raise DraError('gpus must be a list of GPUs as gpu_info returns them (node.gpus), got %r' % (gpus,))
    problems, devices, minors = [], [], {}
    for number, gpu in enumerate(gpus):
        where = 'gpus[%d]' % number
        if not isinstance(gpu, dict):
            problems.append('%s must be a GPU as gpu_info returns it (a mapping), got %r' % (where, gpu))
            continue
        where = 'gpus[%d] (GPU %s)' % (number, gpu.get('index', '?'))
        minor = gpu.get('minor_number')
        if not _int(minor):
            problems.append('%s: minor_number must be the GPU\'s device minor number (an integer of at least 0), got %r; '
                            'read the GPUs with gpu_info, which returns it' % (where, minor))
            continue
        if minor in minors:
            problems.append('%s: minor_number %d is also the minor number of gpus[%d]' % (where, minor, minors[minor]))
        minors[minor] = number
        mode = gpu.get('mig_mode')
        if not isinstance(mode, dict) or mode.get('current') not in (True, False, None):
            problems.append('%s: mig_mode must be a mapping whose current is true, false or null, got %r' % (where, mode))
            continue
        if not mode.get('current'):
            devices.append('gpu-%d' % minor)
            continue
        found, bad = _mig_devices(where, minor, gpu.get('gpu_instances'))
        problems.extend(bad)
        if not found and not bad:
            problems.append('%s: MIG is enabled but the GPU has no MIG devices, so NVIDIA\'s DRA driver publishes nothing for it '
                            '(stranded: neither the whole GPU nor a MIG device can be allocated); give it MIG devices or turn '
                            'MIG off' % where)
        devices.extend(found)
    if problems:
        raise DraError(problems)
    return sorted(devices)


def _mig_devices(where, minor, instances):
    """The device names of a MIG-enabled GPU's GPU instances, and the problems with them."""
    if not isinstance(instances, list):
        return [], ['%s: gpu_instances must be a list, got %r' % (where, instances)]
    found, problems = [], []
    for number, gi in enumerate(instances):
        at = '%s.gpu_instances[%d]' % (where, number)
        if not isinstance(gi, dict):
            problems.append('%s must be a mapping, got %r' % (at, gi))
            continue
        profile, profile_id = gi.get('profile'), gi.get('profile_id')
        start = gi['placement'].get('start') if isinstance(gi.get('placement'), dict) else None
        slices, cis = gi.get('compute_slices'), gi.get('compute_instances')
        if not isinstance(profile, str) or not _GI_PROFILE.match(profile):
            problems.append('%s: profile %r is not a GPU instance profile name NVIDIA\'s DRA driver names devices after '
                            '(valid: <slices>g.<GB>gb with optional +attributes, such as 1g.5gb or 1g.10gb+me)' % (at, profile))
            continue
        bad = [name for name, value in (('profile_id', profile_id), ('placement.start', start), ('compute_slices', slices))
               if not _int(value)]
        if bad:
            problems.append('%s (%s): %s must be integers of at least 0, as gpu_info returns them' % (at, profile, ', '.join(bad)))
            continue
        if not isinstance(cis, list):
            problems.append('%s (%s): compute_instances must be a list, as gpu_info returns it, got %r' % (at, profile, cis))
            continue
        sizes = [((ci or {}).get('placement') or {}).get('size') if isinstance(ci, dict) else None for ci in cis]
        if not cis:
            continue  # a GPU instance without compute instances is no MIG device (nothing to publish)
        if any(size != slices for size in sizes):
            problems.append('%s: GPU instance %s at %d is split into smaller compute instances (sizes %s of %d slices); NVIDIA\'s '
                            'DRA kubelet plugin does not start on such a GPU (it publishes only MIG devices that fill their GPU '
                            'instance)' % (at, profile, start, sizes, slices))
            continue
        found.append(mig_device_name(minor, profile, profile_id, start))
    return found, problems


def planned_gpus(gpus, planned):
    """``gpus`` (gpu_info's node.gpus) as they will be once ``planned`` (mig_layout's ``gpus`` result, from check mode) is
    applied, in the shape :func:`expected_devices` reads: so the preflight knows which devices the DRA driver will publish
    after the change before anything changes. A GPU the plan does not name stays as read.

    A planned GPU's instances come from its ``after`` layout (``placements``: profile, start, compute instances), with the
    GPU instance profile ids of its catalog model (``model``). DraError naming every entry that is not a mig_layout result.
    """
    if not isinstance(gpus, list):
        raise DraError('gpus must be a list of GPUs as gpu_info returns them (node.gpus), got %r' % (gpus,))
    if not isinstance(planned, list):
        raise DraError('planned_layouts must be the gpus list of a mig_layout result, got %r' % (planned,))
    problems, by_index = [], {}
    for number, entry in enumerate(planned):
        where = 'planned_layouts[%d]' % number
        if not isinstance(entry, Mapping) or not _int(entry.get('index')) or not isinstance(entry.get('mig_enabled'), bool):
            problems.append('%s must be a GPU result of mig_layout (index, mig_enabled, model, after), got %r' % (where, entry))
            continue
        try:
            by_index[entry['index']] = _planned_instances(where, entry) if entry['mig_enabled'] else None
        except DraError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DraError(problems)
    result = []
    for gpu in gpus:
        index = gpu.get('index') if isinstance(gpu, Mapping) else None
        if _int(index) and index in by_index:
            instances = by_index[index]
            gpu = dict(gpu, mig_mode=dict(gpu.get('mig_mode') or {}, current=instances is not None), gpu_instances=instances or [])
        result.append(gpu)
    return result


def _planned_instances(where, entry):
    """A planned GPU's instances, as gpu_info writes them (profile, profile_id, placement, compute slices and instances)."""
    after = entry.get('after')
    placements = after.get('placements') if isinstance(after, Mapping) else None
    if not isinstance(placements, list):
        raise DraError('%s (GPU %d): after.placements must be the list mig_layout plans, got %r' % (where, entry['index'], after))
    try:
        model = model_by_key(entry.get('model'))
    except CatalogError as exc:
        raise DraError('%s (GPU %d): %s' % (where, entry['index'], exc))
    instances, problems = [], []
    for number, placement in enumerate(placements):
        at = '%s.after.placements[%d]' % (where, number)
        try:
            profile = model.profile(placement['profile'])
            computes = [model.compute_profile(name)[1] for name in placement.get('compute_instances') or []]
            start = placement['start']
        except (CatalogError, KeyError, TypeError) as exc:
            problems.append('%s: %r is not a planned GPU instance of %s (%s)' % (at, placement, model.key, exc))
            continue
        instances.append({'profile': profile.name, 'profile_id': profile.profile_id, 'placement': {'start': start},
                          'compute_slices': profile.compute_slices,
                          'compute_instances': [{'placement': {'size': compute.slices}} for compute in computes]})
    if problems:
        raise DraError(problems)
    return instances


def published_devices(node, slices):
    """What the node's ResourceSlices of driver gpu.nvidia.com list: {'devices': sorted names, 'complete': bool,
    'dynamic': bool}.

    Slices of other drivers are left out. The pool must be the node's (NVIDIA's driver publishes one pool per node,
    named after it); DraError otherwise. Only the pool's newest generation counts, and it is complete once all of its
    ``resourceSliceCount`` slices are there (the scheduler's rule). ``dynamic`` is true when a slice shares counters
    or a device consumes them, which only dynamic MIG publishes.
    """
    mine, problems = [], []
    for item in slices:
        spec = item.get('spec') or {}
        if spec.get('driver') != DRIVER:
            continue
        name = (item.get('metadata') or {}).get('name')
        pool = spec.get('pool') or {}
        if spec.get('nodeName') != node:
            problems.append('ResourceSlice %s of driver %s is for node %r, not %s' % (name, DRIVER, spec.get('nodeName'), node))
        elif pool.get('name') != node:
            problems.append('ResourceSlice %s of driver %s on node %s is in pool %r; NVIDIA\'s DRA driver publishes a node\'s '
                            'devices in the pool named after the node (%s)' % (name, DRIVER, node, pool.get('name'), node))
        else:
            mine.append(item)
    if problems:
        raise DraError(problems)
    if not mine:
        return {'devices': [], 'complete': True, 'dynamic': False}  # nothing published is a complete empty list
    generation = max(item['spec']['pool'].get('generation') or 0 for item in mine)
    newest = [item for item in mine if (item['spec']['pool'].get('generation') or 0) == generation]
    count = max(item['spec']['pool'].get('resourceSliceCount') or 1 for item in newest)
    devices = [device for item in newest for device in item['spec'].get('devices') or []]
    dynamic = any(item['spec'].get('sharedCounters') for item in newest) or any(device.get('consumesCounters') for device in devices)
    return {'devices': sorted(device.get('name') for device in devices), 'complete': len(newest) >= count, 'dynamic': bool(dynamic)}


def claims_on_pool(claims, pool, devices=None):
    """The ResourceClaims allocated from ``pool`` of driver gpu.nvidia.com (on those of ``devices`` when given), each
    as {namespace, name, devices, reserved_for}: what a drain of the node has to consider."""
    found = []
    for claim in claims:
        results = ((((claim.get('status') or {}).get('allocation') or {}).get('devices') or {}).get('results') or [])
        held = sorted(result.get('device') for result in results if result.get('driver') == DRIVER and result.get('pool') == pool
                      and (devices is None or result.get('device') in devices))
        if not held:
            continue
        metadata = claim.get('metadata') or {}
        reserved = [dict((key, ref.get(key)) for key in ('resource', 'name', 'uid'))
                    for ref in (claim.get('status') or {}).get('reservedFor') or []]
        found.append({'namespace': metadata.get('namespace'), 'name': metadata.get('name'), 'devices': held, 'reserved_for': reserved})
    return sorted(found, key=lambda claim: (claim['namespace'] or '', claim['name'] or ''))


def plugin_pods(pods, daemonset):
    """The pods of ``pods`` that the DaemonSet ``daemonset`` owns."""
    return [pod for pod in pods if any(ref.get('kind') == 'DaemonSet' and ref.get('name') == daemonset
                                       for ref in (pod.get('metadata') or {}).get('ownerReferences') or [])]


def _gates(text):
    """The feature gates of a FEATURE_GATES value or --feature-gates flag, as component-base parses them (DraError)."""
    gates = {}
    for item in text.split(','):
        if not item:
            continue
        key, equals, value = item.partition('=')
        key, value = key.strip(), value.strip()
        if not equals or value not in _TRUE + _FALSE:
            raise DraError('feature gates %r: %r is not key=bool (valid bools: %s)' % (text, item, ', '.join(_TRUE + _FALSE)))
        gates[key] = value in _TRUE
    return gates


def _container_gates(container):
    """The feature-gate settings of one container in the order the plugin applies them, each merged key by key into the
    last (component-base's Set): FEATURE_GATES (the container's last entry of that name, as the kubelet sets it), then
    each --feature-gates flag; None for a value that comes from elsewhere (valueFrom)."""
    settings = []
    for env in container.get('env') or []:
        if env.get('name') == 'FEATURE_GATES':
            settings[:] = [env.get('value') if 'valueFrom' not in env else None]
    args = list(container.get('command') or []) + list(container.get('args') or [])
    for number, arg in enumerate(args):
        if arg.startswith('--feature-gates='):
            settings.append(arg.split('=', 1)[1])
        elif arg == '--feature-gates' and number + 1 < len(args):
            settings.append(args[number + 1])
    return settings


def dynamic_mig_reason(node, pods):
    """Why gpufleet.mig refuses the node: its DRA kubelet plugin pods run with DynamicMIG=true; None when none does.

    DraError when the gate's value cannot be read (malformed, or set from a ConfigMap or Secret).
    """
    for pod in pods:
        name = (pod.get('metadata') or {}).get('name')
        for container in (pod.get('spec') or {}).get('containers') or []:
            enabled = False
            for setting in _container_gates(container):
                if setting is None:
                    raise DraError('DRA kubelet plugin pod %s on node %s: container %s takes FEATURE_GATES from valueFrom, so '
                                   'gpufleet.mig cannot tell whether DynamicMIG is on; set it as a value'
                                   % (name, node, container.get('name')))
                enabled = _gates(setting).get(DYNAMIC_MIG, enabled)
            if enabled:
                return ('node %s: the DRA kubelet plugin pod %s runs with the feature gate DynamicMIG=true: NVIDIA\'s driver then '
                        'creates and destroys MIG devices itself as claims come and go, and destroys the MIG devices it did not '
                        'create when it starts, so a layout set by gpufleet.mig would not survive (NVIDIA: do not run mig-parted '
                        'or nvidia-smi mig beside it). Turn the gate off (chart value featureGates.DynamicMIG=false) for '
                        'static MIG, or leave the node to the DRA driver' % (node, name))
    return None
