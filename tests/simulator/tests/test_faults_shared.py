"""Fault injection, the call log and state shared across processes."""

from __future__ import absolute_import, division, print_function

import subprocess
import sys
import time

import pynvml
import pytest

CREATE_GI = '''
import pynvml
pynvml.nvmlInit()
h = pynvml.nvmlDeviceGetHandleByIndex(0)
gi = pynvml.nvmlDeviceCreateGpuInstance(h, 9)
print(pynvml.nvmlGpuInstanceGetInfo(gi).id)
pynvml.nvmlShutdown()
'''

COUNT = '''
import pynvml
pynvml.nvmlInit()
try:
    print(pynvml.nvmlDeviceGetCount())
except pynvml.NVMLError as err:
    print('error', err.value)
'''


def run_python(node, code):
    proc = subprocess.run([sys.executable, '-c', code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=node.env(), universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_state_shared_across_processes(node):
    node.create('A100-SXM4-40GB')
    gi_id = int(run_python(node, CREATE_GI))
    assert [(gi['id'], gi['profile_id'], gi['start']) for gi in node.show()['gpus'][0]['gpu_instances']] == [(gi_id, 9, 4)]
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    info = pynvml.nvmlGpuInstanceGetInfo(pynvml.nvmlDeviceGetGpuInstanceById(h, gi_id))
    assert (info.profileId, info.placement.start, info.placement.size) == (9, 4, 4)
    # the next 3g goes to the other half, seen by another process
    gi_id2 = int(run_python(node, CREATE_GI))
    assert pynvml.nvmlGpuInstanceGetInfo(pynvml.nvmlDeviceGetGpuInstanceById(h, gi_id2)).placement.start == 0


def test_fault_nth_call_once(node, nvml_raises):
    node.create('A100-SXM4-40GB')
    node.sim('fault-add', 'nvmlDeviceGetCount_v2', 2, 0, '-', 'GPU_IS_LOST', 0)
    pynvml.nvmlInit()
    assert pynvml.nvmlDeviceGetCount() == 1
    with nvml_raises(pynvml.NVML_ERROR_GPU_IS_LOST):
        pynvml.nvmlDeviceGetCount()
    assert pynvml.nvmlDeviceGetCount() == 1
    assert node.show()['faults'][0]['calls_seen'] == 3


def test_fault_repeat_and_counted_across_processes(node, nvml_raises):
    node.create('A100-SXM4-40GB')
    node.sim('fault-add', 'nvmlDeviceGetCount_v2', 2, 1, '-', 'NVML_ERROR_UNKNOWN', 0)
    assert run_python(node, COUNT) == '1'          # call 1, in another process
    assert run_python(node, COUNT) == 'error 999'  # call 2
    pynvml.nvmlInit()
    with nvml_raises(pynvml.NVML_ERROR_UNKNOWN):  # call 3: --repeat
        pynvml.nvmlDeviceGetCount()
    node.sim('fault-clear')
    assert pynvml.nvmlDeviceGetCount() == 1


def test_fault_gpu_filter_and_mutating_call(node, nvml_raises):
    node.create('A100-SXM4-40GB:2')
    node.sim('fault-add', 'nvmlDeviceCreateGpuInstance', 1, 0, 1, 'IN_USE', 0)
    pynvml.nvmlInit()
    pynvml.nvmlDeviceCreateGpuInstance(pynvml.nvmlDeviceGetHandleByIndex(0), 19)   # GPU 0 not counted
    with nvml_raises(pynvml.NVML_ERROR_IN_USE):
        pynvml.nvmlDeviceCreateGpuInstance(pynvml.nvmlDeviceGetHandleByIndex(1), 19)
    assert [len(g['gpu_instances']) for g in node.show()['gpus']] == [1, 0]


def test_fault_stall(node):
    node.create('A100-SXM4-40GB')
    node.sim('fault-add', 'nvmlSystemGetDriverVersion', 1, 0, '-', '-', 200)
    pynvml.nvmlInit()
    began = time.monotonic()
    pynvml.nvmlSystemGetDriverVersion()
    assert time.monotonic() - began >= 0.2
    began = time.monotonic()
    pynvml.nvmlSystemGetDriverVersion()
    assert time.monotonic() - began < 0.2


def test_fault_rejects_unknown_names(node):
    node.create('A100-SXM4-40GB')
    with pytest.raises(node.error, match='unknown NVML function'):
        node.sim('fault-add', 'nvmlDoesNotExist', 1, 0, '-', 'IN_USE', 0)
    with pytest.raises(node.error, match='unknown NVML error'):
        node.sim('fault-add', 'nvmlDeviceGetCount_v2', 1, 0, '-', 'NOPE', 0)


def test_call_log(node, nvml_raises):
    node.create('A100-SXM4-40GB')
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    pynvml.nvmlDeviceCreateGpuInstance(h, 19)
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):
        pynvml.nvmlDeviceCreateGpuInstance(h, 77)
    pynvml.nvmlShutdown()
    calls = node.calls()
    assert [(c['function'], c['gpu'], c['rc'], c['mutating']) for c in calls] == [
        ('nvmlInitWithFlags', None, 0, False),
        ('nvmlDeviceGetHandleByIndex_v2', 0, 0, False),
        ('nvmlDeviceCreateGpuInstance', 0, 0, True),
        ('nvmlDeviceCreateGpuInstance', 0, 2, True),
        ('nvmlShutdown', None, 0, False),
    ]
    rc, out, dummy = node.run('simnode', 'calls', node.path, '--json')
    assert rc == 0 and '"mutating": 2' in out and '"total": 5' in out
