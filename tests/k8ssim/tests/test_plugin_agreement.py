# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""NVIDIA's device plugin and k8ssim's Python model of it (the fallback where the binaries are absent) agree on
every layout and strategy the k8ssim, integration and demo clusters use: the same resources and counts, or both
refuse to start for the same cause.

The real plugin runs on its node (the node harness) and registers with a simulated kubelet over gRPC; what its
ListAndWatch reports is compared with ``sim_deviceplugin.advertise`` on the same fake-NVML state.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import tempfile
import time

import pytest

import sim_deviceplugin
import sim_kubelet
import sim_nvidia
from simhelpers import SIM_BUILD, nvidia_smi, simnode

# name -> (GPUs for simnode create, MIG layout: None = MIG off, else the profiles created on every GPU)
LAYOUTS = {
    'a100-mig-off': ('A100-SXM4-40GB:2', None),
    'l40s': ('L40S:2', None),
    'a30-mig-off': ('A30:2', None),
    'a100-all-1g.5gb': ('A100-SXM4-40GB:2', '1g.5gb,1g.5gb,1g.5gb,1g.5gb,1g.5gb,1g.5gb,1g.5gb'),
    'a100-all-2g.10gb': ('A100-SXM4-40GB:1', '2g.10gb,2g.10gb,2g.10gb'),
    'a100-all-3g.20gb': ('A100-SXM4-40GB:2', '3g.20gb,3g.20gb'),
    'a100-all-balanced': ('A100-SXM4-40GB:2', '3g.20gb,2g.10gb,1g.5gb,1g.5gb'),
    'a100-1g.5gb-x2': ('A100-SXM4-40GB:1', '1g.5gb,1g.5gb'),
    'a100-mig-empty': ('A100-SXM4-40GB:1', ''),
    'a100-half-mig': ('A100-SXM4-40GB:2', 'gpu0:3g.20gb,2g.10gb,1g.5gb,1g.5gb'),
    'h100-all-3g.40gb': ('H100-SXM5-80GB:2', '3g.40gb,3g.40gb'),
    'h100-mixed-me': ('H100-SXM5-80GB:1', '3g.40gb,2g.20gb,1g.10gb+me,1g.10gb'),
    'a30-all-2g.12gb': ('A30:2', '2g.12gb,2g.12gb'),
    'a30-4g.24gb': ('A30:1', '4g.24gb'),
    'a100-split-3g': ('A100-SXM4-40GB:1', 'split'),
}
STRATEGIES = ('none', 'single', 'mixed')


@pytest.fixture(name='tools', scope='module')
def tools_fixture():
    reason = sim_nvidia.unavailable(sim_nvidia.tools_dir())
    if reason:
        if os.environ.get('CI') == 'true':
            pytest.fail("CI must compare NVIDIA's device plugin with the model, but: " + reason)
        pytest.skip(reason)
    return sim_nvidia.tools_dir()


def make_node(path, gpus, layout):
    simnode('create', path, '--name', 'agree', '--gpu', gpus, '--driver', '550.54.15', '--mig-enabled', 'none' if layout is None else 'all')
    if layout is None or layout == '':
        return
    if layout == 'split':
        nvidia_smi(path, 'mig', '-i', '0', '-cgi', '3g.20gb')
        gi_id = json.loads(simnode('show', path, '--json'))['gpus'][0]['gpu_instances'][0]['id']
        nvidia_smi(path, 'mig', '-i', '0', '-cci', '0,0,0', '-gi', str(gi_id))
        return
    if layout.startswith('gpu0:'):
        simnode_state = json.loads(simnode('show', path, '--json'))
        for gpu in simnode_state['gpus'][1:]:
            nvidia_smi(path, '-i', str(gpu['index']), '-mig', '0')
        nvidia_smi(path, 'mig', '-i', '0', '-cgi', layout[len('gpu0:'):], '-C')
        return
    nvidia_smi(path, 'mig', '-cgi', layout, '-C')


def run_nvidia(tools, state, strategy, timeout=30):
    """NVIDIA's plugin on the node: ('ok', {resource: healthy devices}) or ('error', last error line)."""
    root = tempfile.mkdtemp(prefix='k8ssim-ag-')
    manager = sim_kubelet.DeviceManager('agree', os.path.join(root, 'kubelet'), log=lambda message: None).start()
    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'NODE_NAME': 'agree', 'MIG_STRATEGY': strategy, 'FAIL_ON_INIT_ERROR': 'true',
           'PASS_DEVICE_SPECS': 'true', 'DEVICE_LIST_STRATEGY': 'envvar', 'DEVICE_ID_STRATEGY': 'uuid', 'NVIDIA_MIG_MONITOR_DEVICES': 'all'}
    proc = sim_nvidia.PluginProcess(state, SIM_BUILD, manager.kubelet_dir, os.path.join(tools, sim_nvidia.PLUGIN), env,
                                    os.path.join(root, 'plugin.log')).start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return 'error', sim_nvidia.last_error(proc.output())
            if proc.waiting_without_devices():
                return 'ok', {}
            last = manager.last_registration()
            if manager.connected_since(proc.started_at) and time.monotonic() - last >= 0.3:
                return 'ok', manager.healthy_counts()
            time.sleep(0.02)
        raise AssertionError('the plugin did not settle within %ss:\n%s' % (timeout, proc.output()[-3000:]))
    finally:
        proc.terminate()
        deadline = time.monotonic() + 5
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.kill()
        proc.close()
        manager.stop()
        shutil.rmtree(root, ignore_errors=True)


def run_model(state, strategy):
    try:
        node = sim_deviceplugin.read_node(os.path.join(SIM_BUILD, 'bin', 'simnode'), state)
        return 'ok', sim_deviceplugin.advertise(node, strategy)
    except sim_deviceplugin.PluginError as exc:
        return 'error', str(exc)


CASES = [pytest.param(layout, strategy, id='%s-%s' % (layout, strategy)) for layout in LAYOUTS for strategy in STRATEGIES]


@pytest.mark.parametrize('layout,strategy', CASES)
def test_nvidia_plugin_and_model_agree(tools, tmp_path, layout, strategy):
    gpus, profiles = LAYOUTS[layout]
    state = str(tmp_path / 'node.state')
    make_node(state, gpus, profiles)
    real = run_nvidia(tools, state, strategy)
    model = run_model(state, strategy)
    assert real[0] == model[0], 'NVIDIA: %s\nmodel:  %s' % (real, model)
    if real[0] == 'ok':
        assert real[1] == model[1]
    else:
        # The real plugin wraps the cause in more context ("error getting plugins: ... error visiting MIG device: ..."),
        # the model only names it: the cause must be the same.
        assert model[1].rsplit(': ', 1)[-1] in real[1], 'NVIDIA: %s\nmodel:  %s' % (real[1], model[1])
