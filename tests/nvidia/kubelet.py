# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in for the kubelet side of the device plugin API, for the tests that run NVIDIA's device plugin.

Only what the tests need (``deviceplugin/v1beta1`` of the k8s-device-plugin archive's vendored ``api.proto``):
the Registration service on ``<dir>/device-plugins/kubelet.sock``, and the calls a kubelet makes to a
registered plugin's socket (ListAndWatch's first answer, GetPreferredAllocation, Allocate).  The messages are
encoded by hand (field tags from ``api.proto``), so grpcio is the only dependency.  The simulated cluster's
kubelet (tests/k8ssim) is the full implementation; this one lets a test run the plugin on one node.

A unix socket's path has at most 107 characters: give ``Kubelet`` a short folder (``tempfile.mkdtemp()``).
"""

from __future__ import annotations

import os
import subprocess
import time
from concurrent import futures

import grpc


def _varint(value):
    out = b''
    while True:
        byte, value = value & 0x7f, value >> 7
        if not value:
            return out + bytes([byte])
        out += bytes([byte | 0x80])


def pb_field(tag, data):
    """A length-delimited protobuf field (strings, bytes, messages)."""
    return bytes([tag << 3 | 2]) + _varint(len(data)) + data


def pb_fields(raw):
    """[(tag, bytes)] of the length-delimited fields of a message; varint fields are skipped."""
    pos, fields = 0, []
    while pos < len(raw):
        key = raw[pos]
        pos += 1
        if key & 7 == 0:
            while raw[pos] & 0x80:
                pos += 1
            pos += 1
            continue
        assert key & 7 == 2, 'unexpected wire type in %r' % raw
        length = shift = 0
        while True:
            byte = raw[pos]
            pos += 1
            length |= (byte & 0x7f) << shift
            shift += 7
            if not byte & 0x80:
                break
        fields.append((key >> 3, raw[pos:pos + length]))
        pos += length
    return fields


class Kubelet:
    """The kubelet side of the device plugin API (deviceplugin/v1beta1), as little as these tests need: the
    Registration service on kubelet.sock, and calls to a registered plugin's socket (ListAndWatch's first
    answer, GetPreferredAllocation, Allocate), with messages encoded by hand (tags from api.proto)."""

    def __init__(self, directory):
        self.directory = directory
        self.requests = []
        os.makedirs(os.path.join(directory, 'device-plugins'), exist_ok=True)
        handler = grpc.method_handlers_generic_handler('v1beta1.Registration', {
            'Register': grpc.unary_unary_rpc_method_handler(self._register)})
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self.server.add_generic_rpc_handlers((handler,))
        self.server.add_insecure_port('unix://' + os.path.join(directory, 'device-plugins', 'kubelet.sock'))
        self.server.start()

    def _register(self, request, context):
        del context
        self.requests.append(request)
        return b''

    def registered(self):
        """{resource_name: endpoint} of the RegisterRequests (fields 3 and 2)."""
        result = {}
        for raw in self.requests:
            fields = dict(pb_fields(raw))
            result[fields[3].decode()] = fields[2].decode()
        return result

    def _channel(self, endpoint):
        return grpc.insecure_channel('unix://' + os.path.join(self.directory, 'device-plugins', endpoint))

    def devices(self, endpoint):
        """{device id: health} from the plugin's first ListAndWatch answer."""
        with self._channel(endpoint) as channel:
            stream = channel.unary_stream('/v1beta1.DevicePlugin/ListAndWatch')(b'', timeout=20)
            first = next(stream)
            stream.cancel()
        devices = [dict(pb_fields(raw)) for tag, raw in pb_fields(first) if tag == 1]
        return {d[1].decode(): d[2].decode() for d in devices}

    def preferred(self, endpoint, available, size):
        request = b''.join(pb_field(1, i.encode()) for i in available) + bytes([3 << 3]) + _varint(size)
        with self._channel(endpoint) as channel:
            raw = channel.unary_unary('/v1beta1.DevicePlugin/GetPreferredAllocation')(pb_field(1, request), timeout=20)
        (container,) = [r for tag, r in pb_fields(raw) if tag == 1]
        return [r.decode() for tag, r in pb_fields(container) if tag == 1]

    def allocate(self, endpoint, ids):
        """{env name: value} of the one container's AllocateResponse."""
        request = pb_field(1, b''.join(pb_field(1, i.encode()) for i in ids))
        with self._channel(endpoint) as channel:
            raw = channel.unary_unary('/v1beta1.DevicePlugin/Allocate')(request, timeout=20)
        (container,) = [r for tag, r in pb_fields(raw) if tag == 1]
        envs = [dict(pb_fields(r)) for tag, r in pb_fields(container) if tag == 1]
        return {e[1].decode(): e[2].decode() for e in envs}

    def stop(self):
        self.server.stop(0)


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
                state = (text.count('Starting GRPC server for'), len(kubelet.requests))
                if state != seen:
                    seen, since = state, time.monotonic()
                elif state[0] and state[0] == state[1] and time.monotonic() - since >= settle:
                    return {name: len(kubelet.devices(endpoint)) for name, endpoint in kubelet.registered().items()}, None
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
