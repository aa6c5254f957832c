# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in for the kubelet side of the device plugin API, for the tests that run NVIDIA's device plugin.

``Kubelet`` is the simulated cluster's device manager (tests/k8ssim/sim_kubelet.py) on one node: the
Registration service on ``<dir>/device-plugins/kubelet.sock``, which dials a registering plugin's endpoint and
follows its ListAndWatch stream, with the stubs generated from the k8s-device-plugin archive's vendored
``api.proto`` (``make k8ssim-grpc``, K8SSIM_GRPC).  It adds the calls a kubelet makes to a registered plugin
when it admits a pod (GetPreferredAllocation, Allocate) and ``run_plugin``, which runs the plugin on one node.
Nothing here needs grpcio or the stubs before a ``Kubelet`` starts, so the suites import it and skip when
NVIDIA's tools are not built (tests/nvidia/tests/conftest.py).

A unix socket's path has at most 107 characters: give ``Kubelet`` a short folder (``tempfile.mkdtemp()``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

# tests/k8ssim/sim_kubelet.py
sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'k8ssim'))

import sim_kubelet  # noqa: E402  pylint: disable=wrong-import-position

UNHEALTHY = 'Unhealthy'  # pluginapi.Unhealthy


class Kubelet(sim_kubelet.DeviceManager):
    """The device manager of a kubelet in ``directory``, started: plugins register with it and it follows their
    devices (``registrations``, ``listed()``); ``preferred()`` and ``allocate()`` call a registered plugin."""

    def __init__(self, directory, timeout=20.0):
        super().__init__(os.path.basename(directory), directory)
        self.timeout = timeout
        self.start()

    def listed(self):
        """{resource: {device id: health}} of the registered plugins, once each sent its first ListAndWatch answer
        (or its stream ended without one: no devices)."""
        deadline = time.monotonic() + self.timeout
        while True:
            with self.lock:
                if all(e.first_list_at is not None or e.stopped_at is not None for e in self.endpoints.values()):
                    return {resource: dict([(i, sim_kubelet.HEALTHY) for i in self.healthy.get(resource, ())]
                                           + [(i, UNHEALTHY) for i in self.unhealthy.get(resource, ())])
                            for resource in self.endpoints}
            if time.monotonic() >= deadline:
                raise AssertionError('no first ListAndWatch answer from every plugin in %s s' % self.timeout)
            time.sleep(0.05)

    def _plugin(self, resource):
        """(api_pb2, DevicePluginStub) over the connection the device manager dialed to ``resource``'s plugin."""
        api_pb2, api_pb2_grpc, dummy = self.api
        with self.lock:
            channel = self.endpoints[resource].channel
        return api_pb2, api_pb2_grpc.DevicePluginStub(channel)

    def preferred(self, resource, available, size):
        """The device ids the plugin prefers for one container of ``size`` devices out of ``available``."""
        api_pb2, stub = self._plugin(resource)
        request = api_pb2.PreferredAllocationRequest(container_requests=[
            api_pb2.ContainerPreferredAllocationRequest(available_deviceIDs=available, allocation_size=size)])
        (container,) = stub.GetPreferredAllocation(request, timeout=self.timeout).container_responses
        return list(container.deviceIDs)

    def allocate(self, resource, ids):
        """{env name: value} of the one container's AllocateResponse."""
        api_pb2, stub = self._plugin(resource)
        request = api_pb2.AllocateRequest(container_requests=[api_pb2.ContainerAllocateRequest(devices_ids=ids)])
        (container,) = stub.Allocate(request, timeout=self.timeout).container_responses
        return dict(container.envs)


def run_plugin(node, plugin, strategy, kubelet_dir, log_path, timeout=30, settle=0.3):
    """Start NVIDIA's device plugin on ``node`` (a harness.Node) with a stand-in kubelet and stop it again.

    Returns ``(resources, error)``: ``{resource name: number of devices}`` from each registered plugin's first
    ListAndWatch answer, and None; or None and the plugin's last error line when it exits (it refuses the node).
    The plugin has started all its resources when as many have registered as it started gRPC servers for and
    nothing changed for ``settle`` seconds, or when it logs that it found no devices.
    """
    kubelet = Kubelet(kubelet_dir)
    try:
        with open(log_path, 'w') as handle:
            proc = node.popen([plugin, '--mig-strategy=%s' % strategy, '--fail-on-init-error=true'], stdout=handle,
                              stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            seen, since = None, time.monotonic()
            while time.monotonic() < deadline and proc.poll() is None:
                with open(log_path) as handle:
                    text = handle.read()
                if 'No devices found. Waiting indefinitely.' in text:
                    return {}, None
                state = (text.count('Starting GRPC server for'), len(kubelet.registrations))
                if state != seen:
                    seen, since = state, time.monotonic()
                elif state[0] and state[0] == state[1] and time.monotonic() - since >= settle:
                    return {name: len(devices) for name, devices in kubelet.listed().items()}, None
                time.sleep(0.05)
            if proc.poll() is None:
                raise AssertionError('the device plugin neither registered nor exited in %d s' % timeout)
            with open(log_path) as handle:
                errors = [line for line in handle if line.startswith('E')]
            return None, errors[-1].strip() if errors else 'exit status %d' % proc.returncode
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
    finally:
        kubelet.stop()
