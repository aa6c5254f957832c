# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""NVIDIA's device plugin and GPU feature discovery run on simulated nodes without a linker error.

go-nvml resolves NVML symbols lazily: a function the fake does not export kills the tool with "symbol
lookup error" (exit 127) the first time a code path calls it.  These tests drive the paths the tools take
on nodes with MIG off, MIG on with whole and split instances, and mixed GPU models, and they read the
fake's call log: besides the linker, an NVML answer of NOT_SUPPORTED that real NVML would not give on the
same device fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from concurrent import futures

import pytest

grpc = pytest.importorskip('grpc', reason='grpcio (tests/requirements-nvidia.txt) is needed to play kubelet')

NOT_SUPPORTED = 3

# Where real NVML answers NOT_SUPPORTED on these devices, so the tools see it too (nvml.h):
# profile enums a GPU lacks, CI profiles a GI does not offer, NVLink queries (no NVLink is simulated,
# tests/simulator/README.md), and below: MIG mode of a GPU without MIG, fabric info before Hopper.
EXPECTED_NOT_SUPPORTED = {
    'nvmlDeviceGetGpuInstanceProfileInfo', 'nvmlDeviceGetGpuInstanceProfileInfoV',
    'nvmlGpuInstanceGetComputeInstanceProfileInfo', 'nvmlGpuInstanceGetComputeInstanceProfileInfoV',
    'nvmlDeviceGetNvLinkState', 'nvmlDeviceGetNvLinkRemotePciInfo_v2',
}


def simnode(sim_build, *args, env=None):
    return subprocess.run([os.path.join(sim_build, 'bin', str(args[0]))] + [str(a) for a in args[1:]],
                          capture_output=True, text=True, check=True, env=env).stdout


def make_node(sim_build, path, gpus, mig, layouts=()):
    """A node with ``gpus`` (simnode --gpu specs); ``layouts`` are nvidia-smi mig argument lists."""
    args = ['simnode', 'create', path, '--name', os.path.basename(str(path)).split('.')[0], '--driver', '550.54.15',
            '--mig-enabled', mig]
    for gpu in gpus:
        args += ['--gpu', gpu]
    simnode(sim_build, *args)
    env = dict(os.environ, FAKE_NVML_STATE=str(path), FAKE_NVML_EUID='0')
    for layout in layouts:
        simnode(sim_build, 'nvidia-smi', 'mig', *layout, env=env)
    return path


def call_log(state):
    try:
        with open(str(state) + '.calls') as handle:
            return [line.split() for line in handle if len(line.split()) == 6]
    except FileNotFoundError:   # no NVML call yet
        return []


def models_by_index(sim_build, state):
    import json  # pylint: disable=import-outside-toplevel
    node = json.loads(simnode(sim_build, 'simnode', 'show', state, '--json'))
    return {gpu['index']: gpu['model'] for gpu in node['gpus']}


def unexpected_not_supported(sim_build, state):
    """(function, model) of NOT_SUPPORTED answers that real NVML would not give."""
    models = models_by_index(sim_build, state)
    found = set()
    for dummy_time, dummy_pid, function, gpu, rc, dummy_mut in call_log(state):
        if int(rc) != NOT_SUPPORTED or function in EXPECTED_NOT_SUPPORTED:
            continue
        model = models.get(int(gpu)) if gpu != '-' else None
        if function == 'nvmlDeviceGetMigMode' and model in ('L40S', 'V100-SXM2-32GB'):
            continue
        if function in ('nvmlDeviceGetGpuFabricInfo', 'nvmlDeviceGetGpuFabricInfoV') and model and (
                model.startswith(('A100', 'A30', 'L40S', 'V100'))):
            continue
        found.add((function, model))
    return sorted(found)


NODES = {
    # name: (gpus, MIG mode, nvidia-smi mig calls)
    'mig-off': (['A100-SXM4-40GB:2', 'H100-SXM5-80GB'], 'none', []),
    'whole': (['A100-SXM4-80GB:2'], 'all', [['-cgi', '9,9', '-C', '-i', '0'], ['-cgi', '19,19,19,19,19,19,19', '-C', '-i', '1']]),
    'split': (['A100-SXM4-40GB', 'H100-SXM5-80GB'], 'all',
              [['-cgi', '9', '-i', '0'], ['-cci', '0,0,0', '-gi', '2', '-i', '0'], ['-cgi', '0', '-i', '1'],
               ['-cci', '0', '-gi', '0', '-i', '1']]),
    'mixed-models': (['A30', 'H200-141GB', 'B200', 'L40S'], '0,1,2',
                     [['-cgi', '14,14', '-C', '-i', '0'], ['-cgi', '5,9', '-C', '-i', '1'], ['-cgi', '0', '-C', '-i', '2']]),
}


