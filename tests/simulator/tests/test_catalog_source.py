"""The fake answers with the collection's catalog (gen_models.py), checked through the real pynvml for every model.

What NVML reports about each GPU-instance profile and each compute-instance profile inside it must be the catalog's figure;
only figures the catalog leaves unknown (None) may come from a model file's ``sim`` lines.
"""

from __future__ import absolute_import, division, print_function

import ctypes
import importlib.util
import os
import sys

import pynvml
import pytest

SIM_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


GEN = _load('gen_models', os.path.join(SIM_DIR, 'gen_models.py'))
CATALOG = GEN.load_catalog()
SHARED = pynvml.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED


def _placements(function, owner, profile_id, struct):
    count = ctypes.c_uint(0)
    function(owner, profile_id, None, ctypes.byref(count))
    array = (struct * count.value)()
    function(owner, profile_id, array, ctypes.byref(count))
    return [(array[i].start, array[i].size) for i in range(count.value)]


@pytest.mark.parametrize('key', [m.key for m in CATALOG.MODELS if m.mig_capable])
def test_every_nvml_figure_is_the_catalogs(node, key):
    model = CATALOG.model_by_key(key)
    sim = GEN.read_model_file(os.path.join(SIM_DIR, 'models', key + '.model'))['sim']
    node.create(key)
    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    total_mib = model.memory_mib if model.memory_mib is not None else sim[(None, 'memory_mib')]
    assert pynvml.nvmlDeviceGetMemoryInfo(handle).total == total_mib * 1024 * 1024
    for profile in model.gi_profiles:
        info = pynvml.nvmlDeviceGetGpuInstanceProfileInfo(handle, profile.nvml_enum)
        got = dict(memory_mib=info.memorySizeMB, sm=info.multiprocessorCount, ce=info.copyEngineCount, dec=info.decoderCount,
                   enc=info.encoderCount, jpeg=info.jpegCount, ofa=info.ofaCount)
        for field, value in got.items():
            known = getattr(profile, field)
            assert value == (known if known is not None else sim[(profile.name, field)]), (profile.name, field)
        assert (info.id, info.instanceCount, info.sliceCount) == (profile.profile_id, profile.max_count, profile.compute_slices)
        assert _placements(pynvml.nvmlDeviceGetGpuInstancePossiblePlacements, handle, profile.profile_id,
                           pynvml.c_nvmlGpuInstancePlacement_t) == list(profile.placements)
        placement = pynvml.c_nvmlGpuInstancePlacement_t()
        placement.start, placement.size = profile.starts[0], profile.memory_slices
        gi = pynvml.nvmlDeviceCreateGpuInstanceWithPlacement(handle, profile.profile_id, ctypes.byref(placement))
        offered = {}
        for enum in range(pynvml.NVML_COMPUTE_INSTANCE_PROFILE_COUNT):
            try:
                offered[enum] = pynvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(gi, enum, SHARED)
            except pynvml.NVMLError:
                continue
        assert sorted(offered) == sorted(c.nvml_enum for c in profile.compute_profiles), profile.name
        for compute in profile.compute_profiles:
            ci = offered[compute.nvml_enum]
            assert (ci.sliceCount, ci.instanceCount) == (compute.slices, compute.max_count), compute.name
            if compute.sm is not None:
                assert ci.multiprocessorCount == compute.sm, compute.name
            assert _placements(pynvml.nvmlGpuInstanceGetComputeInstancePossiblePlacements, gi, compute.nvml_enum,
                               pynvml.c_nvmlComputeInstancePlacement_t) == [(s, compute.slices) for s in compute.starts], compute.name
        pynvml.nvmlGpuInstanceDestroy(gi)


@pytest.mark.parametrize('extra, message', [
    ('sim 1g.5gb memory_mib 4000\n', 'the catalog knows this figure (4864)'),
    ('sim 9g.99gb sm 1\n', 'sim values for unknown profiles or fields'),
    ('autoplace 1g.5gb 0,1\n', 'is not an order of its placements'),
])
def test_model_files_cannot_override_the_catalog(tmp_path, extra, message):
    with open(os.path.join(SIM_DIR, 'models', 'A100-SXM4-40GB.model')) as handle:
        text = handle.read()
    path = tmp_path / 'A100-SXM4-40GB.model'
    path.write_text(text + extra)
    with pytest.raises(GEN.ModelFileError) as exc:
        GEN.model_text(CATALOG, GEN.read_model_file(str(path)), str(path))
    assert message in str(exc.value)


def test_an_unknown_catalog_figure_needs_a_sim_value(tmp_path):
    with open(os.path.join(SIM_DIR, 'models', 'B200.model')) as handle:
        text = handle.read()
    path = tmp_path / 'B200.model'
    path.write_text(text.replace('sim 3g.90gb sm 54\n', ''))
    with pytest.raises(GEN.ModelFileError) as exc:
        GEN.model_text(CATALOG, GEN.read_model_file(str(path)), str(path))
    assert 'the catalog has no sm for 3g.90gb' in str(exc.value)


