# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The NVML adapter against the simulator, through the real pynvml.

What the adapter reads is compared with the simulator's own JSON dump of the node, which is
produced by the C library's control interface and not through NVML.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils import _nvml
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import (
    Nvml,
    NvmlDriverNotLoaded,
    NvmlError,
    NvmlPermissionError,
    profile_name_from_memory,
)

MIB = 1024 * 1024


@pytest.fixture(name='sim')
def sim_fixture(tmp_path, monkeypatch):
    sim_build = os.environ.get('SIM_BUILD')
    if not sim_build or 'LD_LIBRARY_PATH' not in os.environ:
        pytest.fail('SIM_BUILD and LD_LIBRARY_PATH are not set: run the unit tests through `make units`')
    state = str(tmp_path / 'node.state')
    monkeypatch.setenv('FAKE_NVML_STATE', state)
    monkeypatch.delenv('FAKE_NVML_EUID', raising=False)

    def run(tool, *args):
        proc = subprocess.run([os.path.join(sim_build, 'bin', tool)] + list(args), capture_output=True, text=True,
                              check=False, env=dict(os.environ))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    run.state = state
    return run


def test_read_host_matches_the_simulator(sim):
    sim('simnode', 'create', sim.state, '--name', 'n1', '--gpu', 'A100-SXM4-40GB', '--gpu', 'A30', '--gpu', 'L40S',
        '--driver', '550.54.15', '--cuda', '12040', '--mig-enabled', '0,1')
    sim('nvidia-smi', 'mig', '-i', '0', '-cgi', '9,19,14,19', '-C')
    sim('nvidia-smi', 'mig', '-i', '1', '-cgi', '2g.12gb')
    gi3 = [gi for gi in json.loads(sim('simnode', 'show', sim.state, '--json'))['gpus'][0]['gpu_instances']
           if gi['profile'] == '3g.20gb'][0]
    sim('nvidia-smi', 'mig', '-i', '0', '-dci', '-gi', str(gi3['id']))
    sim('nvidia-smi', 'mig', '-i', '0', '-cci', '1,0', '-gi', str(gi3['id']))
    sim('simnode', 'process', 'add', sim.state, '--gpu', '0', '--gi', str(gi3['id']), '--ci', '0', '--pid', '31337',
        '--used-mib', '512')
    sim('simnode', 'process', 'add', sim.state, '--gpu', '2', '--pid', '4040', '--used-mib', '100')
    truth = json.loads(sim('simnode', 'show', sim.state, '--json'))

    with Nvml(hostname='n1') as nvml:
        node = nvml.read_host()

    assert node.driver_version == truth['driver_version'] == '550.54.15'
    assert node.cuda_driver_version == '12.4'
    assert len(node.gpus) == 3
    for gpu, expected in zip(node.gpus, truth['gpus']):
        assert (gpu.index, gpu.uuid, gpu.name, gpu.pci_bus_id, gpu.memory_total_mib, gpu.architecture, gpu.model) == (
            expected['index'], expected['uuid'], expected['name'], expected['pci_bus_id'], expected['memory_total_mib'],
            expected['architecture'], expected['model'])
        assert gpu.pci_device_id == (expected['pci_device_id'] << 16) | 0x10DE
        assert gpu.mig_capable == expected['mig_capable']
        if gpu.mig_capable:
            assert (gpu.mig_current, gpu.mig_pending) == (bool(expected['mig_mode_current']), bool(expected['mig_mode_pending']))
        got = sorted((gi.id, gi.profile, gi.profile_id, gi.start, gi.size, gi.memory_mib,
                      sorted((ci.id, ci.profile, ci.profile_id, ci.start, ci.size, ci.uuid) for ci in gi.compute_instances))
                     for gi in gpu.gpu_instances)
        want = sorted((gi['id'], gi['profile'], gi['profile_id'], gi['start'], gi['size'], gi['memory_mib'],
                       sorted((ci['id'], ci['profile'], ci['profile_id'], ci['start'], ci['size'], ci['uuid'])
                              for ci in gi['compute_instances']))
                      for gi in expected.get('gpu_instances', []))
        assert got == want
    a100, a30, l40s = node.gpus
    assert [(gi.profile, gi.start) for gi in a100.gpu_instances] == [('1g.5gb', 0), ('1g.5gb', 1), ('2g.10gb', 2), ('3g.20gb', 4)]
    assert [(ci.profile, ci.start) for ci in a100.gpu_instances[3].compute_instances] == [('2c.3g.20gb', 0), ('1c.3g.20gb', 2)]
    assert a100.processes[0].pid == 31337 and a100.processes[0].used_mib == 512
    assert (a100.processes[0].gpu_instance_id, a100.processes[0].compute_instance_id) == (gi3['id'], 0)
    assert [(gi.profile, gi.profile_id, gi.compute_instances) for gi in a30.gpu_instances] == [('2g.12gb', 5, ())]
    assert l40s.mig_capable is False and l40s.mig_current is None and l40s.gpu_instances == ()
    # The fake numbers device nodes by index (tests/simulator/README.md); to_dict gives it to gpu_info.
    assert [gpu.minor_number for gpu in node.gpus] == [0, 1, 2] and a30.to_dict()['minor_number'] == 1
    assert [(p.pid, p.gpu_instance_id, p.compute_instance_id) for p in l40s.processes] == [(4040, None, None)]


