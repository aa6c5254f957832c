"""What NVIDIA's device plugin and GPU feature discovery need beyond MIG management (real pynvml on the fake):
MIG device attributes, minor numbers, fabric info, addressing mode, event sets."""

from __future__ import absolute_import, division, print_function

import ctypes
import time

import pynvml
import pytest

SHARED = pynvml.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED


def attrs(handle):
    a = pynvml.nvmlDeviceGetAttributes_v2(handle)
    return (a.multiprocessorCount, a.sharedCopyEngineCount, a.sharedDecoderCount, a.sharedEncoderCount,
            a.sharedJpegCount, a.sharedOfaCount, a.gpuInstanceSliceCount, a.computeInstanceSliceCount, a.memorySizeMB)


def make_gi(handle, enum, ci_enums):
    """A GI of GI-profile enum `enum` with one CI per entry of `ci_enums` (CI-profile enums)."""
    info = pynvml.nvmlDeviceGetGpuInstanceProfileInfo(handle, enum)
    gi = pynvml.nvmlDeviceCreateGpuInstance(handle, info.id)
    for ci_enum in ci_enums:
        ci_info = pynvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi, ci_enum, SHARED)
        pynvml.nvmlGpuInstanceCreateComputeInstance(gi, ci_info.id)
    return gi


def mig_devices(handle):
    result = []
    for index in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
        try:
            result.append(pynvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, index))
        except pynvml.NVMLError_NotFound:
            break
    return result


def test_struct_layouts_match_pynvml():
    # The fake's _Static_asserts fix these sizes; pynvml's ctypes mirrors of nvml.h must agree.
    assert ctypes.sizeof(pynvml.c_nvmlDeviceAttributes) == 40
    assert ctypes.sizeof(pynvml.c_nvmlGpuFabricInfo_t) == 28
    assert ctypes.sizeof(pynvml.c_nvmlGpuFabricInfo_v2_t) == pynvml.nvmlGpuFabricInfo_v2 & 0xFFFFFF == 36
    assert ctypes.sizeof(pynvml.c_nvmlGpuFabricInfo_v3_t) == pynvml.nvmlGpuFabricInfo_v3 & 0xFFFFFF == 40
    assert ctypes.sizeof(pynvml.c_nvmlDeviceAddressingMode_t) == pynvml.nvmlDeviceAddressingMode_v1 & 0xFFFFFF == 8
    assert ctypes.sizeof(pynvml.c_nvmlEventData_t) == 32


def test_mig_device_attributes_come_from_the_gi_and_ci_profiles(a100, nvml_raises):
    dummy, h = a100
    make_gi(h, pynvml.NVML_GPU_INSTANCE_PROFILE_3_SLICE, [pynvml.NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE] * 3)
    make_gi(h, pynvml.NVML_GPU_INSTANCE_PROFILE_2_SLICE, [pynvml.NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE])
    make_gi(h, pynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE, [pynvml.NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE])
    found = sorted(attrs(m) for m in mig_devices(h))
    # (SMs, CE, DEC, ENC, JPEG, OFA, GI slices, CI slices, MiB): A100-SXM4-40GB, models/A100-SXM4-40GB.model
    assert found == sorted([(14, 3, 2, 0, 0, 0, 3, 1, 19968)] * 3 + [(28, 2, 1, 0, 0, 0, 2, 2, 9851)]
                           + [(14, 1, 0, 0, 0, 0, 1, 1, 4864)])
    # The plain name (what go-nvml binds first) answers the same as _v2.
    plain = pynvml._nvmlGetFunctionPointer('nvmlDeviceGetAttributes')  # pylint: disable=protected-access
    for mig in mig_devices(h):
        out = pynvml.c_nvmlDeviceAttributes()
        assert plain(mig, ctypes.byref(out)) == pynvml.NVML_SUCCESS
        assert (out.multiprocessorCount, out.computeInstanceSliceCount, out.memorySizeMB) == (
            attrs(mig)[0], attrs(mig)[7], attrs(mig)[8])
    # Only MIG device handles (nvml.h).
    with nvml_raises(pynvml.NVML_ERROR_NOT_SUPPORTED):
        pynvml.nvmlDeviceGetAttributes_v2(h)


def test_attributes_of_a_hopper_mig_device(node):
    node.create('H100-SXM5-80GB')
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    make_gi(h, pynvml.NVML_GPU_INSTANCE_PROFILE_7_SLICE, [pynvml.NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE])
    info = pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, pynvml.NVML_GPU_INSTANCE_PROFILE_7_SLICE)
    (mig,) = mig_devices(h)
    assert attrs(mig) == (info.multiprocessorCount, info.copyEngineCount, info.decoderCount, info.encoderCount,
                          info.jpegCount, info.ofaCount, 7, 7, info.memorySizeMB)


def test_minor_number_is_the_gpu_index(node, nvml_raises):
    node.create('A100-SXM4-40GB', 'A100-SXM4-40GB', 'L40S', mig='0')
    pynvml.nvmlInit()
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(3)]
    assert [pynvml.nvmlDeviceGetMinorNumber(x) for x in handles] == [0, 1, 2]
    make_gi(handles[0], pynvml.NVML_GPU_INSTANCE_PROFILE_7_SLICE, [pynvml.NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE])
    (mig,) = mig_devices(handles[0])
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):
        pynvml.nvmlDeviceGetMinorNumber(mig)


