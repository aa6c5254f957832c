# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated kubelet's side of the device plugin API (sim_kubelet.py), over real gRPC on unix sockets,
against a small device plugin written here with the same generated stubs: registration checks, ListAndWatch
updates, health changes, a stopped plugin, re-registration, the stop grace period."""

from __future__ import absolute_import, division, print_function

import os
import queue
import tempfile
import shutil
import concurrent.futures

import pytest

import sim_kubelet
from simhelpers import wait_until


@pytest.fixture(name='api')
def api_fixture():
    try:
        return sim_kubelet.load_api()
    except ImportError as exc:
        if os.environ.get('CI') == 'true':
            pytest.fail('CI must test the kubelet side of the device plugin API, but: %s' % exc)
        pytest.skip(str(exc))


@pytest.fixture(name='kubelet_dir')
def kubelet_dir_fixture():
    # Unix socket paths are limited to 107 bytes: a short folder, not pytest's tmp_path.
    path = tempfile.mkdtemp(prefix='k8ssim-kt-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


class TinyPlugin(object):
    """A device plugin: serves DevicePlugin on <dir>/device-plugins/<endpoint>, registers one resource."""

    def __init__(self, api, kubelet_dir, resource, endpoint, devices):
        self.api_pb2, self.api_grpc, self.grpc = api
        self.resource = resource
        self.endpoint = endpoint
        self.devices = dict(devices)  # id -> health
        self.socket = os.path.join(kubelet_dir, 'device-plugins', endpoint)
        self.kubelet_socket = os.path.join(kubelet_dir, 'device-plugins', 'kubelet.sock')
        self.updates = queue.Queue()
        self.server = None

    def start(self):
        plugin = self
        api_pb2 = self.api_pb2

        class Servicer(self.api_grpc.DevicePluginServicer):
            def GetDevicePluginOptions(self, request, context):  # noqa: N802
                return api_pb2.DevicePluginOptions(get_preferred_allocation_available=True)

            def ListAndWatch(self, request, context):  # noqa: N802
                yield plugin.response()
                while context.is_active():
                    try:
                        item = plugin.updates.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    if item is None:
                        return
                    yield plugin.response()

        self.server = self.grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
        self.api_grpc.add_DevicePluginServicer_to_server(Servicer(), self.server)
        self.server.add_insecure_port('unix:' + self.socket)
        self.server.start()
        return self

    def response(self):
        return self.api_pb2.ListAndWatchResponse(devices=[self.api_pb2.Device(ID=i, health=h) for i, h in sorted(self.devices.items())])

    def register(self, version='v1beta1', resource=None):
        with self.grpc.insecure_channel('unix:' + self.kubelet_socket) as channel:
            self.api_grpc.RegistrationStub(channel).Register(self.api_pb2.RegisterRequest(
                version=version, endpoint=self.endpoint, resource_name=resource or self.resource), timeout=15)

    def set_health(self, device, health):
        self.devices[device] = health
        self.updates.put(True)

    def stop(self):
        self.updates.put(None)
        self.server.stop(0).wait(5)


@pytest.fixture(name='manager')
def manager_fixture(api, kubelet_dir):
    del api
    manager = sim_kubelet.DeviceManager('n1', kubelet_dir, stop_grace=0.6, log=lambda message: None).start()
    plugins = []
    yield manager, plugins
    for plugin in plugins:
        plugin.stop()
    manager.stop()


def _plugin(api, manager, resource, endpoint, devices):
    plugin = TinyPlugin(api, manager[0].kubelet_dir, resource, endpoint, devices).start()
    manager[1].append(plugin)
    return plugin


def test_registration_list_and_watch_and_health(api, manager):
    kubelet = manager[0]
    assert os.path.exists(kubelet.socket)
    gpu = _plugin(api, manager, 'nvidia.com/mig-1g.5gb', 'nvidia-mig-1g.5gb.sock', {'MIG-a': 'Healthy', 'MIG-b': 'Healthy'})
    big = _plugin(api, manager, 'nvidia.com/mig-3g.20gb', 'nvidia-mig-3g.20gb.sock', {'MIG-c': 'Healthy'})
    gpu.register()
    big.register()
    wait_until(lambda: kubelet.healthy_counts() == {'nvidia.com/mig-1g.5gb': 2, 'nvidia.com/mig-3g.20gb': 1}, message='both lists')
    assert kubelet.capacity() == ({'nvidia.com/mig-1g.5gb': 2, 'nvidia.com/mig-3g.20gb': 1},
                                  {'nvidia.com/mig-1g.5gb': 2, 'nvidia.com/mig-3g.20gb': 1}, [])
    # A device the plugin reports unhealthy stays in capacity and leaves allocatable.
    gpu.set_health('MIG-b', 'Unhealthy')
    wait_until(lambda: kubelet.capacity()[1].get('nvidia.com/mig-1g.5gb') == 1, message='unhealthy device')
    assert kubelet.capacity()[0]['nvidia.com/mig-1g.5gb'] == 2
    node = {'status': {'capacity': {'cpu': '8'}, 'allocatable': {'cpu': '8'}}}
    assert sim_kubelet.apply_to_node(node, *kubelet.capacity())
    assert node['status'] == {'capacity': {'cpu': '8', 'nvidia.com/mig-1g.5gb': '2', 'nvidia.com/mig-3g.20gb': '1'},
                              'allocatable': {'cpu': '8', 'nvidia.com/mig-1g.5gb': '1', 'nvidia.com/mig-3g.20gb': '1'}}
    assert not sim_kubelet.apply_to_node(node, *kubelet.capacity())


def test_registration_is_checked(api, manager):
    grpc = api[2]
    plugin = _plugin(api, manager, 'nvidia.com/gpu', 'nvidia-gpu.sock', {'GPU-a': 'Healthy'})
    with pytest.raises(grpc.RpcError) as error:
        plugin.register(version='v1alpha')
    assert error.value.details() == 'requested API version "v1alpha" is not supported by kubelet. Supported versions are ["v1beta1"]'
    for name in ('gpu', 'kubernetes.io/gpu', 'requests.nvidia.com/gpu', 'nvidia.com/mig-1g.5gb/x', 'nvidia.com/-bad'):
        with pytest.raises(grpc.RpcError) as error:
            plugin.register(resource=name)
        assert error.value.details() == 'the ResourceName "%s" is invalid' % name
    stray = TinyPlugin(api, manager[0].kubelet_dir, 'nvidia.com/gpu', 'missing.sock', {})
    sim_kubelet.DIAL_TIMEOUT, saved = 0.3, sim_kubelet.DIAL_TIMEOUT
    try:
        with pytest.raises(grpc.RpcError) as error:
            stray.register()
    finally:
        sim_kubelet.DIAL_TIMEOUT = saved
    assert error.value.details().startswith('failed to dial device plugin')
    assert manager[0].capacity() == ({}, {}, [])


def test_stopped_plugin_turns_unhealthy_then_removed_and_reregistration_replaces(api, manager):
    kubelet = manager[0]
    old = _plugin(api, manager, 'nvidia.com/mig-2g.10gb', 'nvidia-mig-2g.10gb.sock', {'MIG-x': 'Healthy', 'MIG-y': 'Healthy'})
    keep = _plugin(api, manager, 'nvidia.com/gpu', 'nvidia-gpu.sock', {'GPU-1': 'Healthy'})
    old.register()
    keep.register()
    wait_until(lambda: len(kubelet.healthy_counts()) == 2, message='two resources')
    old.stop()
    manager[1].remove(old)
    # PluginDisconnected: capacity keeps the devices, allocatable drops to 0 ...
    wait_until(lambda: kubelet.capacity()[1].get('nvidia.com/mig-2g.10gb') == 0, message='unhealthy after stop')
    assert kubelet.capacity()[0]['nvidia.com/mig-2g.10gb'] == 2
    # ... until the stop grace period ends: removed, shown with capacity 0.
    node = {'status': {'capacity': {}, 'allocatable': {}}}
    removed = wait_until(lambda: kubelet.capacity()[2], message='removed after grace')
    assert removed == ['nvidia.com/mig-2g.10gb']
    sim_kubelet.apply_to_node(node, *kubelet.capacity())
    sim_kubelet.apply_to_node(node, {}, {}, removed)
    assert node['status']['capacity'] == {'nvidia.com/gpu': '1', 'nvidia.com/mig-2g.10gb': '0'}
    assert node['status']['allocatable'] == {'nvidia.com/gpu': '1', 'nvidia.com/mig-2g.10gb': '0'}
    # A new plugin registering the same resource replaces the endpoint and its device list.
    new = _plugin(api, manager, 'nvidia.com/gpu', 'nvidia-gpu-2.sock', {'GPU-7': 'Healthy', 'GPU-8': 'Healthy'})
    new.register()
    wait_until(lambda: kubelet.healthy_counts() == {'nvidia.com/gpu': 2}, message='replaced endpoint')
    keep.stop()
    manager[1].remove(keep)
    assert kubelet.capacity()[:2] == ({'nvidia.com/gpu': 2}, {'nvidia.com/gpu': 2}), 'the replaced endpoint must not count'