def test_catalog_keys_are_refused_and_other_simulator_keys_pass_through(tmp_path):
    with open(os.path.join(SIM_DIR, 'models', 'A30.model')) as handle:
        text = handle.read()
    path = tmp_path / 'A30.model'
    path.write_text(text + 'total_mib 1\n')
    with pytest.raises(GEN.ModelFileError) as exc:
        GEN.read_model_file(str(path))
    assert "'total_mib' comes from the catalog" in str(exc.value)
    path.write_text(text + 'some_sim_only_key 7   # a simulator-only fact\n')
    assert 'some_sim_only_key 7\n' in GEN.model_text(CATALOG, GEN.read_model_file(str(path)), str(path))


def test_the_rtx_pro_boards_and_the_boards_the_catalog_lacks(node):
    """The fake presents the RTX PRO boards of issue 18 item 8 as the catalog has them, and two boards it must not know."""
    keys = ('RTX-PRO-6000-WS', 'RTX-PRO-6000-MAXQ', 'RTX-PRO-5000', 'RTX-PRO-4500', 'RTX-PRO-5000-72GB', 'H20-HBM3E')
    node.create(*keys)
    pynvml.nvmlInit()
    seen = []
    for index in range(len(keys)):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        name = pynvml.nvmlDeviceGetName(handle)
        name = name.decode() if isinstance(name, bytes) else name
        total = pynvml.nvmlDeviceGetMemoryInfo(handle).total // (1024 * 1024)
        device = pynvml.nvmlDeviceGetPciInfo(handle).pciDeviceId
        found = CATALOG.find_model(pci_device_id=device, name=name, memory_total_mib=total)
        seen.append((name, '0x%08X' % device, None if found is None else found.key))
        assert pynvml.nvmlDeviceGetMigMode(handle)[0] == 1
    assert seen == [
        ('NVIDIA RTX PRO 6000 Blackwell Workstation Edition', '0x2BB110DE', 'RTX-PRO-6000-WS'),
        ('NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition', '0x2BB410DE', 'RTX-PRO-6000-MAXQ'),
        ('NVIDIA RTX PRO 5000 Blackwell', '0x2BB310DE', 'RTX-PRO-5000'),
        ('NVIDIA RTX PRO 4500 Blackwell', '0x2C3110DE', 'RTX-PRO-4500'),
        # one PCI id for the 48GB and the 72GB RTX PRO 5000: the memory total tells them apart
        ('NVIDIA RTX PRO 5000 72GB Blackwell', '0x2BB310DE', None),
        ('NVIDIA H20 HBM3e', '0x232C10DE', None),
    ]
    # a 2-slice board: 1g at {0,3}:3, 2g at {0}:6 (the whole board is profile id 0)
    handle = pynvml.nvmlDeviceGetHandleByIndex(2)
    info = pynvml.nvmlDeviceGetGpuInstanceProfileInfo(handle, pynvml.NVML_GPU_INSTANCE_PROFILE_1_SLICE)
    assert _placements(pynvml.nvmlDeviceGetGpuInstancePossiblePlacements, handle, info.id,
                       pynvml.c_nvmlGpuInstancePlacement_t) == [(0, 3), (3, 3)]
    assert pynvml.nvmlDeviceGetGpuInstanceProfileInfo(handle, pynvml.NVML_GPU_INSTANCE_PROFILE_2_SLICE).id == 0
    # a board the catalog lacks offers no GPU-instance profile
    handle = pynvml.nvmlDeviceGetHandleByIndex(4)
    for enum in range(pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT):
        with pytest.raises(pynvml.NVMLError):
            pynvml.nvmlDeviceGetGpuInstanceProfileInfo(handle, enum)


@pytest.mark.parametrize('text, message', [
    # a catalogued board cannot be presented as uncatalogued: the catalog is the one source of its figures
    ('key X\nuncatalogued\nname NVIDIA RTX PRO 5000 Blackwell\npci_device_id 0x2BB3\narch 10\ncc 12.0\ntotal_mib 48000\nmig 1\n'
     'mode_persistent 0\n', 'the catalog knows this board as RTX-PRO-5000'),
    ('key RTX-PRO-5000\nuncatalogued\nname N\npci_device_id 0x2BB3\narch 10\ncc 12.0\ntotal_mib 73000\nmig 1\nmode_persistent 0\n',
     'RTX-PRO-5000 is a catalog key'),
    ('key X\nuncatalogued\nname N\npci_device_id 0x2BB3\n', 'missing: arch, cc, total_mib, mig, mode_persistent'),
    ('key X\nname N\n', "'name' comes from the catalog"),
])
def test_uncatalogued_model_files_cannot_shadow_the_catalog(tmp_path, text, message):
    path = tmp_path / 'X.model'
    path.write_text(text)
    with pytest.raises(GEN.ModelFileError) as exc:
        GEN.model_text(CATALOG, GEN.read_model_file(str(path)), str(path))
    assert message in str(exc.value)
