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

import pytest

from kubelet import Kubelet  # tests/nvidia/kubelet.py

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
                if len(kubelet.registrations) == len(resources) and len(waits) >= len(resources):
                    break
                time.sleep(0.2)
            if proc.poll() is None and len(kubelet.registrations) == len(resources):
                for resource, devices in sorted(kubelet.listed().items()):
                    ids = sorted(devices)
                    preferred = kubelet.preferred(resource, ids, 1)
                    env = kubelet.allocate(resource, preferred)
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
    proc = node_factory(state, str(tmp_path / 'kubelet')).run(
        [os.path.join(nvidia_tools, 'nvidia-device-plugin'), '--mig-strategy=mixed'], timeout=60)
    assert proc.returncode != 0
    assert "MIG profile '1c.3g.20gb' does not match any resource patterns" in proc.stderr