def test_read_host_without_instances_needs_no_privilege(sim, monkeypatch):
    sim('simnode', 'create', sim.state, '--name', 'n1', '--gpu', 'H100-SXM5-80GB:2', '--driver', '550.54.15',
        '--mig-enabled', 'all')
    monkeypatch.setenv('FAKE_NVML_EUID', '1000')
    with Nvml() as nvml:
        node = nvml.read_host([1], instances=False)
        assert [gpu.index for gpu in node.gpus] == [1]
        assert node.gpus[0].mig_current is True
        with pytest.raises(NvmlPermissionError) as exc:
            nvml.read_host([1])
    assert 'become: true' in str(exc.value)
    assert exc.value.code == 4 and exc.value.gpu == 1


def test_unknown_index_is_refused_with_the_valid_range(sim):
    sim('simnode', 'create', sim.state, '--name', 'n1', '--gpu', 'A30:2', '--driver', '550.54.15')
    with Nvml(hostname='n1') as nvml:
        with pytest.raises(NvmlError) as exc:
            nvml.read_host([0, 7])
    assert str(exc.value) == 'GPU index 7 does not exist on n1: it has 2 GPU(s) (valid: 0-1)'


def test_driver_not_loaded(sim):
    sim('simnode', 'create', sim.state, '--name', 'n1', '--gpu', 'A30', '--driver', '550.54.15')
    sim('simnode', 'driver', sim.state, '--unload')
    with pytest.raises(NvmlDriverNotLoaded) as exc:
        with Nvml(hostname='n1'):
            pass
    assert str(exc.value).startswith('NVIDIA driver not loaded on n1: ')
    assert exc.value.code == 9


def test_injected_error_names_function_gpu_and_text(sim):
    sim('simnode', 'create', sim.state, '--name', 'n1', '--gpu', 'A100-SXM4-40GB:2', '--driver', '550.54.15',
        '--mig-enabled', 'all')
    sim('simnode', 'fault', 'add', sim.state, '--function', 'nvmlDeviceGetMigMode', '--nth', '2', '--error', 'UNKNOWN')
    with Nvml(hostname='n1') as nvml:
        with pytest.raises(NvmlError) as exc:
            nvml.read_host()
    assert (exc.value.function, exc.value.code, exc.value.gpu) == ('nvmlDeviceGetMigMode', 999, 1)
    assert str(exc.value) == 'nvmlDeviceGetMigMode failed on GPU 1 of n1: Unknown Error (NVML error 999)'


