# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kubelet's pod-resources API (``podresources/v1``, service ``v1.PodResourcesLister``) for one simulated node.

Written from the Kubernetes documentation (device plugins, "Monitoring device plugin resources", which prints the
service and its messages) and the kubelet's ``pkg/kubelet/apis/podresources/server_v1.go``: ``List`` answers every pod
the kubelet knows on its node, each container with the devices the device manager allocated to it, per resource.
``GetAllocatableResources`` and ``Get`` are not served (a real kubelet serves them; gRPC answers UNIMPLEMENTED here).

Devices allocated through Dynamic Resource Allocation go into each container's ``dynamic_resources``: per claim the
container uses (``resources.claims``), its namespace and name and per allocated device the driver, pool and device
name with the CDI device ids the driver prepared (``GetContainerClaimInfos`` of the kubelet's DRA manager; on by
default from 1.34, feature gate ``KubeletPodResourcesDynamicResources`` beta).

The messages are declared here in full as a 1.34 kubelet has them, independently of the collection's client (which
declares only the fields it reads), so that a wrong field number on either side shows. Field numbers checked against
``pkg/apis/podresources/v1/api.proto`` of kubernetes/kubelet v0.34.0 (2108ddc4): ``DynamicResource`` starts at 2 (its
``class_name`` = 1 was removed in 1.31); ``ClaimResource.share_id`` = 5 came in 1.35 and is left out.
"""

from __future__ import absolute_import, division, print_function

import concurrent.futures
import os

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SOCKET_DIR = 'pod-resources'
SOCKET_NAME = 'kubelet.sock'

_STRING = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_INT64 = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
_UINT64 = descriptor_pb2.FieldDescriptorProto.TYPE_UINT64
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
_ONE = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_MANY = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED

# name -> [(field, number, type, label, message type)]
_MESSAGES = {
    'ListPodResourcesRequest': [],
    'ListPodResourcesResponse': [('pod_resources', 1, _MESSAGE, _MANY, 'PodResources')],
    'PodResources': [('name', 1, _STRING, _ONE, None), ('namespace', 2, _STRING, _ONE, None),
                     ('containers', 3, _MESSAGE, _MANY, 'ContainerResources')],
    'ContainerResources': [('name', 1, _STRING, _ONE, None), ('devices', 2, _MESSAGE, _MANY, 'ContainerDevices'),
                           ('cpu_ids', 3, _INT64, _MANY, None), ('memory', 4, _MESSAGE, _MANY, 'ContainerMemory'),
                           ('dynamic_resources', 5, _MESSAGE, _MANY, 'DynamicResource')],
    'ContainerMemory': [('memory_type', 1, _STRING, _ONE, None), ('size', 2, _UINT64, _ONE, None),
                        ('topology', 3, _MESSAGE, _ONE, 'TopologyInfo')],
    'ContainerDevices': [('resource_name', 1, _STRING, _ONE, None), ('device_ids', 2, _STRING, _MANY, None),
                         ('topology', 3, _MESSAGE, _ONE, 'TopologyInfo')],
    'TopologyInfo': [('nodes', 1, _MESSAGE, _MANY, 'NUMANode')],
    'NUMANode': [('ID', 1, _INT64, _ONE, None)],
    'DynamicResource': [('claim_name', 2, _STRING, _ONE, None), ('claim_namespace', 3, _STRING, _ONE, None),
                        ('claim_resources', 4, _MESSAGE, _MANY, 'ClaimResource')],
    'ClaimResource': [('cdi_devices', 1, _MESSAGE, _MANY, 'CDIDevice'), ('driver_name', 2, _STRING, _ONE, None),
                      ('pool_name', 3, _STRING, _ONE, None), ('device_name', 4, _STRING, _ONE, None)],
    'CDIDevice': [('name', 1, _STRING, _ONE, None)],
}


def _classes():
    proto = descriptor_pb2.FileDescriptorProto(name='k8ssim/podresources/v1/api.proto', package='v1', syntax='proto3')
    for name, fields in sorted(_MESSAGES.items()):
        message = proto.message_type.add(name=name)
        for field_name, number, field_type, label, type_name in fields:
            field = message.field.add(name=field_name, number=number, type=field_type, label=label)
            if type_name:
                field.type_name = '.v1.' + type_name
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return dict((name, message_factory.GetMessageClass(pool.FindMessageTypeByName('v1.' + name))) for name in _MESSAGES)


MESSAGES = _classes()


def socket_path(kubelet_dir):
    return os.path.join(kubelet_dir, SOCKET_DIR, SOCKET_NAME)


class PodResourcesServer(object):
    """``v1.PodResourcesLister`` on ``<kubelet dir>/pod-resources/kubelet.sock``.

    ``lister()`` returns the node's pods as ``[(namespace, name, [(container, {resource: [device ids]}[, claims])])]``
    where the optional ``claims`` are the container's DRA claims: ``[(claim namespace, claim name, [(driver, pool,
    device, [CDI device ids])])]``.
    """

    def __init__(self, node, kubelet_dir, lister):
        self.node = node
        self.socket = socket_path(kubelet_dir)
        self.lister = lister
        self.server = None

    def list(self, request, context):
        del request, context
        response = MESSAGES['ListPodResourcesResponse']()
        for namespace, name, containers in self.lister():
            pod = response.pod_resources.add(namespace=namespace, name=name)
            for item in containers:
                container, devices, claims = (tuple(item) + ([],))[:3]
                entry = pod.containers.add(name=container)
                for resource, ids in sorted(devices.items()):
                    entry.devices.add(resource_name=resource, device_ids=list(ids))
                for claim_namespace, claim_name, results in claims:
                    dynamic = entry.dynamic_resources.add(claim_name=claim_name, claim_namespace=claim_namespace)
                    for driver, pool, device, cdi_ids in results:
                        resource = dynamic.claim_resources.add(driver_name=driver, pool_name=pool, device_name=device)
                        for cdi in cdi_ids:
                            resource.cdi_devices.add(name=cdi)
        return response

    def start(self):
        os.makedirs(os.path.dirname(self.socket), exist_ok=True)
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        handler = grpc.method_handlers_generic_handler('v1.PodResourcesLister', {
            'List': grpc.unary_unary_rpc_method_handler(
                self.list, request_deserializer=MESSAGES['ListPodResourcesRequest'].FromString,
                response_serializer=MESSAGES['ListPodResourcesResponse'].SerializeToString)})
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix='podres-%s' % self.node))
        self.server.add_generic_rpc_handlers((handler,))
        self.server.add_insecure_port('unix:' + self.socket)
        self.server.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.stop(0).wait(5)
            self.server = None
        if os.path.exists(self.socket):
            os.unlink(self.socket)
