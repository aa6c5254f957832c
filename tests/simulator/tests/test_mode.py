"""MIG mode (Ampere vs Hopper), reset, reboot, permissions, non-MIG GPUs, driver state."""

from __future__ import absolute_import, division, print_function

import ctypes

import pynvml
import pytest

IN_USE = pynvml.NVML_ERROR_IN_USE
RESET_REQUIRED = pynvml.NVML_ERROR_RESET_REQUIRED


def modes(node, gpu=0):
    g = node.show()['gpus'][gpu]
    return (g['mig_mode_current'], g['mig_mode_pending'])


def start(node, *models, **kwargs):
    node.create(*models, **kwargs)
    pynvml.nvmlInit()
    return pynvml.nvmlDeviceGetHandleByIndex(0)


@pytest.mark.parametrize('model', ['A100-SXM4-40GB', 'H100-SXM5-80GB', 'B200'])
def test_enable_idle_takes_effect(node, model):
    h = start(node, model, mig='none')
    assert pynvml.nvmlDeviceGetMigMode(h) == [0, 0]
    assert pynvml.nvmlDeviceSetMigMode(h, 1) == pynvml.NVML_SUCCESS
    assert pynvml.nvmlDeviceGetMigMode(h) == [1, 1]
    assert pynvml.nvmlDeviceSetMigMode(h, 0) == pynvml.NVML_SUCCESS
    assert pynvml.nvmlDeviceGetMigMode(h) == [0, 0]


@pytest.mark.parametrize('model', ['A100-SXM4-40GB', 'H100-SXM5-80GB'])
def test_enable_busy_stays_pending(node, model):
    h = start(node, model, mig='none')
    node.add_process(0, 4242)
    assert pynvml.nvmlDeviceSetMigMode(h, 1) == IN_USE
    assert pynvml.nvmlDeviceGetMigMode(h) == [0, 1]


def test_reset_blocked_ampere_vs_hopper(node):
    node.create('A100-SXM4-40GB', 'H100-SXM5-80GB', mig='none')
    node.sim('reset-blocked', 0, 'yes')
    node.sim('reset-blocked', 1, 'yes')
    pynvml.nvmlInit()
    a100, h100 = pynvml.nvmlDeviceGetHandleByIndex(0), pynvml.nvmlDeviceGetHandleByIndex(1)
    assert pynvml.nvmlDeviceSetMigMode(a100, 1) == RESET_REQUIRED
    assert pynvml.nvmlDeviceGetMigMode(a100) == [0, 1]
    assert pynvml.nvmlDeviceSetMigMode(h100, 1) == pynvml.NVML_SUCCESS   # Hopper is reset-less
    assert pynvml.nvmlDeviceGetMigMode(h100) == [1, 1]


def test_ampere_reset_activates_pending(node):
    h = start(node, 'A100-SXM4-40GB', mig='none')
    node.add_process(0, 4242)
    assert pynvml.nvmlDeviceSetMigMode(h, 1) == IN_USE
    with pytest.raises(node.error):
        node.sim('reset', 0)          # busy: IN_USE
    node.sim('process-remove', 4242)
    node.sim('reset', 0)
    assert pynvml.nvmlDeviceGetMigMode(h) == [1, 1]


def test_reset_fails_while_busy_with_code(node):
    node.create('A100-SXM4-40GB')
    node.add_process(0, 1)
    with pytest.raises(node.error) as excinfo:
        node.sim('reset', 0)
    assert (excinfo.value.code, excinfo.value.message) == (19, 'In use by another client')


def test_reset_destroys_instances_and_hopper_loses_mode(node):
    h = start(node, 'A100-SXM4-40GB', 'H100-SXM5-80GB')
    h100 = pynvml.nvmlDeviceGetHandleByIndex(1)
    for handle in (h, h100):
        gi = pynvml.nvmlDeviceCreateGpuInstance(handle, 9)
        pynvml.nvmlGpuInstanceCreateComputeInstance(gi, 2)
    node.sim('reset', 0)
    node.sim('reset', 1)
    state = node.show()
    assert [g['gpu_instances'] for g in state['gpus']] == [[], []]
    assert pynvml.nvmlDeviceGetMigMode(h) == [1, 1]
    assert pynvml.nvmlDeviceGetMigMode(h100) == [0, 0]


def test_reboot(node):
    h = start(node, 'A100-SXM4-40GB', 'A100-SXM4-40GB', 'H100-SXM5-80GB', mig='0,2')
    gi = pynvml.nvmlDeviceCreateGpuInstance(h, 19)
    pynvml.nvmlGpuInstanceCreateComputeInstance(gi, 0)
    node.add_process(1, 99)
    assert pynvml.nvmlDeviceSetMigMode(pynvml.nvmlDeviceGetHandleByIndex(1), 1) == IN_USE
    node.sim('reboot')
    state = node.show()
    assert [(g['mig_mode_current'], g['mig_mode_pending']) for g in state['gpus']] == [(1, 1), (1, 1), (0, 0)]
    assert [g['gpu_instances'] for g in state['gpus']] == [[], [], []]
    assert state['processes'] == []


