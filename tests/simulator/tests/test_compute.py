"""Compute instances, MIG device handles and processes (real pynvml on the fake)."""

from __future__ import absolute_import, division, print_function

import ctypes

import pynvml

SHARED = pynvml.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED


def gi_at(handle, profile_id, start, size):
    placement = pynvml.c_nvmlGpuInstancePlacement_t()
    placement.start = start
    placement.size = size
    return pynvml.nvmlDeviceCreateGpuInstanceWithPlacement(handle, profile_id, ctypes.byref(placement))


def offered(gi):
    result = {}
    for enum in range(pynvml.NVML_COMPUTE_INSTANCE_PROFILE_COUNT):
        try:
            info = pynvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi, enum, SHARED)
        except pynvml.NVMLError:
            continue
        result[info.id] = (info.sliceCount, info.instanceCount, info.multiprocessorCount, pynvml_text(info.name))
    return result


def pynvml_text(value):
    return value.decode() if isinstance(value, bytes) else value


def ci_placements(gi, profile_id):
    count = ctypes.c_uint(0)
    pynvml.nvmlGpuInstanceGetComputeInstancePossiblePlacements(gi, profile_id, None, ctypes.byref(count))
    array = (pynvml.c_nvmlComputeInstancePlacement_t * count.value)()
    pynvml.nvmlGpuInstanceGetComputeInstancePossiblePlacements(gi, profile_id, array, ctypes.byref(count))
    return [(array[i].start, array[i].size) for i in range(count.value)]


def test_ci_profiles_per_gi_size(a100, nvml_raises):
    dummy, h = a100
    gi1 = gi_at(h, 19, 0, 1)
    gi2 = gi_at(h, 14, 2, 2)
    gi3 = gi_at(h, 9, 4, 4)
    assert offered(gi1) == {0: (1, 1, 14, 'MIG 1g.5gb')}
    assert offered(gi2) == {0: (1, 2, 14, 'MIG 1c.2g.10gb'), 1: (2, 1, 28, 'MIG 2g.10gb')}
    assert offered(gi3) == {0: (1, 3, 14, 'MIG 1c.3g.20gb'), 1: (2, 1, 28, 'MIG 2c.3g.20gb'), 2: (3, 1, 42, 'MIG 3g.20gb')}
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):
        pynvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi3, pynvml.NVML_COMPUTE_INSTANCE_PROFILE_COUNT, SHARED)
    info = pynvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi3, 2, SHARED)
    assert info.version == 0x02000088
    assert (info.sharedCopyEngineCount, info.sharedDecoderCount, info.sharedJpegCount, info.sharedOfaCount) == (3, 2, 0, 0)


def test_ci_profiles_4g_and_7g(node):
    node.create('A100-SXM4-40GB:2')
    pynvml.nvmlInit()
    gi4 = gi_at(pynvml.nvmlDeviceGetHandleByIndex(0), 5, 0, 4)
    gi7 = gi_at(pynvml.nvmlDeviceGetHandleByIndex(1), 0, 0, 8)
    assert dict((k, v[:2]) for k, v in offered(gi4).items()) == {0: (1, 4), 1: (2, 2), 3: (4, 1)}
    assert dict((k, v[:2]) for k, v in offered(gi7).items()) == {0: (1, 7), 1: (2, 3), 2: (3, 2), 3: (4, 1), 4: (7, 1)}
    assert ci_placements(gi7, 1) == [(0, 2), (2, 2), (4, 2)]
    assert ci_placements(gi7, 2) == [(0, 3), (3, 3)]
    assert ci_placements(gi4, 3) == [(0, 4)]


class CiProfileInfoV3(ctypes.Structure):
    """nvmlComputeInstanceProfileInfo_v3_t (nvml.md §3)."""
    _fields_ = [('version', ctypes.c_uint)] + [(n, ctypes.c_uint) for n in (
        'id', 'sliceCount', 'instanceCount', 'multiprocessorCount', 'sharedCopyEngineCount', 'sharedDecoderCount',
        'sharedEncoderCount', 'sharedJpegCount', 'sharedOfaCount')] + [('name', ctypes.c_char * 96), ('capabilities', ctypes.c_uint)]


def test_ci_profile_info_v3_and_wrong_version(a100):
    dummy, h = a100
    gi = gi_at(h, 9, 0, 4)
    fn = pynvml._nvmlGetFunctionPointer('nvmlGpuInstanceGetComputeInstanceProfileInfoV')  # pylint: disable=protected-access
    info = CiProfileInfoV3(version=0x0300008C)
    assert ctypes.sizeof(info) == 140
    assert fn(gi, 0, SHARED, ctypes.byref(info)) == 0
    assert (info.id, info.sliceCount, info.instanceCount, info.name, info.capabilities) == (0, 1, 3, b'MIG 1c.3g.20gb', 0)
    bad = CiProfileInfoV3(version=0x01000088)
    assert fn(gi, 0, SHARED, ctypes.byref(bad)) == pynvml.NVML_ERROR_INVALID_ARGUMENT


