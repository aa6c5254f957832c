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
import subprocess
import time
from concurrent import futures

import pytest

grpc = pytest.importorskip('grpc', reason='grpcio (tests/requirements-nvidia.txt) is needed to play kubelet')

NOT_SUPPORTED = 3

# Where real NVML answers NOT_SUPPORTED on these devices, so the tools see it too (nvml.h):
# profile enums a GPU lacks, CI profiles a GI does not offer, MIG mode of a GPU without MIG, fabric info
# before Hopper.
EXPECTED_NOT_SUPPORTED = {
    'nvmlDeviceGetGpuInstanceProfileInfo', 'nvmlDeviceGetGpuInstanceProfileInfoV',
    'nvmlGpuInstanceGetComputeInstanceProfileInfo', 'nvmlGpuInstanceGetComputeInstanceProfileInfoV',
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


class Kubelet:
    """The kubelet side of device-plugin registration (deviceplugin/v1beta1 Registration.Register), no more:
    it records each RegisterRequest (raw protobuf) and answers Empty."""

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

    def resources(self):
        """resource_name (field 3) of each RegisterRequest."""
        names = []
        for raw in self.requests:
            pos = 0
            while pos < len(raw):
                key = raw[pos]
                length = raw[pos + 1]
                if key == 0x1a:
                    names.append(raw[pos + 2:pos + 2 + length].decode())
                pos += 2 + length
        return sorted(names)

    def stop(self):
        self.server.stop(0)


@pytest.mark.parametrize('name,strategy,resources', [
    ('mig-off', 'none', ['nvidia.com/gpu']),
    ('whole', 'mixed', ['nvidia.com/mig-1g.10gb', 'nvidia.com/mig-3g.40gb']),
    ('whole', 'none', ['nvidia.com/gpu']),
    ('mixed-models', 'mixed', ['nvidia.com/gpu', 'nvidia.com/mig-1g.6gb', 'nvidia.com/mig-3g.71gb',
                               'nvidia.com/mig-4g.71gb', 'nvidia.com/mig-7g.180gb']),
])
def test_device_plugin_registers_and_health_checks(name, strategy, resources, sim_build, node_factory, tmp_path,
                                                   nvidia_tools):
    gpus, mig, layouts = NODES[name]
    state = make_node(sim_build, tmp_path / ('%s.state' % name), gpus, mig, layouts)
    kubelet = Kubelet(str(tmp_path / 'kubelet'))
    log = tmp_path / 'plugin.log'
    try:
        with open(str(log), 'w') as handle:
            proc = node_factory(state, str(tmp_path / 'kubelet')).popen(
                [os.path.join(nvidia_tools, 'nvidia-device-plugin'), '--mig-strategy=%s' % strategy,
                 '--fail-on-init-error=true'], stdout=handle, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 30
            # Registered, and every plugin's health check is waiting on its event set.
            while time.monotonic() < deadline and proc.poll() is None:
                waits = [f for f in call_log(state) if f[2].startswith('nvmlEventSetWait')]
                if len(kubelet.requests) == len(resources) and len(waits) >= len(resources):
                    break
                time.sleep(0.2)
            alive = proc.poll() is None
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        kubelet.stop()
    text = log.read_text()
    assert 'symbol lookup error' not in text, text[-3000:]
    assert alive, text[-3000:]
    assert kubelet.resources() == sorted(resources), text[-3000:]
    called = {fields[2] for fields in call_log(state)}
    assert {'nvmlDeviceGetMinorNumber', 'nvmlEventSetCreate', 'nvmlDeviceRegisterEvents'} <= called
    assert 'Marking' not in text and 'unhealthy' not in text, text[-3000:]
    assert unexpected_not_supported(sim_build, state) == []


def test_device_plugin_refuses_split_instances_under_mixed(sim_build, node_factory, tmp_path, nvidia_tools):
    """NVIDIA's plugin has resource patterns only for C == G profiles (internal/rm/rm.go:140-146)."""
    gpus, mig, layouts = NODES['split']
    state = make_node(sim_build, tmp_path / 'split.state', gpus, mig, layouts)
    os.makedirs(str(tmp_path / 'kubelet' / 'device-plugins'))
    node = node_factory(state, str(tmp_path / 'kubelet'))
    proc = node.run([os.path.join(nvidia_tools, 'nvidia-device-plugin'), '--mig-strategy=mixed'], timeout=60)
    assert proc.returncode != 0
    assert "MIG profile '1c.3g.20gb' does not match any resource patterns" in proc.stderr