def test_disable_with_instances(node, nvml_raises):
    h = start(node, 'A100-SXM4-40GB')
    pynvml.nvmlDeviceCreateGpuInstance(h, 0)
    assert pynvml.nvmlDeviceSetMigMode(h, 0) == IN_USE   # default: SUCCESS + activation status IN_USE
    assert pynvml.nvmlDeviceGetMigMode(h) == [1, 0]
    assert modes(node) == (1, 0)
    node.sim('option', 'disable_with_instances', 'error')
    with nvml_raises(pynvml.NVML_ERROR_IN_USE):
        pynvml.nvmlDeviceSetMigMode(h, 0)


def test_ampere_auto_reset_option(node):
    h = start(node, 'A30', mig='none')
    node.sim('option', 'ampere_auto_reset', 'no')
    assert pynvml.nvmlDeviceSetMigMode(h, 1) == RESET_REQUIRED
    assert pynvml.nvmlDeviceGetMigMode(h) == [0, 1]


def test_no_permission(node, monkeypatch, nvml_raises):
    h = start(node, 'A100-SXM4-40GB')
    gi = pynvml.nvmlDeviceCreateGpuInstance(h, 9)
    monkeypatch.setenv('FAKE_NVML_EUID', '1000')
    calls = [
        lambda: pynvml.nvmlDeviceSetMigMode(h, 0),
        lambda: pynvml.nvmlDeviceCreateGpuInstance(h, 19),
        lambda: pynvml.nvmlDeviceGetGpuInstanceRemainingCapacity(h, 19),
        lambda: pynvml.nvmlDeviceGetGpuInstancePossiblePlacements(h, 19, None, ctypes.byref(ctypes.c_uint())),
        lambda: pynvml.nvmlDeviceGetGpuInstanceById(h, 2),
        lambda: pynvml.nvmlGpuInstanceCreateComputeInstance(gi, 0),
        lambda: pynvml.nvmlGpuInstanceDestroy(gi),
    ]
    for call in calls:
        with nvml_raises(pynvml.NVML_ERROR_NO_PERMISSION):
            call()
    assert pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, 0).id == 19   # profile info stays readable
    assert pynvml.nvmlDeviceGetMigMode(h) == [1, 1]
    monkeypatch.setenv('FAKE_NVML_EUID', '0')
    pynvml.nvmlGpuInstanceDestroy(gi)


@pytest.mark.parametrize('model', ['L40S', 'V100-SXM2-32GB'])
def test_not_supported_on_non_mig_gpus(node, model, nvml_raises):
    h = start(node, model, mig='none')
    for call in (lambda: pynvml.nvmlDeviceGetMigMode(h), lambda: pynvml.nvmlDeviceSetMigMode(h, 1),
                 lambda: pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, 0),
                 lambda: pynvml.nvmlDeviceGetGpuInstancePossiblePlacements(h, 19, None, ctypes.byref(ctypes.c_uint())),
                 lambda: pynvml.nvmlDeviceGetGpuInstanceRemainingCapacity(h, 19),
                 lambda: pynvml.nvmlDeviceCreateGpuInstance(h, 19),
                 lambda: pynvml.nvmlDeviceGetMigDeviceHandleByIndex(h, 0)):
        with nvml_raises(pynvml.NVML_ERROR_NOT_SUPPORTED):
            call()
    assert pynvml.nvmlDeviceGetMaxMigDeviceCount(h) == 0
    assert not bool(pynvml.nvmlDeviceIsMigDeviceHandle(h))


def test_mig_enabled_on_non_mig_gpu_is_rejected(node):
    with pytest.raises(node.error) as excinfo:
        node.create('L40S', mig='0')
    assert 'does not support MIG' in str(excinfo.value)


def test_driver_not_loaded(node, monkeypatch, nvml_raises):
    node.create('A100-SXM4-40GB')
    node.sim('driver-unload')
    with nvml_raises(pynvml.NVML_ERROR_DRIVER_NOT_LOADED):
        pynvml.nvmlInit()
    node.sim('driver-load')
    pynvml.nvmlInit()
    pynvml.nvmlShutdown()
    monkeypatch.setenv('FAKE_NVML_STATE', node.path + '.missing')
    with nvml_raises(pynvml.NVML_ERROR_DRIVER_NOT_LOADED):
        pynvml.nvmlInit()
    monkeypatch.delenv('FAKE_NVML_STATE')
    with nvml_raises(pynvml.NVML_ERROR_DRIVER_NOT_LOADED):
        pynvml.nvmlInit()


def test_driver_unload_refused_while_busy_and_loses_hopper_mode(node):
    node.create('A100-SXM4-40GB', 'H100-SXM5-80GB')
    node.add_process(0, 5)
    with pytest.raises(node.error):
        node.sim('driver-unload')
    node.sim('process-clear')
    node.sim('driver-unload')
    node.sim('driver-load')
    assert [(g['mig_mode_current'], g['mig_mode_pending']) for g in node.show()['gpus']] == [(1, 1), (0, 0)]
