"""GPU-instance placement, capacity, profile ids and versioned structs (real pynvml on the fake)."""

from __future__ import absolute_import, division, print_function

import ctypes

import pynvml


def create(handle, profile_id):
    gi = pynvml.nvmlDeviceCreateGpuInstance(handle, profile_id)
    info = pynvml.nvmlGpuInstanceGetInfo(gi)
    return (info.placement.start, info.placement.size)


def capacity(handle, ids=(19, 20, 15, 14, 9, 5, 0)):
    return dict((i, pynvml.nvmlDeviceGetGpuInstanceRemainingCapacity(handle, i)) for i in ids)


def placements(handle, profile_id):
    count = ctypes.c_uint(0)
    pynvml.nvmlDeviceGetGpuInstancePossiblePlacements(handle, profile_id, None, ctypes.byref(count))
    array = (pynvml.c_nvmlGpuInstancePlacement_t * count.value)()
    pynvml.nvmlDeviceGetGpuInstancePossiblePlacements(handle, profile_id, array, ctypes.byref(count))
    return [(array[i].start, array[i].size) for i in range(count.value)]


def with_placement(handle, profile_id, start, size):
    placement = pynvml.c_nvmlGpuInstancePlacement_t()
    placement.start = start
    placement.size = size
    gi = pynvml.nvmlDeviceCreateGpuInstanceWithPlacement(handle, profile_id, ctypes.byref(placement))
    return pynvml.nvmlGpuInstanceGetInfo(gi)


def layout(node):
    return sorted((gi['profile_id'], gi['start'], gi['size']) for gi in node.show()['gpus'][0]['gpu_instances'])


# ---- driver auto-placement: mig.md §3.3 -------------------------------------------------

def test_a100_creation_order_failure(a100, nvml_raises):
    node, h = a100
    assert create(h, 19) == (6, 1)
    assert create(h, 19) == (4, 1)
    assert create(h, 14) == (2, 2)
    with nvml_raises(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES):
        pynvml.nvmlDeviceCreateGpuInstance(h, 9)
    assert layout(node) == [(14, 2, 2), (19, 4, 1), (19, 6, 1)]


def test_a100_creation_order_success(a100):
    node, h = a100
    assert [create(h, p) for p in (9, 19, 14, 19)] == [(4, 4), (0, 1), (2, 2), (1, 1)]
    assert layout(node) == [(9, 4, 4), (14, 2, 2), (19, 0, 1), (19, 1, 1)]


def test_a100_auto_placement_1g_2g_4g(a100):
    dummy, h = a100
    assert [create(h, p) for p in (19, 14, 5)] == [(6, 1), (4, 2), (0, 4)]


def test_a100_auto_placement_2g_then_five_1g(a100, nvml_raises):
    dummy, h = a100
    assert create(h, 14) == (4, 2)
    starts = sorted(create(h, 19)[0] for dummy in range(5))
    assert starts == [0, 1, 2, 3, 6]
    with nvml_raises(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES):
        pynvml.nvmlDeviceCreateGpuInstance(h, 19)


def test_a100_1g_order_and_limit(a100, nvml_raises):
    dummy, h = a100
    assert [create(h, 19)[0] for dummy in range(7)] == [6, 4, 5, 0, 1, 2, 3]
    with nvml_raises(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES):
        pynvml.nvmlDeviceCreateGpuInstance(h, 19)


def test_a30_auto_placement(node):
    node.create('A30')
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    assert create(h, 5) == (2, 2)            # 2g.12gb: 2 then 0 [inferred]
    assert [create(h, 14)[0] for dummy in range(2)] == [1, 0]   # 1g.6gb: 3,2,1,0 [inferred]
    assert capacity(h, (14, 21, 5, 6, 0)) == {14: 0, 21: 0, 5: 0, 6: 0, 0: 0}


# ---- remaining capacity: nvml.md §5.4 ---------------------------------------------------

def test_remaining_capacity_examples(a100):
    dummy, h = a100
    assert capacity(h) == {19: 7, 20: 1, 15: 4, 14: 3, 9: 2, 5: 1, 0: 1}
    assert create(h, 5) == (0, 4)
    assert capacity(h) == {19: 3, 20: 1, 15: 2, 14: 1, 9: 1, 5: 0, 0: 0}
    with_placement(h, 14, 4, 2)
    assert capacity(h) == {19: 1, 20: 1, 15: 1, 14: 0, 9: 0, 5: 0, 0: 0}  # 15 not in the reference: 6:2 free
    with_placement(h, 19, 6, 1)
    assert capacity(h) == {19: 0, 20: 0, 15: 0, 14: 0, 9: 0, 5: 0, 0: 0}