def test_missing_driver_library_is_reported_as_no_driver():
    # LD_LIBRARY_PATH is read when a process starts, so this needs a process without the fake.
    env = {k: v for k, v in os.environ.items() if k not in ('LD_LIBRARY_PATH', 'FAKE_NVML_STATE')}
    code = ('from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml, NvmlLibraryNotFound\n'
            'try:\n    Nvml(hostname="bare").__enter__()\nexcept NvmlLibraryNotFound as exc:\n    print(exc)\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, check=True)
    assert proc.stdout.startswith('NVIDIA driver not found on bare: the NVML library libnvidia-ml.so.1 could not be loaded.')


@pytest.mark.parametrize('args, name', [
    ((1, 1, 4864, 40960 * MIB), '1g.5gb'),
    ((1, 1, 4864, 40960 * MIB, '+me'), '1g.5gb+me'),
    ((3, 1, 19968, 40960 * MIB), '1c.3g.20gb'),
    ((7, 7, 40192, 40960 * MIB), '7g.40gb'),
    ((1, 1, 9984, 81559 * MIB), '1g.10gb'),
    ((4, 4, 23552, 24576 * MIB), '4g.24gb'),
    ((1, 1, 5949, 24576 * MIB), '1g.6gb'),
])
def test_profile_names_follow_nvidias_formula(args, name):
    assert profile_name_from_memory(*args) == name


def test_module_imports_without_pynvml_report_the_import_error():
    # The modules call missing_required_lib when this is set; with pynvml installed it must be None.
    assert _nvml.PYNVML_IMPORT_ERROR is None


def test_compute_profile_choice_prefers_the_full_sms():
    """D3: of the offered CI profiles of that size, the one with the most SMs (REV1 on Hopper 1g.20gb), then the lowest id."""
    def info(profile_id, slices, sm):
        return type('Info', (), {'id': profile_id, 'sliceCount': slices, 'multiprocessorCount': sm})()
    hopper = [info(0, 1, 16), info(7, 1, 26)]
    assert _nvml.choose_compute_profile(hopper, 1).id == 7
    ampere = [info(0, 1, 14), info(7, 1, 14), info(1, 2, 28)]   # go-nvml's A100 mock: REV1 offered with the same SMs
    assert _nvml.choose_compute_profile(ampere, 1).id == 0
    assert _nvml.choose_compute_profile(ampere, 2).id == 1
    assert _nvml.choose_compute_profile(ampere, 3) is None


@pytest.mark.parametrize('model, gi_enum, gi_size, want', [
    ('H100-SXM5-80GB', 0x9, 2, ('1g.20gb', 7, 26)),   # REV1: the GI's 26 SMs, not 16 [uncertain, D3]
    ('H200-141GB', 0x9, 2, ('1g.35gb', 7, 26)),
    ('A100-SXM4-40GB', 0x9, 2, ('1g.10gb', 0, 14)),
    ('A100-SXM4-40GB', 0x2, 4, ('3g.20gb', 2, 42)),
])
def test_created_compute_instance_gets_the_full_sms_and_gpu_info_shows_them(sim, model, gi_enum, gi_size, want):
    sim('simnode', 'create', sim.state, '--name', 'n1', '--gpu', model, '--driver', '550.54.15', '--mig-enabled', 'all')
    with Nvml(hostname='n1') as nvml:
        gi_id = nvml.create_gpu_instance(0, gi_enum, 0, gi_size)
        slices = nvml.read_gpu(0).gpu_instances[0].compute_slices
        nvml.create_compute_instance(0, gi_id, slices, 0)
        gpu = nvml.read_gpu(0)
    ci = gpu.gpu_instances[0].compute_instances[0]
    assert (ci.profile, ci.profile_id, ci.sm) == want
    assert gpu.to_dict()['gpu_instances'][0]['compute_instances'][0]['sm'] == want[2]
