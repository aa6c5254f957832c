# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Which pod holds which GPU, from the kubelet's pod-resources API (``podresources/v1``), on the node.

``list_pod_devices`` calls ``v1.PodResourcesLister/List`` on the kubelet's unix socket and returns, per pod
(``namespace/name``), the device ids it holds per resource name. ``pods_to_gpus`` maps those ids to the GPU indexes
of ``gpu_info``'s GPUs, ``pods_to_instances`` MIG device ids to their GPU instances (GPU index and placement start),
both through one parser (``_place_of``): NVIDIA's device plugin hands the kubelet the GPU UUID of a full GPU and the
MIG device UUID of a MIG device, whatever its ``deviceIDStrategy`` (that strategy only changes what the container is given), with ``::N``
appended for a time-sliced or MPS replica (k8s-device-plugin v0.20.0 ``internal/rm/devices.go``: ``dev.ID = uuid``,
``NewAnnotatedID``).

Devices handed out by Dynamic Resource Allocation are not in ``devices``: the kubelet lists them per container in
``dynamic_resources`` (the claim's namespace and name, and per device its driver, pool and device name), by default
from Kubernetes 1.34 (feature gate ``KubeletPodResourcesDynamicResources``, beta). ``pods_to_gpus`` maps a device of
NVIDIA's DRA driver (``gpu.nvidia.com``) to its GPU through the minor number its name starts with (``gpu-<minor>`` or
``gpu-<minor>-mig-<profile>-<GI profile id>-<placement start>``, the regular expression of the driver's
``mig.go`` ``canonicalMigNameRegex``) and ``gpu_info``'s ``minor_number``.

