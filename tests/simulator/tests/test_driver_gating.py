"""Driver-dependent profiles and the media-engine budget (fidelity-2026-12 D1, D4), real pynvml on the fake.

The minimum drivers and the engine budget are the catalog's (generated into the model data by gen_models.py):
``+me`` from R470, ``1g.10gb`` and ``2g.12gb+me`` from R525, A100 ``4g`` + ``3g`` together from R510 (mig.md 5.1, 3.3).
What an old driver answers is partly inferred: NOT_SUPPORTED for the profile info of a profile it lacks (the documented
enumeration protocol), INVALID_ARGUMENT for its id (an id it does not know), INSUFFICIENT_RESOURCES for the GI that
would complete an unsupported combination or exceed the media engines [inferred: no transcript of these refusals].
"""

from __future__ import absolute_import, division, print_function

import pynvml
import pytest

from test_placement import capacity, create, with_placement


def _node(node, model, driver):
    node.create(model, driver=driver)
    pynvml.nvmlInit()
    return pynvml.nvmlDeviceGetHandleByIndex(0)


def _offered_enums(handle):
    found = []
    for enum in range(pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT):
        try:
            pynvml.nvmlDeviceGetGpuInstanceProfileInfo(handle, enum)
        except pynvml.NVMLError as exc:
            assert exc.value in (pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_INVALID_ARGUMENT)
            continue
        found.append(enum)
    return found


ME, REV2, ME2 = pynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1, pynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2, pynvml.NVML_GPU_INSTANCE_PROFILE_2_SLICE_REV1


@pytest.mark.parametrize('model, driver, lacking', [
    ('A100-SXM4-40GB', '460.106.00', {ME, REV2}),   # +me from R470, 1g.10gb from R525
    ('A100-SXM4-40GB', '470.82.01', {REV2}),
    ('A100-SXM4-40GB', '525.60.13', set()),
    ('A30', '465.19.01', {ME, ME2}),
    ('A30', '470.82.01', {ME2}),                    # 2g.12gb+me from R525
    ('A30', '535.183.01', set()),
])
def test_old_driver_does_not_offer_newer_profiles(node, nvml_raises, model, driver, lacking):
    handle = _node(node, model, driver)
    everything = {0, 1, 2, 3, 4, ME, REV2} if model.startswith('A100') else {0, 1, 3, ME, ME2}
    assert set(_offered_enums(handle)) == everything - lacking
    ids = {ME: 20, REV2: 15} if model.startswith('A100') else {ME: 21, ME2: 6}
    for enum in lacking:
        with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):
            pynvml.nvmlDeviceCreateGpuInstance(handle, ids[enum])
        with nvml_raises(pynvml.NVML_ERROR_INVALID_ARGUMENT):
            pynvml.nvmlDeviceGetGpuInstanceRemainingCapacity(handle, ids[enum])


@pytest.mark.parametrize('driver, refused', [('470.82.01', True), ('510.47.03', False)])
def test_4g_and_3g_together_need_r510(node, nvml_raises, driver, refused):
    handle = _node(node, 'A100-SXM4-40GB', driver)
    assert create(handle, 5) == (0, 4)
    if refused:
        assert capacity(handle, (9,)) == {9: 0}
        with nvml_raises(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES):
            with_placement(handle, 9, 4, 4)
        with nvml_raises(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES):
            pynvml.nvmlDeviceCreateGpuInstance(handle, 9)
        assert create(handle, 14) == (4, 2)         # other profiles still fit beside the 4g
    else:
        assert capacity(handle, (9,)) == {9: 1}
        assert with_placement(handle, 9, 4, 4).placement.start == 4


@pytest.mark.parametrize('first, second', [(21, 6), (6, 21)])
def test_a30_has_one_jpeg_and_one_ofa_for_all_media_gpu_instances(node, nvml_raises, first, second):
    handle = _node(node, 'A30', '535.183.01')
    pynvml.nvmlDeviceCreateGpuInstance(handle, first)
    assert capacity(handle, (second, 14, 5)) == {second: 0, 14: 2 if first == 6 else 3, 5: 1}
    with nvml_raises(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES):
        pynvml.nvmlDeviceCreateGpuInstance(handle, second)
    with nvml_raises(pynvml.NVML_ERROR_INSUFFICIENT_RESOURCES):
        with_placement(handle, second, 2, 2 if second == 6 else 1)