@pytest.mark.parametrize('strategy', ['none', 'single', 'mixed'])
@pytest.mark.parametrize('name', sorted(NODES))
def test_gpu_feature_discovery_oneshot(name, strategy, sim_build, node_factory, tmp_path, nvidia_tools):
    gpus, mig, layouts = NODES[name]
    state = make_node(sim_build, tmp_path / ('%s.state' % name), gpus, mig, layouts)
    open(str(state) + '.calls', 'w').close()
    out = tmp_path / 'labels.txt'
    proc = node_factory(state).run([os.path.join(nvidia_tools, 'gpu-feature-discovery'), '--oneshot', '--no-timestamp',
                                    '--use-node-feature-api=false', '--output-file=%s' % out,
                                    '--mig-strategy=%s' % strategy])
    assert 'symbol lookup error' not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode == 0, proc.stderr[-2000:]
    labels = dict(line.split('=', 1) for line in out.read_text().splitlines() if line)
    assert labels['nvidia.com/gpu.count'].isdigit()
    if strategy != 'none':
        assert labels['nvidia.com/mig.strategy'] == strategy
    assert unexpected_not_supported(sim_build, state) == []
    # The functions the issue names are reached: fabric info for the clique label, MIG attributes for the
    # mig-<profile>.* labels.
    called = {fields[2] for fields in call_log(state)}
    assert 'nvmlDeviceGetGpuFabricInfo' in called
    if strategy == 'mixed' and layouts:
        assert 'nvmlDeviceGetAttributes_v2' in called


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


@pytest.mark.parametrize('name,strategy,resources', [
    ('mig-off', 'none', {'nvidia.com/gpu': 3}),
    ('whole', 'mixed', {'nvidia.com/mig-1g.10gb': 7, 'nvidia.com/mig-3g.40gb': 2}),
    ('whole', 'none', {'nvidia.com/gpu': 2}),
    ('mixed-models', 'mixed', {'nvidia.com/gpu': 1, 'nvidia.com/mig-1g.6gb': 2, 'nvidia.com/mig-3g.71gb': 1,
                               'nvidia.com/mig-4g.71gb': 1, 'nvidia.com/mig-7g.180gb': 1}),
])
def test_device_plugin_serves_kubelet(name, strategy, resources, sim_build, node_factory, tmp_path, nvidia_tools):
    """Registration, ListAndWatch, the health check, a preferred allocation (for full GPUs go-gpuallocator's
    topology queries) and Allocate: every call a real kubelet makes, with the plugin alive after them."""
    gpus, mig, layouts = NODES[name]
    state = make_node(sim_build, tmp_path / ('%s.state' % name), gpus, mig, layouts)
    # A short folder: a unix socket's path has at most 107 characters, pytest's tmp_path is longer.
    kubelet_dir = tempfile.mkdtemp(prefix='kubelet-')
    kubelet = Kubelet(kubelet_dir)
    log = tmp_path / 'plugin.log'
    served = {}
    try:
        with open(str(log), 'w') as handle:
            proc = node_factory(state, kubelet_dir).popen(
                [os.path.join(nvidia_tools, 'nvidia-device-plugin'), '--mig-strategy=%s' % strategy,
                 '--fail-on-init-error=true'], stdout=handle, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 30
            # Registered, and every plugin's health check is waiting on its event set.
            while time.monotonic() < deadline and proc.poll() is None:
                waits = [f for f in call_log(state) if f[2].startswith('nvmlEventSetWait')]
                if len(kubelet.requests) == len(resources) and len(waits) >= len(resources):
                    break
                time.sleep(0.2)
            if proc.poll() is None and len(kubelet.requests) == len(resources):
                for resource, endpoint in sorted(kubelet.registered().items()):
                    devices = kubelet.devices(endpoint)
                    ids = sorted(devices)
                    preferred = kubelet.preferred(endpoint, ids, 1)
                    env = kubelet.allocate(endpoint, preferred)
                    served[resource] = (len(devices), set(devices.values()), len(preferred),
                                        env.get('NVIDIA_VISIBLE_DEVICES') in ids)
            alive = proc.poll() is None
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        kubelet.stop()
        shutil.rmtree(kubelet_dir, ignore_errors=True)
    text = log.read_text()
    assert 'symbol lookup error' not in text, text[-3000:]
    assert alive, text[-3000:]
    assert served == {r: (n, {'Healthy'}, 1, True) for r, n in resources.items()}, text[-3000:]
    called = {fields[2] for fields in call_log(state)}
    assert {'nvmlDeviceGetMinorNumber', 'nvmlEventSetCreate', 'nvmlDeviceRegisterEvents'} <= called
    if 'nvidia.com/gpu' in resources and resources['nvidia.com/gpu'] > 1:
        assert 'nvmlDeviceGetTopologyCommonAncestor' in called
    assert 'unhealthy' not in text, text[-3000:]
    assert unexpected_not_supported(sim_build, state) == []


def test_device_plugin_refuses_split_instances_under_mixed(sim_build, node_factory, tmp_path, nvidia_tools):
    """NVIDIA's plugin has resource patterns only for C == G profiles (internal/rm/rm.go:140-146)."""
    gpus, mig, layouts = NODES['split']
    state = make_node(sim_build, tmp_path / 'split.state', gpus, mig, layouts)
    os.makedirs(str(tmp_path / 'kubelet' / 'device-plugins'))
    proc = node_factory(state, str(tmp_path / 'kubelet')).run([os.path.join(nvidia_tools, 'nvidia-device-plugin'), '--mig-strategy=mixed'],
                                   timeout=60)
    assert proc.returncode != 0
    assert "MIG profile '1c.3g.20gb' does not match any resource patterns" in proc.stderr