def test_capacity_capped_by_instance_count(a100):
    dummy, h = a100
    with_placement(h, 20, 0, 1)
    assert capacity(h, (20, 19)) == {20: 0, 19: 6}


# ---- profile enum index vs profile id: nvml.md §5.3 -------------------------------------

def test_profile_index_vs_id_a100(a100, nvml_raises):
    dummy, h = a100
    ids = {}
    for enum in range(pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT):
        try:
            ids[enum] = pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, enum).id
        except pynvml.NVMLError:
            pass
    assert ids == {0: 19, 1: 14, 2: 9, 3: 5, 4: 0, 7: 20, 9: 15}
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):
        pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, 0x12)
    # every other call takes the id: id 0 is the whole GPU, 19 is 1g
    assert create(h, 0) == (0, 8)


def test_profile_index_vs_id_a30(node, nvml_raises):
    node.create('A30')
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    info = pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, pynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE)
    assert (info.id, info.sliceCount, info.instanceCount, info.memorySizeMB) == (14, 1, 4, 5949)
    assert pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, pynvml.NVML_GPU_INSTANCE_PROFILE_2_SLICE).id == 5
    assert pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, pynvml.NVML_GPU_INSTANCE_PROFILE_2_SLICE_REV1).id == 6
    assert pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, pynvml.NVML_GPU_INSTANCE_PROFILE_4_SLICE).id == 0
    with nvml_raises(pynvml.NVML_ERROR_NOT_SUPPORTED):
        pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, pynvml.NVML_GPU_INSTANCE_PROFILE_3_SLICE)
    with nvml_raises(pynvml.NVML_ERROR_NOT_SUPPORTED):
        pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, pynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2)
    # id 14 is 1g on the A30 but 2g on the A100
    assert create(h, 14) == (3, 1)
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):
        pynvml.nvmlDeviceCreateGpuInstance(h, 19)


def test_profile_info_v1_fields(a100):
    dummy, h = a100
    info = pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, pynvml.NVML_GPU_INSTANCE_PROFILE_7_SLICE, version=1)
    assert (info.id, info.isP2pSupported, info.sliceCount, info.instanceCount, info.multiprocessorCount,
            info.copyEngineCount, info.decoderCount, info.encoderCount, info.jpegCount, info.ofaCount,
            info.memorySizeMB) == (0, 0, 7, 1, 98, 7, 5, 0, 1, 1, 40192)


def test_profile_info_v2(a100):
    dummy, h = a100
    info = pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, pynvml.NVML_GPU_INSTANCE_PROFILE_3_SLICE)
    assert info.version == 0x02000098
    assert (info.id, info.sliceCount, info.instanceCount, info.multiprocessorCount, info.memorySizeMB) == (9, 3, 2, 42, 19968)
    assert pynvml.nvmlDeviceGetGpuInstanceProfileInfoById(h, 15).name in (b'MIG 1g.10gb', 'MIG 1g.10gb')


class GiProfileInfoV3(ctypes.Structure):
    """nvmlGpuInstanceProfileInfo_v3_t (pynvml has no class for it; layout from nvml.md §3)."""
    _fields_ = [('version', ctypes.c_uint), ('id', ctypes.c_uint), ('sliceCount', ctypes.c_uint),
                ('instanceCount', ctypes.c_uint), ('multiprocessorCount', ctypes.c_uint),
                ('copyEngineCount', ctypes.c_uint), ('decoderCount', ctypes.c_uint), ('encoderCount', ctypes.c_uint),
                ('jpegCount', ctypes.c_uint), ('ofaCount', ctypes.c_uint), ('memorySizeMB', ctypes.c_ulonglong),
                ('name', ctypes.c_char * 96), ('capabilities', ctypes.c_uint)]