def test_fabric_info(node, nvml_raises):
    node.create('A100-SXM4-40GB', 'H100-SXM5-80GB', 'B200', mig='none')
    pynvml.nvmlInit()
    a100, h100, b200 = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(3)]
    # Before Hopper: not supported (nvml.h "For Hopper or newer").
    with nvml_raises(pynvml.NVML_ERROR_NOT_SUPPORTED):
        pynvml.nvmlDeviceGetGpuFabricInfo(a100, ctypes.byref(pynvml.c_nvmlGpuFabricInfo_t()))
    with nvml_raises(pynvml.NVML_ERROR_NOT_SUPPORTED):
        pynvml.nvmlDeviceGetGpuFabricInfoV(a100, ctypes.byref(pynvml.c_nvmlGpuFabricInfo_v2_t()))
    for handle in (h100, b200):
        info = pynvml.c_nvmlGpuFabricInfo_t()
        info.state = 0xFF
        info.cliqueId = 77
        pynvml.nvmlDeviceGetGpuFabricInfo(handle, ctypes.byref(info))
        assert (info.state, info.status, info.cliqueId, bytes(info.clusterUuid)) == (
            pynvml.NVML_GPU_FABRIC_STATE_NOT_SUPPORTED, pynvml.NVML_SUCCESS, 0, bytes(16))
        for struct, version in ((pynvml.c_nvmlGpuFabricInfo_v2_t, pynvml.nvmlGpuFabricInfo_v2),
                                (pynvml.c_nvmlGpuFabricInfo_v3_t, pynvml.nvmlGpuFabricInfo_v3)):
            info = struct()
            info.state = 0xFF
            pynvml.nvmlDeviceGetGpuFabricInfoV(handle, ctypes.byref(info))
            assert (info.version, info.state, info.status, info.healthMask) == (
                version, pynvml.NVML_GPU_FABRIC_STATE_NOT_SUPPORTED, pynvml.NVML_SUCCESS, 0)
        info = pynvml.c_nvmlGpuFabricInfo_v2_t()
        info.version = 0x01000024
        with nvml_raises(pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH):
            pynvml.nvmlDeviceGetGpuFabricInfoV(handle, ctypes.byref(info))


def test_addressing_mode(node, nvml_raises):
    node.create('H100-SXM5-80GB', 'GH200-96GB', 'V100-SXM2-32GB', mig='none')
    pynvml.nvmlInit()
    h100, gh200, v100 = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(3)]
    assert pynvml.nvmlDeviceGetAddressingMode(h100) == pynvml.NVML_DEVICE_ADDRESSING_MODE_NONE
    assert pynvml.nvmlDeviceGetAddressingMode(gh200) == pynvml.NVML_DEVICE_ADDRESSING_MODE_ATS
    with nvml_raises(pynvml.NVML_ERROR_NOT_SUPPORTED):
        pynvml.nvmlDeviceGetAddressingMode(v100)
    mode = pynvml.c_nvmlDeviceAddressingMode_t()
    mode.version = 0x02000008
    fn = pynvml._nvmlGetFunctionPointer('nvmlDeviceGetAddressingMode')  # pylint: disable=protected-access
    assert fn(h100, ctypes.byref(mode)) == pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH


def test_event_sets_time_out_without_events(a100, nvml_raises):
    node, h = a100
    event_set = pynvml.nvmlEventSetCreate()
    supported = pynvml.nvmlDeviceGetSupportedEventTypes(h)
    wanted = (pynvml.nvmlEventTypeXidCriticalError | pynvml.nvmlEventTypeDoubleBitEccError
              | pynvml.nvmlEventTypeSingleBitEccError)
    assert supported & wanted == wanted
    pynvml.nvmlDeviceRegisterEvents(h, wanted, event_set)
    with nvml_raises(pynvml.NVML_ERROR_NOT_SUPPORTED):
        pynvml.nvmlDeviceRegisterEvents(h, pynvml.nvmlEventTypePowerSourceChange, event_set)
    start = time.monotonic()
    with nvml_raises(pynvml.NVML_ERROR_TIMEOUT):
        pynvml.nvmlEventSetWait_v2(event_set, 300)
    assert time.monotonic() - start >= 0.3
    # A fault rule makes the wait fail at once, as a lost GPU would.
    node.sim('fault-add', 'nvmlEventSetWait_v2', 1, 0, '-', 'GPU_IS_LOST', 0)
    start = time.monotonic()
    with nvml_raises(pynvml.NVML_ERROR_GPU_IS_LOST):
        pynvml.nvmlEventSetWait_v2(event_set, 5000)
    assert time.monotonic() - start < 2
    pynvml.nvmlEventSetFree(event_set)
    calls = [c for c in node.calls() if c['function'].startswith('nvmlEventSetWait')]
    assert [c['rc'] for c in calls] == [pynvml.NVML_ERROR_TIMEOUT, pynvml.NVML_ERROR_GPU_IS_LOST]


@pytest.mark.parametrize('symbol', ['nvmlEventSetWait', 'nvmlEventSetWait_v2'])
def test_event_wait_does_not_block_other_calls(a100, symbol):
    import threading  # pylint: disable=import-outside-toplevel
    dummy, h = a100
    event_set = pynvml.nvmlEventSetCreate()
    data = pynvml.c_nvmlEventData_t()
    fn = pynvml._nvmlGetFunctionPointer(symbol)  # pylint: disable=protected-access
    result = []
    waiter = threading.Thread(target=lambda: result.append(fn(event_set, ctypes.byref(data), ctypes.c_uint(1500))))
    waiter.start()
    time.sleep(0.2)
    start = time.monotonic()
    assert pynvml.nvmlDeviceGetMinorNumber(h) == 0
    assert time.monotonic() - start < 1
    waiter.join()
    assert result == [pynvml.NVML_ERROR_TIMEOUT]
    pynvml.nvmlEventSetFree(event_set)