def test_ci_create_capacity_destroy(a100, nvml_raises):
    node, h = a100
    gi = gi_at(h, 9, 4, 4)
    assert pynvml.nvmlGpuInstanceGetComputeInstanceRemainingCapacity(gi, 0) == 3
    cis = [pynvml.nvmlGpuInstanceCreateComputeInstance(gi, 0) for dummy in range(2)]
    infos = [pynvml.nvmlComputeInstanceGetInfo(ci) for ci in cis]
    assert [(i.id, i.profileId, i.placement.start, i.placement.size) for i in infos] == [(0, 0, 0, 1), (1, 0, 1, 1)]
    assert ctypes.addressof(infos[0].gpuInstance.contents) == ctypes.addressof(gi.contents)
    assert ctypes.addressof(infos[0].device.contents) == ctypes.addressof(h.contents)
    assert pynvml.nvmlGpuInstanceGetComputeInstanceRemainingCapacity(gi, 0) == 1
    assert pynvml.nvmlGpuInstanceGetComputeInstanceRemainingCapacity(gi, 1) == 0   # 2c needs 0:2
    assert pynvml.nvmlGpuInstanceGetComputeInstanceRemainingCapacity(gi, 2) == 0
    with nvml_raises(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES):
        pynvml.nvmlGpuInstanceCreateComputeInstance(gi, 2)
    # GI destroy is refused while CIs exist
    with nvml_raises(pynvml.NVML_ERROR_IN_USE):
        pynvml.nvmlGpuInstanceDestroy(gi)
    pynvml.nvmlComputeInstanceDestroy(cis[0])
    placement = pynvml.c_nvmlComputeInstancePlacement_t()
    placement.start, placement.size = 1, 2
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):   # 2c starts at multiples of 2
        pynvml.nvmlGpuInstanceCreateComputeInstanceWithPlacement(gi, 1, ctypes.byref(placement))
    placement.start = 0
    with nvml_raises(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES):   # overlaps CI 1 at 1:1
        pynvml.nvmlGpuInstanceCreateComputeInstanceWithPlacement(gi, 1, ctypes.byref(placement))
    placement.start, placement.size = 2, 1
    ci = pynvml.nvmlGpuInstanceCreateComputeInstanceWithPlacement(gi, 0, ctypes.byref(placement))
    assert pynvml.nvmlComputeInstanceGetInfo(ci).id == 0   # lowest free CI id
    cis_state = node.show()['gpus'][0]['gpu_instances'][0]['compute_instances']
    assert [(c['id'], c['profile'], c['start']) for c in cis_state] == [(0, '1c.3g.20gb', 2), (1, '1c.3g.20gb', 1)]
    array = (pynvml.c_nvmlComputeInstance_t * 3)()
    count = ctypes.c_uint(0)
    pynvml.nvmlGpuInstanceGetComputeInstances(gi, 0, array, ctypes.byref(count))
    assert count.value == 2
    with nvml_raises(pynvml.NVML_ERROR_NOT_FOUND):
        pynvml.nvmlGpuInstanceGetComputeInstanceById(gi, 5)
    for i in range(count.value):
        pynvml.nvmlComputeInstanceDestroy(array[i])
    pynvml.nvmlGpuInstanceDestroy(gi)
    assert node.show()['gpus'][0]['gpu_instances'] == []


def test_ci_destroy_in_use_with_process(a100, nvml_raises):
    node, h = a100
    gi = gi_at(h, 14, 0, 2)
    ci = pynvml.nvmlGpuInstanceCreateComputeInstance(gi, 1)
    info = pynvml.nvmlGpuInstanceGetInfo(gi)
    node.add_process(0, 777, gi=info.id, ci=0)
    with nvml_raises(pynvml.NVML_ERROR_IN_USE):
        pynvml.nvmlComputeInstanceDestroy(ci)
    with nvml_raises(pynvml.NVML_ERROR_IN_USE):
        pynvml.nvmlGpuInstanceDestroy(gi)
    with nvml_raises(pynvml.NVML_ERROR_IN_USE) as excinfo:
        pynvml.nvmlGpuInstanceDestroy(gi)
    assert str(excinfo.value) == 'In use by another client'
    node.sim('process-remove', 777)
    pynvml.nvmlComputeInstanceDestroy(ci)
    pynvml.nvmlGpuInstanceDestroy(gi)


