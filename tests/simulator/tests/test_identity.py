"""Init/shutdown, identity, versions, struct sizes (real pynvml on the fake)."""

from __future__ import absolute_import, division, print_function

import ctypes
import re

import pynvml
import pytest


def txt(value):
    return value.decode() if isinstance(value, bytes) else value


def test_init_refcount_and_uninitialized(node, nvml_raises):
    node.create('A100-SXM4-40GB')
    pynvml.nvmlInit()
    pynvml.nvmlInit()
    pynvml.nvmlShutdown()
    assert pynvml.nvmlDeviceGetCount() == 1
    pynvml.nvmlShutdown()
    with nvml_raises(pynvml.NVML_ERROR_UNINITIALIZED):
        pynvml.nvmlDeviceGetCount()
    fn = pynvml._nvmlGetFunctionPointer('nvmlShutdown')  # pylint: disable=protected-access
    assert fn() == pynvml.NVML_ERROR_UNINITIALIZED


def test_versions(node):
    node.create('A100-SXM4-40GB', driver='535.161.07', cuda=12020)
    pynvml.nvmlInit()
    assert txt(pynvml.nvmlSystemGetDriverVersion()) == '535.161.07'
    assert txt(pynvml.nvmlSystemGetNVMLVersion()) == '12.535.161.07'
    assert pynvml.nvmlSystemGetCudaDriverVersion() == 12020
    assert pynvml.nvmlSystemGetCudaDriverVersion_v2() == 12020
    node.sim('driver-version', '580.65.06', 13000)
    assert txt(pynvml.nvmlSystemGetNVMLVersion()) == '13.580.65.06'


def test_identity(node, nvml_raises):
    node.create('A100-SXM4-40GB', 'H100-SXM5-80GB', 'L40S', name='gpu-node-7', mig='none')
    pynvml.nvmlInit()
    assert pynvml.nvmlDeviceGetCount() == 3
    h = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(3)]
    assert [txt(pynvml.nvmlDeviceGetName(x)) for x in h] == ['NVIDIA A100-SXM4-40GB', 'NVIDIA H100 80GB HBM3', 'NVIDIA L40S']
    uuids = [txt(pynvml.nvmlDeviceGetUUID(x)) for x in h]
    assert all(re.match(r'^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', u) for u in uuids)
    assert len(set(uuids)) == 3
    assert [g['uuid'] for g in node.show()['gpus']] == uuids
    assert re.match(r'^\d{13}$', txt(pynvml.nvmlDeviceGetSerial(h[0])))
    pci = pynvml.nvmlDeviceGetPciInfo(h[0])
    assert (txt(pci.busId), txt(pci.busIdLegacy), pci.domain, pci.bus, pci.device, pci.pciDeviceId) == (
        '00000000:07:00.0', '0000:07:00.0', 0, 7, 0, 0x20B010DE)
    assert pynvml.nvmlDeviceGetPciInfo(h[1]).pciDeviceId == 0x233010DE
    assert [pynvml.nvmlDeviceGetArchitecture(x) for x in h] == [7, 9, 8]
    assert [pynvml.nvmlDeviceGetCudaComputeCapability(x) for x in h] == [(8, 0), (9, 0), (8, 9)]
    mem2 = pynvml.nvmlDeviceGetMemoryInfo(h[1], version=pynvml.nvmlMemory_v2)
    assert (mem2.version, mem2.total, mem2.used, mem2.free) == (0x02000028, 81559 << 20, 0, 81559 << 20)
    with pytest.raises(pynvml.NVMLError):
        pynvml.nvmlDeviceGetMemoryInfo(h[1], version=0x01000028)
    for key in (uuids[2], uuids[2].upper()):
        assert ctypes.addressof(pynvml.nvmlDeviceGetHandleByUUID(key.encode()).contents) == ctypes.addressof(h[2].contents)
    for bus in (b'00000000:0F:00.0', b'0000:0f:00.0', b'0F:00.0'):
        assert ctypes.addressof(pynvml.nvmlDeviceGetHandleByPciBusId(bus).contents) == ctypes.addressof(h[1].contents)
    with nvml_raises(pynvml.NVML_ERROR_NOT_FOUND):
        pynvml.nvmlDeviceGetHandleByPciBusId(b'0000:99:00.0')
    with nvml_raises(pynvml.NVML_ERROR_NOT_FOUND):
        pynvml.nvmlDeviceGetHandleByUUID(b'GPU-00000000-0000-0000-0000-000000000000')
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):
        pynvml.nvmlDeviceGetHandleByIndex(3)


def test_uuid_stable_across_nodes_with_same_name(tmp_path, node):
    node.create('A100-SXM4-40GB', name='same')
    other = node.__class__(str(tmp_path / 'other.state')).create('A100-SXM4-40GB', name='same')
    third = node.__class__(str(tmp_path / 'third.state')).create('A100-SXM4-40GB', name='different')
    assert node.show()['gpus'][0]['uuid'] == other.show()['gpus'][0]['uuid'] != third.show()['gpus'][0]['uuid']


def test_error_strings(node):
    node.create('A100-SXM4-40GB')
    pynvml.nvmlInit()
    assert str(pynvml.NVMLError(pynvml.NVML_ERROR_IN_USE)) == 'In use by another client'
    assert str(pynvml.NVMLError(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES)) == 'Insufficient Resources'
    assert txt(pynvml.nvmlErrorString(pynvml.NVML_ERROR_RESET_REQUIRED)) == 'GPU requires restart'


def sim_struct_size(name):
    lib = ctypes.CDLL('libnvidia-ml.so.1')
    lib.fakeNvmlSimStructSize.argtypes = [ctypes.c_char_p]
    return lib.fakeNvmlSimStructSize(name.encode())


@pytest.mark.parametrize('c_name, py_class, size', [
    ('nvmlPciInfo_t', 'nvmlPciInfo_t', 68),
    ('nvmlMemory_t', 'c_nvmlMemory_t', 24),
    ('nvmlMemory_v2_t', 'c_nvmlMemory_v2_t', 40),
    ('nvmlProcessInfo_t', 'c_nvmlProcessInfo_v3_t', 24),
    ('nvmlGpuInstancePlacement_t', 'c_nvmlGpuInstancePlacement_t', 8),
    ('nvmlGpuInstanceProfileInfo_t', 'c_nvmlGpuInstanceProfileInfo_t', 48),
    ('nvmlGpuInstanceProfileInfo_v2_t', 'c_nvmlGpuInstanceProfileInfo_v2_t', 152),
    ('nvmlGpuInstanceInfo_t', 'c_nvmlGpuInstanceInfo_t', 24),
    ('nvmlComputeInstancePlacement_t', 'c_nvmlComputeInstancePlacement_t', 8),
    ('nvmlComputeInstanceProfileInfo_t', 'c_nvmlComputeInstanceProfileInfo_t', 36),
    ('nvmlComputeInstanceProfileInfo_v2_t', 'c_nvmlComputeInstanceProfileInfo_v2_t', 136),
    ('nvmlComputeInstanceInfo_t', 'c_nvmlComputeInstanceInfo_t', 32),
    ('nvmlGpuInstanceProfileInfo_v3_t', None, 152),
    ('nvmlComputeInstanceProfileInfo_v3_t', None, 140),
    ('nvmlProcessInfo_v1_t', None, 16),
])
def test_struct_sizes_match_pynvml(c_name, py_class, size):
    assert sim_struct_size(c_name) == size
    if py_class:
        assert ctypes.sizeof(getattr(pynvml, py_class)) == size
