# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kubelet's side of the device plugin API (``deviceplugin/v1beta1``) for one simulated node.

Written from the kubelet's device manager (``pkg/kubelet/cm/devicemanager``: ``plugin/v1beta1/server.go``,
``client.go``, ``manager.go``); real gRPC over unix sockets, with the stubs generated from the .proto that
NVIDIA's plugin vendors (gen_grpc.py):

- a ``Registration`` server on ``<kubelet dir>/device-plugins/kubelet.sock``;
- ``Register`` checks the API version and the resource name, dials the plugin's endpoint socket in the same
  directory and calls ``GetDevicePluginOptions`` before it answers (an error goes back to the plugin); then
  ``ListAndWatch`` runs in the background and every response replaces the resource's healthy and unhealthy
  device sets; a newer registration of the same resource replaces the endpoint;
- when a plugin's ``ListAndWatch`` stream ends (the plugin stopped or restarts), all devices of the resource
  become unhealthy: capacity keeps counting them, allocatable drops to 0; after the endpoint's stop grace
  period (kubelet: 5 minutes) without a new registration the resource is removed and the node shows it
  with capacity 0 (``GetCapacity``'s deleted resources).

``capacity()`` returns what the kubelet's node status setter writes (``MachineInfo``). ``allocate()`` gives the
node's pods their devices as the device manager's ``Allocate`` path records them (``podDevices``), which the
pod-resources API (sim_podresources.py) lists.
"""

from __future__ import absolute_import, division, print_function

import concurrent.futures
import os
import re
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUPPORTED_VERSIONS = ('v1beta1',)
HEALTHY = 'Healthy'
DIAL_TIMEOUT = 10.0  # the kubelet's dial timeout for a plugin's endpoint
_LABEL_NAME = re.compile(r'^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$')
_DNS_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')


def stubs_dir():
    """Where gen_grpc.py put the stubs: K8SSIM_GRPC, else .build/k8ssim-grpc of this checkout."""
    return os.environ.get('K8SSIM_GRPC') or os.path.join(ROOT, '.build', 'k8ssim-grpc')


def load_api():
    """(api_pb2, api_pb2_grpc, grpc) of deviceplugin/v1beta1; ImportError with the reason when unavailable."""
    path = stubs_dir()
    if not os.path.exists(os.path.join(path, 'deviceplugin', 'v1beta1', 'api_pb2_grpc.py')):
        raise ImportError('the device plugin API stubs are not generated in %s (make k8ssim-grpc, which needs NVIDIA\'s '
                          'unpacked sources from make nvidia-tools)' % path)
    if path not in sys.path:
        sys.path.insert(0, path)
    # The simulator forks plugin processes while gRPC threads run; gRPC's fork handlers are not needed for that.
    os.environ.setdefault('GRPC_ENABLE_FORK_SUPPORT', 'false')
    import grpc  # pylint: disable=import-outside-toplevel
    from deviceplugin.v1beta1 import api_pb2, api_pb2_grpc  # pylint: disable=import-outside-toplevel,import-error
    return api_pb2, api_pb2_grpc, grpc


def _go_quote(value):
    return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')


def is_extended_resource_name(name):
    """v1helper.IsExtendedResourceName: not a native resource (no prefix, or kubernetes.io/), not requests.*,
    and requests.<name> a qualified name."""
    if '/' not in name or 'kubernetes.io/' in name or name.startswith('requests.'):
        return False
    prefix, dummy, short = ('requests.' + name).partition('/')
    if '/' in short or not short or len(short) > 63 or not _LABEL_NAME.match(short):
        return False
    return 0 < len(prefix) <= 253 and all(_DNS_LABEL.match(part) for part in prefix.split('.'))


class _Endpoint(object):
    """One registered plugin endpoint (a client of the kubelet)."""

    def __init__(self, resource, socket, channel, options):
        self.resource = resource
        self.socket = socket
        self.channel = channel
        self.options = options
        self.registered_at = time.monotonic()
        self.first_list_at = None
        self.stopped_at = None


class DeviceManager(object):
    """The device manager of one node's kubelet."""

    def __init__(self, node, kubelet_dir, stop_grace=300.0, log=None):
        self.node = node
        self.kubelet_dir = kubelet_dir
        self.plugin_dir = os.path.join(kubelet_dir, 'device-plugins')
        self.socket = os.path.join(self.plugin_dir, 'kubelet.sock')
        self.stop_grace = float(stop_grace)
        self.log = log or (lambda message: print(message, file=sys.stderr))
        self.lock = threading.Lock()
        self.endpoints = {}  # resource -> _Endpoint
        self.healthy = {}  # resource -> set of device ids
        self.unhealthy = {}
        self.registrations = []  # (monotonic time, resource, endpoint) of every accepted registration
        self.allocated = {}  # pod uid -> [(container, {resource: [device ids]})], the device manager's podDevices
        self.server = None
        self.api = None

    # ------------------------------------------------------------------ server
    def start(self):
        api_pb2, api_pb2_grpc, grpc = self.api = load_api()
        os.makedirs(self.plugin_dir, exist_ok=True)
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        manager = self

        class Registration(api_pb2_grpc.RegistrationServicer):
            def Register(self, request, context):  # noqa: N802  (the gRPC method name)
                error = manager.register(request)
                if error:
                    # The kubelet returns a plain Go error: gRPC status Unknown with the error's text.
                    context.abort(grpc.StatusCode.UNKNOWN, error)
                return api_pb2.Empty()

        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix='kubelet-%s' % self.node))
        api_pb2_grpc.add_RegistrationServicer_to_server(Registration(), self.server)
        self.server.add_insecure_port('unix:' + self.socket)
        self.server.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.stop(0).wait(5)
            self.server = None
        with self.lock:
            endpoints = list(self.endpoints.values())
        for endpoint in endpoints:
            endpoint.channel.close()
        if os.path.exists(self.socket):
            os.unlink(self.socket)

    # ------------------------------------------------------------------ registration
    def register(self, request):
        """Handle a RegisterRequest; returns None, or the error the kubelet answers with."""
        api_pb2, api_pb2_grpc, grpc = self.api
        resource = request.resource_name
        if request.version not in SUPPORTED_VERSIONS:
            error = 'requested API version %s is not supported by kubelet. Supported versions are [%s]' % (
                _go_quote(request.version), ' '.join(_go_quote(v) for v in SUPPORTED_VERSIONS))
            self.log('kubelet %s: bad registration request from device plugin with resource %s: %s' % (self.node, resource, error))
            return error
        if not is_extended_resource_name(resource):
            error = 'the ResourceName %s is invalid' % _go_quote(resource)
            self.log('kubelet %s: bad registration request from device plugin: %s' % (self.node, error))
            return error
        socket = os.path.join(self.plugin_dir, request.endpoint)
        channel = grpc.insecure_channel('unix:' + socket)
        try:
            grpc.channel_ready_future(channel).result(timeout=DIAL_TIMEOUT)
            stub = api_pb2_grpc.DevicePluginStub(channel)
            options = stub.GetDevicePluginOptions(api_pb2.Empty(), timeout=DIAL_TIMEOUT)
        except (grpc.FutureTimeoutError, grpc.RpcError) as exc:
            channel.close()
            error = 'failed to dial device plugin: %s' % (exc.details() if hasattr(exc, 'details') else 'context deadline exceeded')
            self.log('kubelet %s: error connecting to device plugin client for %s: %s' % (self.node, resource, error))
            return error
        endpoint = _Endpoint(resource, socket, channel, options)
        with self.lock:
            old = self.endpoints.get(resource)
            self.endpoints[resource] = endpoint
            self.registrations.append((endpoint.registered_at, resource, request.endpoint))
        if old is not None:
            old.channel.close()
        self.log('kubelet %s: registered device plugin for %s at %s' % (self.node, resource, request.endpoint))
        thread = threading.Thread(target=self._list_and_watch, args=(endpoint, stub), name='law-%s-%s' % (self.node, resource))
        thread.daemon = True
        thread.start()
        return None

    def _list_and_watch(self, endpoint, stub):
        api_pb2, dummy, grpc = self.api
        try:
            for response in stub.ListAndWatch(api_pb2.Empty()):
                with self.lock:
                    if self.endpoints.get(endpoint.resource) is not endpoint:
                        return
                    self.healthy[endpoint.resource] = set(d.ID for d in response.devices if d.health == HEALTHY)
                    self.unhealthy[endpoint.resource] = set(d.ID for d in response.devices if d.health != HEALTHY)
                    if endpoint.first_list_at is None:
                        endpoint.first_list_at = time.monotonic()
        except grpc.RpcError as exc:
            self.log('kubelet %s: ListAndWatch ended unexpectedly for device plugin %s: %s' % (self.node, endpoint.resource, exc.code()))
        with self.lock:
            if self.endpoints.get(endpoint.resource) is endpoint and endpoint.stopped_at is None:
                # PluginDisconnected: markResourceUnhealthy, and the endpoint's stop time starts its grace period.
                devices = self.healthy.get(endpoint.resource, set())
                self.healthy[endpoint.resource] = set()
                self.unhealthy[endpoint.resource] = self.unhealthy.get(endpoint.resource, set()) | devices
                endpoint.stopped_at = time.monotonic()
        endpoint.channel.close()

    # ------------------------------------------------------------------ state
    def capacity(self, now=None):
        """GetCapacity: (capacity, allocatable, removed) of the device plugin resources; removed resources are
        forgotten here (the node status then shows them with capacity 0)."""
        now = time.monotonic() if now is None else now
        capacity, allocatable, removed = {}, {}, []
        with self.lock:
            for resource in sorted(set(self.healthy) | set(self.unhealthy)):
                endpoint = self.endpoints.get(resource)
                if endpoint is None or (endpoint.stopped_at is not None and now - endpoint.stopped_at >= self.stop_grace):
                    self.endpoints.pop(resource, None)
                    self.healthy.pop(resource, None)
                    self.unhealthy.pop(resource, None)
                    removed.append(resource)
                    continue
                healthy = len(self.healthy.get(resource, ()))
                capacity[resource] = healthy + len(self.unhealthy.get(resource, ()))
                allocatable[resource] = healthy
        return capacity, allocatable, removed

    def allocate(self, pods):
        """Give each pod of ``pods`` (``[(uid, [(container, {resource: count})])]``, the node's admitted pods) that
        has no devices yet the devices of this manager's resources it requests; forget the pods no longer listed.

        [simplified] The first free healthy ids in sorted order: the real kubelet asks the plugin's
        GetPreferredAllocation where offered, else takes any free ones. A pod asking for more than is free gets
        nothing yet and is tried again at the next call (the real kubelet rejects it: UnexpectedAdmissionError).
        """
        with self.lock:
            live = set(uid for uid, dummy in pods)
            for uid in [uid for uid in self.allocated if uid not in live]:
                del self.allocated[uid]
            used = set(device for containers in self.allocated.values() for dummy, devices in containers
                       for ids in devices.values() for device in ids)
            for uid, containers in pods:
                if uid in self.allocated:
                    continue
                wanted = [(name, dict((r, int(n)) for r, n in requests.items() if r in self.endpoints and n >= 1))
                          for name, requests in containers]
                if not any(requests for dummy, requests in wanted):
                    continue
                taken, result = set(), []
                for name, requests in wanted:
                    devices = {}
                    for resource, count in sorted(requests.items()):
                        free = sorted(self.healthy.get(resource, set()) - used - taken)[:count]
                        devices[resource] = free
                        taken.update(free)
                    result.append((name, devices))
                if all(len(ids) == requests[r] for (dummy, ids_by), (dummy2, requests) in zip(result, wanted) for r, ids in ids_by.items()):
                    self.allocated[uid] = result
                    used |= taken

    def pod_devices(self, uid):
        """The devices allocated to the pod, per container: [(container, {resource: [device ids]})]."""
        with self.lock:
            return [(name, dict((r, list(ids)) for r, ids in devices.items())) for name, devices in self.allocated.get(uid, [])]

    def healthy_counts(self):
        """resource -> healthy devices, for the resources whose endpoint is connected."""
        with self.lock:
            return dict((r, len(self.healthy.get(r, ()))) for r, e in self.endpoints.items()
                        if e.stopped_at is None and e.first_list_at is not None)

    def last_registration(self):
        with self.lock:
            return self.registrations[-1][0] if self.registrations else None

    def last_listed(self):
        """When the newest connected endpoint sent its first device list."""
        with self.lock:
            times = [e.first_list_at for e in self.endpoints.values() if e.first_list_at is not None and e.stopped_at is None]
        return max(times) if times else None

    def connected_since(self, since):
        """Resources registered at or after ``since`` that sent their first device list and are still connected."""
        with self.lock:
            return sorted(r for r, e in self.endpoints.items()
                          if e.registered_at >= since and e.first_list_at is not None and e.stopped_at is None)


def apply_to_node(node, capacity, allocatable, removed):
    """Write the device manager's view into a Node object as the kubelet's node status setter does: capacity of
    every resource, 0 for removed ones, allocatable from the healthy devices.  Returns True when it changed."""
    status = node.setdefault('status', {})
    node_capacity = status.setdefault('capacity', {})
    node_allocatable = status.setdefault('allocatable', {})
    before = (dict(node_capacity), dict(node_allocatable))
    for name, count in capacity.items():
        node_capacity[name] = str(count)
        node_allocatable[name] = str(allocatable.get(name, count))
    for name in removed:
        node_capacity[name] = '0'
        node_allocatable[name] = '0'
    return before != (node_capacity, node_allocatable)