def test_profile_info_v3_and_wrong_version(a100):
    dummy, h = a100
    assert ctypes.sizeof(GiProfileInfoV3) == 152
    fn = pynvml._nvmlGetFunctionPointer('nvmlDeviceGetGpuInstanceProfileInfoV')  # pylint: disable=protected-access
    info = GiProfileInfoV3(version=0x03000098)
    assert fn(h, pynvml.NVML_GPU_INSTANCE_PROFILE_2_SLICE, ctypes.byref(info)) == 0
    assert (info.id, info.sliceCount, info.instanceCount, info.multiprocessorCount, info.memorySizeMB,
            info.name, info.capabilities) == (14, 2, 3, 28, 9856, b'MIG 2g.10gb', 0)
    bad = GiProfileInfoV3(version=0x01000098)
    assert fn(h, 0, ctypes.byref(bad)) == pynvml.NVML_ERROR_INVALID_ARGUMENT


def test_profile_info_not_supported_while_mig_disabled(node, nvml_raises):
    node.create('A100-SXM4-40GB', mig='none')
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    with nvml_raises(pynvml.NVML_ERROR_NOT_SUPPORTED):
        pynvml.nvmlDeviceGetGpuInstanceProfileInfo(h, 0)
    with nvml_raises(pynvml.NVML_ERROR_NOT_SUPPORTED):
        pynvml.nvmlDeviceGetGpuInstanceRemainingCapacity(h, 19)
    with nvml_raises(pynvml.NVML_ERROR_NOT_SUPPORTED):
        pynvml.nvmlDeviceCreateGpuInstance(h, 19)
    # placements work regardless of the mode
    assert placements(h, 9) == [(0, 4), (4, 4)]


# ---- placements and create with placement ----------------------------------------------

def test_possible_placements_and_count_query(a100, nvml_raises):
    dummy, h = a100
    assert placements(h, 19) == [(s, 1) for s in range(7)]
    assert placements(h, 15) == [(0, 2), (2, 2), (4, 2), (6, 2)]
    assert placements(h, 14) == [(0, 2), (2, 2), (4, 2)]
    assert placements(h, 5) == [(0, 4)]
    assert placements(h, 0) == [(0, 8)]
    # 1g+me: one instance, but 7 placements (nvml.md §2.6)
    count = ctypes.c_uint(0)
    pynvml.nvmlDeviceGetGpuInstancePossiblePlacements(h, 20, None, ctypes.byref(count))
    assert count.value == 7
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):
        pynvml.nvmlDeviceGetGpuInstancePossiblePlacements(h, 99, None, ctypes.byref(count))


def test_create_with_placement(a100, nvml_raises):
    node, h = a100
    info = with_placement(h, 14, 2, 2)
    assert (info.profileId, info.placement.start, info.placement.size) == (14, 2, 2)
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):   # not a valid start for 2g
        with_placement(h, 14, 1, 2)
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):   # wrong size
        with_placement(h, 9, 4, 3)
    with nvml_raises(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES):   # overlaps 2:2
        with_placement(h, 9, 0, 4)
    with nvml_raises(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES):   # overlaps 2:2
        with_placement(h, 19, 3, 1)
    with_placement(h, 20, 5, 1)
    with nvml_raises(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES):   # 1g+me: max 1 instance
        with_placement(h, 20, 6, 1)
    assert layout(node) == [(14, 2, 2), (20, 5, 1)]


def test_get_gpu_instances_and_by_id(a100, nvml_raises):
    dummy, h = a100
    with_placement(h, 19, 0, 1)
    with_placement(h, 19, 3, 1)
    with_placement(h, 9, 4, 4)
    array = (pynvml.c_nvmlGpuInstance_t * 7)()
    count = ctypes.c_uint(0)
    pynvml.nvmlDeviceGetGpuInstances(h, 19, array, ctypes.byref(count))
    starts = sorted(pynvml.nvmlGpuInstanceGetInfo(array[i]).placement.start for i in range(count.value))
    assert starts == [0, 3]
    gi_id = pynvml.nvmlGpuInstanceGetInfo(array[0]).id
    same = pynvml.nvmlDeviceGetGpuInstanceById(h, gi_id)
    assert ctypes.addressof(same.contents) == ctypes.addressof(array[0].contents)   # stable handles
    info = pynvml.nvmlGpuInstanceGetInfo(same)
    assert ctypes.addressof(info.device.contents) == ctypes.addressof(h.contents)  # parent device handle
    with nvml_raises(pynvml.NVML_ERROR_NOT_FOUND):
        pynvml.nvmlDeviceGetGpuInstanceById(h, 15)
    pynvml.nvmlGpuInstanceDestroy(same)
    with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):   # destroyed handle
        pynvml.nvmlGpuInstanceGetInfo(same)