The message types are built at import time from a ``FileDescriptorProto`` instead of protoc-generated code: only the
fields read here are declared; proto3 parsers skip the others (cpu_ids, memory, topology, cdi_devices, share_id).
Field numbers follow ``k8s.io/kubelet/pkg/apis/podresources/v1/api.proto`` (kubernetes/kubelet v0.34.0: ``DynamicResource``
starts at 2, its ``class_name`` = 1 was removed in 1.31).
"""

from __future__ import annotations

import os
import re

from ansible_collections.gpufleet.mig.plugins.module_utils._dra import DRIVER as DRA_DRIVER, parse_device

try:
    import grpc
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
except ImportError as exc:  # the caller falls back to the node-level drain
    grpc = None
    IMPORT_ERROR = '%s (the Python packages grpcio and protobuf are needed on the node)' % exc
else:
    IMPORT_ERROR = None

__all__ = (
    'DEFAULT_SOCKET',
    'PodResourcesUnavailable',
    'dra_device_id',
    'list_pod_devices',
    'list_pod_resources',
    'pods_to_gpus',
    'pods_to_instances',
)

DEFAULT_SOCKET = '/var/lib/kubelet/pod-resources/kubelet.sock'
LIST_METHOD = '/v1.PodResourcesLister/List'
# The kubelet's own client allows 16 MiB answers (podresources.DefaultMaxMsgSize); gRPC's default of 4 MiB is too
# small for a node with many pods.
MAX_MESSAGE = 16 * 1024 * 1024
# 'MIG-GPU-<gpu uuid>/<gi>/<ci>': the MIG device UUID of R450 and R460 drivers, which names its GPU and GPU instance id.
_OLD_MIG_UUID = re.compile(r'^MIG-(GPU-[^/]+)/(\d+)/\d+$')
# NVIDIA's DRA driver's device names (_dra.parse_device): a whole GPU is 'gpu-<minor>', a static MIG device
# 'gpu-<minor>-mig-<profile>-<GI profile id>-<placement start>'. Its other devices ('gpu-vfio-<index>', for passthrough)
# do not name a minor.


class PodResourcesUnavailable(Exception):
    """The pod-resources API could not be read; the message says why."""


def _message_types():
    """(ListPodResourcesRequest, ListPodResourcesResponse) classes, built from their descriptors."""
    proto = descriptor_pb2.FileDescriptorProto(name='gpufleet_mig/podresources/v1/api.proto', package='v1', syntax='proto3')
    string, repeated, optional = (descriptor_pb2.FieldDescriptorProto.TYPE_STRING, descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
                                  descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    message = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE

    def add(name, fields):
        entry = proto.message_type.add(name=name)
        for field_name, number, field_type, label, type_name in fields:
            field = entry.field.add(name=field_name, number=number, type=field_type, label=label)
            if type_name:
                field.type_name = '.v1.' + type_name

    add('ListPodResourcesRequest', [])
    add('ListPodResourcesResponse', [('pod_resources', 1, message, repeated, 'PodResources')])
    add('PodResources', [('name', 1, string, optional, None), ('namespace', 2, string, optional, None),
                         ('containers', 3, message, repeated, 'ContainerResources')])
    add('ContainerResources', [('name', 1, string, optional, None), ('devices', 2, message, repeated, 'ContainerDevices'),
                               ('dynamic_resources', 5, message, repeated, 'DynamicResource')])
    add('ContainerDevices', [('resource_name', 1, string, optional, None), ('device_ids', 2, string, repeated, None)])
    add('DynamicResource', [('claim_name', 2, string, optional, None), ('claim_namespace', 3, string, optional, None),
                            ('claim_resources', 4, message, repeated, 'ClaimResource')])
    add('ClaimResource', [('driver_name', 2, string, optional, None), ('pool_name', 3, string, optional, None),
                          ('device_name', 4, string, optional, None)])
    # A pool of our own: the default pool may already hold another 'v1' package (e.g. the kubelet's real stubs).
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return tuple(message_factory.GetMessageClass(pool.FindMessageTypeByName('v1.' + name))
                 for name in ('ListPodResourcesRequest', 'ListPodResourcesResponse'))


if IMPORT_ERROR is None:
    ListRequest, ListResponse = _message_types()


def list_pod_devices(socket=DEFAULT_SOCKET, timeout=10.0):
    """``{'namespace/name': {resource name: [device ids]}}`` of every pod the kubelet lists, with or without devices:
    the first half of :func:`list_pod_resources`."""
    return list_pod_resources(socket, timeout)[0]


def list_pod_resources(socket=DEFAULT_SOCKET, timeout=10.0):
    """``(devices, claims)`` of every pod the kubelet lists.

    ``devices``: ``{'namespace/name': {resource name: [device ids]}}``, every pod, with or without devices (the device
    plugins' devices). ``claims``: ``{'namespace/name': [{'claim', 'driver', 'pool', 'device'}]}``, only the pods with
    devices from Dynamic Resource Allocation, each device once (``claim`` is 'namespace/name' of its ResourceClaim).

    Raises PodResourcesUnavailable with the reason when the libraries are missing or the socket is absent,
    unreachable, too slow or answers an error.
    """
    if IMPORT_ERROR:
        raise PodResourcesUnavailable('cannot read the pod-resources API: %s' % IMPORT_ERROR)
    if not os.path.exists(socket):
        raise PodResourcesUnavailable('the kubelet pod-resources socket %s does not exist (kubelet not running, or another '
                                      '--root-dir?)' % socket)
    channel = grpc.insecure_channel('unix:' + socket, options=[('grpc.max_receive_message_length', MAX_MESSAGE)])
    try:
        call = channel.unary_unary(LIST_METHOD, request_serializer=ListRequest.SerializeToString,
                                   response_deserializer=ListResponse.FromString)
        response = call(ListRequest(), timeout=timeout)
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, 'code') else None
        details = exc.details() if hasattr(exc, 'details') else str(exc)
        raise PodResourcesUnavailable('the kubelet pod-resources API on %s did not answer List (%s): %s' % (
            socket, code.name if code is not None else 'error', details))
    finally:
        channel.close()
    pods, claims = {}, {}
    for pod in response.pod_resources:
        name = '%s/%s' % (pod.namespace, pod.name)
        devices = pods.setdefault(name, {})
        for container in pod.containers:
            for entry in container.devices:
                ids = devices.setdefault(entry.resource_name, [])
                ids.extend(device for device in entry.device_ids if device not in ids)
            # Containers that share a claim each list its devices: one entry per device of a claim.
            for dynamic in container.dynamic_resources:
                for resource in dynamic.claim_resources:
                    held = {'claim': '%s/%s' % (dynamic.claim_namespace, dynamic.claim_name), 'driver': resource.driver_name,
                            'pool': resource.pool_name, 'device': resource.device_name}
                    if held not in claims.setdefault(name, []):
                        claims[name].append(held)
    return pods, claims


def _device_places(gpus):
    """Device id -> (GPU index, GPU instance start), from ``gpu_info``'s GPUs: a GPU's UUID gives ``(index, None)``, the
    UUID of a MIG device (a compute instance) gives its GPU instance's ``placement.start``."""
    places = {}
    for gpu in gpus:
        if gpu.get('uuid'):
            places[gpu['uuid']] = (gpu['index'], None)
        for gi in gpu.get('gpu_instances') or []:
            start = (gi.get('placement') or {}).get('start')
            for ci in gi.get('compute_instances') or []:
                if ci.get('uuid'):
                    places[ci['uuid']] = (gpu['index'], start)
            if gpu.get('uuid') and gi.get('id') is not None:
                places[(gpu['uuid'], str(gi['id']))] = (gpu['index'], start)
    return places


def _place_of(device, places):
    """Where a device id of the kubelet's answer is, as in :func:`_device_places`, or None when no GPU has it."""
    # A replica of a shared device: '<uuid>::<replica>'.
    uuid = device.split('::', 1)[0]
    if uuid in places:
        return places[uuid]
    old = _OLD_MIG_UUID.match(uuid)
    if not old:
        return None
    # An old MIG UUID whose GPU instance gpu_info does not list is still on its GPU, at an unknown start.
    gpu = places.get(old.group(1))
    return places.get((old.group(1), old.group(2)), (gpu[0], None) if gpu else None)


def dra_device_id(held):
    """An allocated DRA device as Kubernetes names it: 'driver/pool/device'."""
    return '%s/%s/%s' % (held.get('driver'), held.get('pool'), held.get('device'))


def _dra_place(device, by_minor):
    """Where a device of NVIDIA's DRA driver is, from its name: ``((GPU index, GPU instance start or None), None)``, or
    ``(None, why not)`` when the name does not start with a minor number or no GPU has that minor number."""
    parsed = parse_device(device)
    if not parsed:
        return None, ('the name is neither gpu-<minor> nor gpu-<minor>-mig-<profile>-<GI profile id>-<placement start>, so it '
                      'names no GPU')
    minor = parsed['minor']
    if minor not in by_minor:
        return None, 'minor number %d is the minor number of no GPU of gpus (%s)' % (
            minor, ', '.join('GPU %s: %s' % (index, number) for number, index in sorted(by_minor.items())) or 'none has one')
    return (by_minor[minor], parsed['start']), None


def pods_to_gpus(pod_devices, gpus, prefixes=('nvidia.com/',), claims=None):
    """Map pods to the GPUs they hold.

    ``pod_devices`` and ``claims``: :func:`list_pod_resources`' answer; ``gpus``: ``gpu_info``'s ``node.gpus``. Only
    resources whose name starts with one of ``prefixes`` count, and devices of NVIDIA's DRA driver (``gpu.nvidia.com``),
    found by the minor number in their names (``minor_number`` of ``gpus``); other drivers' devices are no GPUs.
    Returns ``(pod_gpus, unknown, unmapped)``: ``pod_gpus`` maps each pod that holds GPU devices, all of them known, to
    the sorted GPU indexes; ``unknown`` maps a pod to its device ids (a DRA device as 'driver/pool/device') that match no
    GPU; ``unmapped`` says, one sentence per device, why a DRA device of ``gpu.nvidia.com`` names no GPU of ``gpus``.
    A pod in ``unknown`` is left out of ``pod_gpus``: where it runs is not known, so a drain must treat it as on every GPU.
    """
    return _pods_on(pod_devices, gpus, prefixes, lambda place: place[0], claims)


def pods_to_instances(pod_devices, gpus, prefixes=('nvidia.com/mig-',), claims=None):
    """Map pods to the MIG GPU instances they hold.

    As :func:`pods_to_gpus`, for the resources whose name starts with one of ``prefixes`` (NVIDIA's ``mixed`` strategy
    names MIG devices ``nvidia.com/mig-<profile>``) and the static MIG devices of NVIDIA's DRA driver in ``claims``,
    whose names carry their placement start. Returns ``(pod_instances, unknown)``: ``pod_instances`` maps each pod
    that holds such devices, all of them known, to the sorted ``(GPU index, placement start)`` of their GPU instances;
    ``unknown`` maps a pod to its device ids that name no GPU instance of ``gpus`` (a device no GPU has, a full GPU, a
    GPU instance gpu_info does not list); such a pod is left out of ``pod_instances``.
    """
    return _pods_on(pod_devices, gpus, prefixes, lambda place: place if place[1] is not None else None, claims)[:2]


def _pods_on(pod_devices, gpus, prefixes, key, claims=None):
    """``(pod -> sorted keys of its devices, pod -> unknown device ids, why DRA devices are unknown)``: ``key(place)``
    of each device's place, None when that place does not count (the device is then unknown); a pod with an unknown
    device is left out."""
    places = _device_places(gpus)
    by_minor = dict((gpu['minor_number'], gpu['index']) for gpu in gpus
                    if isinstance(gpu.get('minor_number'), int) and not isinstance(gpu.get('minor_number'), bool))
    claims = claims or {}
    held_by, unknown, unmapped = {}, {}, []
    for pod in sorted(set(pod_devices) | set(claims)):
        held = set()
        for resource, ids in sorted((pod_devices.get(pod) or {}).items()):
            if not resource.startswith(tuple(prefixes)):
                continue
            for device in ids:
                place = _place_of(device, places)
                found = None if place is None else key(place)
                if found is None:
                    unknown.setdefault(pod, []).append(device)
                else:
                    held.add(found)
        for entry in claims.get(pod) or []:
            if entry.get('driver') != DRA_DRIVER:
                continue  # another driver's device is no GPU
            place, why = _dra_place(entry.get('device'), by_minor)
            found = None if place is None else key(place)
            if found is None:
                unknown.setdefault(pod, []).append(dra_device_id(entry))
                if why:
                    unmapped.append('pod %s, claim %s: device %s: %s' % (pod, entry.get('claim'), dra_device_id(entry), why))
            else:
                held.add(found)
        if held and pod not in unknown:
            held_by[pod] = sorted(held)
    return held_by, unknown, unmapped