def test_mig_device_handles(a100, nvml_raises):
    node, h = a100
    assert pynvml.nvmlDeviceGetMaxMigDeviceCount(h) == 7
    gi_b = gi_at(h, 9, 4, 4)
    gi_a = gi_at(h, 14, 0, 2)
    pynvml.nvmlGpuInstanceCreateComputeInstance(gi_b, 0)
    pynvml.nvmlGpuInstanceCreateComputeInstance(gi_b, 0)
    pynvml.nvmlGpuInstanceCreateComputeInstance(gi_a, 1)
    id_a = pynvml.nvmlGpuInstanceGetInfo(gi_a).id
    id_b = pynvml.nvmlGpuInstanceGetInfo(gi_b).id
    expected = sorted([(id_a, 0), (id_b, 0), (id_b, 1)])
    found = []
    for index in range(7):
        try:
            mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(h, index)
        except pynvml.NVMLError as err:
            assert (err.value, index >= 3) == (pynvml.NVML_ERROR_NOT_FOUND, True)
            continue
        found.append((pynvml.nvmlDeviceGetGpuInstanceId(mig), pynvml.nvmlDeviceGetComputeInstanceId(mig)))
    assert found == expected
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):
        pynvml.nvmlDeviceGetMigDeviceHandleByIndex(h, 7)
    mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(h, [i for i, e in enumerate(expected) if e == (id_a, 0)][0])
    assert bool(pynvml.nvmlDeviceIsMigDeviceHandle(mig)) and not bool(pynvml.nvmlDeviceIsMigDeviceHandle(h))
    assert pynvml_text(pynvml.nvmlDeviceGetName(mig)) == 'NVIDIA A100-SXM4-40GB MIG 2g.10gb'
    uuid = pynvml_text(pynvml.nvmlDeviceGetUUID(mig))
    assert uuid.startswith('MIG-') and len(uuid) == 40
    assert pynvml.nvmlDeviceGetMemoryInfo(mig).total == 9856 * 1024 * 1024
    parent = pynvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(mig)
    assert ctypes.addressof(parent.contents) == ctypes.addressof(h.contents)
    again = pynvml.nvmlDeviceGetHandleByUUID(uuid.encode())
    assert ctypes.addressof(again.contents) == ctypes.addressof(mig.contents)
    with nvml_raises(pynvml.NVML_ERROR_NOT_SUPPORTED):
        pynvml.nvmlDeviceGetGpuInstanceId(h)
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):
        pynvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(h)
    state_uuids = [ci['uuid'] for gi in node.show()['gpus'][0]['gpu_instances'] for ci in gi['compute_instances']]
    assert uuid in state_uuids


def test_processes_parent_and_mig_handle(a100):
    node, h = a100
    gi = gi_at(h, 19, 0, 1)
    pynvml.nvmlGpuInstanceCreateComputeInstance(gi, 0)
    gi_id = pynvml.nvmlGpuInstanceGetInfo(gi).id
    gi2 = gi_at(h, 19, 1, 1)
    pynvml.nvmlGpuInstanceCreateComputeInstance(gi2, 0)
    assert not pynvml.nvmlDeviceGetComputeRunningProcesses(h)
    node.add_process(0, 100, gi=gi_id, ci=0, used_mib=300)
    node.add_process(0, 101, gi=pynvml.nvmlGpuInstanceGetInfo(gi2).id, ci=0, used_mib=200)
    procs = pynvml.nvmlDeviceGetComputeRunningProcesses(h)
    assert sorted((p.pid, p.usedGpuMemory, p.gpuInstanceId, p.computeInstanceId) for p in procs) == [
        (100, 300 << 20, gi_id, 0), (101, 200 << 20, gi_id + 1, 0)]
    mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(h, 0)
    assert [p.pid for p in pynvml.nvmlDeviceGetComputeRunningProcesses(mig)] == [100]
    assert not pynvml.nvmlDeviceGetGraphicsRunningProcesses(h)
    # count-query protocol directly
    fn = pynvml._nvmlGetFunctionPointer('nvmlDeviceGetComputeRunningProcesses_v3')  # pylint: disable=protected-access
    count = ctypes.c_uint(0)
    assert fn(h, ctypes.byref(count), None) == pynvml.NVML_ERROR_INSUFFICIENT_SIZE and count.value == 2
    legacy = pynvml._nvmlGetFunctionPointer('nvmlDeviceGetComputeRunningProcesses')  # pylint: disable=protected-access

    class ProcV1(ctypes.Structure):
        _fields_ = [('pid', ctypes.c_uint), ('usedGpuMemory', ctypes.c_ulonglong)]
    assert ctypes.sizeof(ProcV1) == 16
    array = (ProcV1 * 2)()
    count = ctypes.c_uint(2)
    assert legacy(h, ctypes.byref(count), array) == 0
    assert sorted(array[i].pid for i in range(count.value)) == [100, 101]


def test_process_ids_invalid_without_mig(node, nvml_raises):
    node.create('A100-SXM4-40GB', mig='none')
    node.add_process(0, 55, used_mib=1000)
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    (proc,) = pynvml.nvmlDeviceGetComputeRunningProcesses(h)
    assert (proc.pid, proc.gpuInstanceId, proc.computeInstanceId) == (55, 0xFFFFFFFF, 0xFFFFFFFF)
    assert pynvml.nvmlDeviceGetMaxMigDeviceCount(h) == 0
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):
        pynvml.nvmlDeviceGetMigDeviceHandleByIndex(h, 0)
    mem = pynvml.nvmlDeviceGetMemoryInfo(h)
    assert (mem.total, mem.used, mem.free) == (40960 << 20, 1000 << 20, 39960 << 20)
