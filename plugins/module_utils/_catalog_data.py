# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Data of the GPU catalog (``_catalog``): what NVIDIA documents about each GPU model, as plain Python values.

Identity, slice layouts, profile rows (memory, SM and engine counts), minimum drivers, compute-instance placements and
documented name drift, each with its source and the notes that qualify it. ``_catalog`` holds the types and the code that
builds its ``MODELS`` from ``MODEL_SPECS`` here; read the conventions (notes, memory figures, enums) in its docstring.
Standard library only; no code beyond the small note builders that format the notes.
"""

from __future__ import annotations

import types

ARCH_VOLTA = 'volta'
ARCH_AMPERE = 'ampere'
ARCH_ADA = 'ada'
ARCH_HOPPER = 'hopper'
ARCH_BLACKWELL = 'blackwell'

# nvmlDeviceArchitecture_t values (nvml.md 4.3).
NVML_ARCHITECTURE = {ARCH_VOLTA: 5, ARCH_AMPERE: 7, ARCH_ADA: 8, ARCH_HOPPER: 9, ARCH_BLACKWELL: 10}

NOTE_INFERRED = '[INF]'
NOTE_UNCERTAIN = '[UNC]'
NOTE_UNVERIFIED = '[UNVERIFIED]'

# NVML_GPU_INSTANCE_PROFILE_* (nvml.md 4.2, mig.md 4.2).
NVML_GPU_INSTANCE_PROFILE = types.MappingProxyType({
    '1_SLICE': 0x0,
    '2_SLICE': 0x1,
    '3_SLICE': 0x2,
    '4_SLICE': 0x3,
    '7_SLICE': 0x4,
    '8_SLICE': 0x5,
    '6_SLICE': 0x6,
    '1_SLICE_REV1': 0x7,   # +me
    '2_SLICE_REV1': 0x8,   # 2g+me (A30)
    '1_SLICE_REV2': 0x9,   # 1 compute slice, twice the memory
    '1_SLICE_GFX': 0xA,
    '2_SLICE_GFX': 0xB,
    '4_SLICE_GFX': 0xC,
    '1_SLICE_NO_ME': 0xD,
    '2_SLICE_NO_ME': 0xE,
    '1_SLICE_ALL_ME': 0xF,
    '2_SLICE_ALL_ME': 0x10,
    '3_SLICE_GFX': 0x11,
})

# NVML_COMPUTE_INSTANCE_PROFILE_* (nvml.md 4.2). Observed CI profile ids equal these values (nvml.md 5.3).
NVML_COMPUTE_INSTANCE_PROFILE = types.MappingProxyType({
    '1_SLICE': 0x0,
    '2_SLICE': 0x1,
    '3_SLICE': 0x2,
    '4_SLICE': 0x3,
    '7_SLICE': 0x4,
    '8_SLICE': 0x5,
    '6_SLICE': 0x6,
    '1_SLICE_REV1': 0x7,
    '7_SLICE_NVL': 0x8,
})

_GI = NVML_GPU_INSTANCE_PROFILE
CI_ENUM_BY_SLICES = {1: 0x0, 2: 0x1, 3: 0x2, 4: 0x3, 7: 0x4, 8: 0x5, 6: 0x6}


def _note(field, tag, reason):
    return '%s: %s %s' % (field, tag, reason)


def inferred(fields, reason):
    """Notes marking each of ``fields`` (a name or a tuple of names) as inferred."""
    if isinstance(fields, str):
        fields = (fields,)
    return tuple(_note(f, NOTE_INFERRED, reason) for f in fields)


def uncertain(fields, reason):
    """Notes marking each of ``fields`` as uncertain (conflicting or missing sources)."""
    if isinstance(fields, str):
        fields = (fields,)
    return tuple(_note(f, NOTE_UNCERTAIN, reason) for f in fields)


def unverified(fields, reason):
    """Notes marking identity values that come from the project table, not from the references."""
    if isinstance(fields, str):
        fields = (fields,)
    return tuple(_note(f, NOTE_UNVERIFIED, reason) for f in fields)


# Drifted names: GI profile names that NVIDIA's drivers are documented to have reported for the same profile of the same
# board (a name is computed from driver-reported memory, mig.md 1.3). Only these resolve (``GpuModel.resolve_profile``);
# a name of the same slice class on another board is refused: H200 1g.18gb/3g.71gb vs GH200 144G 1g.18gb/3g.72gb, H100
# 80GB 1g.10gb vs H100 NVL 1g.12gb, B200 3g.90gb vs GB200 3g.93gb are different boards, not drift (mig.md 4.7-4.9).
# Each row: (model keys, drifted name, catalog name, source).
DOCUMENTED_DRIFT = (
    (('A100-SXM4-80GB', 'A100-PCIE-80GB'), '3g.39gb', '3g.40gb',
     'NVIDIA/mig-parted#31: drivers 535.x and 545.x named the A100 80GB 3g profile 3g.39gb; mig.md 4.6, 5.3'),
    (('GB200',), '1g.24gb', '1g.23gb',
     'NVIDIA/mig-parted#227 and PR #228: early GB200 boards and drivers named the 1g profile (id 19) 1g.24gb, production boards '
     '1g.23gb; mig.md 4.9'),
)


# --------------------------------------------------------------------------------------------------
# Geometry shared by GPUs with the same slice layout
# --------------------------------------------------------------------------------------------------

# 7 compute / 8 memory slices (mig.md 4.3). Written once, used by every 8-slice GPU; each model says whether
# its placements were seen as real `nvidia-smi mig -lgipp` output or are inferred.
# Columns: slice class, NVML enum, nvidia-smi profile ID, valid placement starts, placement size (memory slices), max count.
EIGHT_SLICE_LAYOUT = (
    ('1g'   , _GI['1_SLICE']     , 19, (0, 1, 2, 3, 4, 5, 6), 1, 7),
    ('1g+me', _GI['1_SLICE_REV1'], 20, (0, 1, 2, 3, 4, 5, 6), 1, 1),
    ('1g.2m', _GI['1_SLICE_REV2'], 15, (0, 2, 4, 6)         , 2, 4),
    ('2g'   , _GI['2_SLICE']     , 14, (0, 2, 4)            , 2, 3),
    ('3g'   , _GI['3_SLICE']     , 9 , (0, 4)               , 4, 2),
    ('4g'   , _GI['4_SLICE']     , 5 , (0,)                 , 4, 1),
    ('7g'   , _GI['7_SLICE']     , 0 , (0,)                 , 8, 1),
)

# 4 compute / 4 memory slices: A30 (mig.md 4.4). Note the A30-specific ids (1g -> 14, 2g -> 5, 4g -> 0).
_A30_LAYOUT = (
    ('1g'   , _GI['1_SLICE']     , 14, (0, 1, 2, 3), 1, 4),
    ('1g+me', _GI['1_SLICE_REV1'], 21, (0, 1, 2, 3), 1, 1),
    ('2g'   , _GI['2_SLICE']     , 5 , (0, 2)      , 2, 2),
    ('2g+me', _GI['2_SLICE_REV1'], 6 , (0, 2)      , 2, 1),
    ('4g'   , _GI['4_SLICE']     , 0 , (0,)        , 4, 1),
)

_PLACEMENTS_INFERRED = inferred('starts', 'shared placement table of 8-memory-slice GPUs (mig.md 4.3); not seen as -lgipp output for this model')
ENUM_PAIRING = inferred('gi_profiles.nvml_enum', 'enum <-> profile-id pairing inferred from names and attributes (mig.md 4.2, high confidence)')
CI_HEURISTIC = inferred('max_count', 'C < G compute profiles and their counts follow go-nvlib\'s enumeration (C <= G, 2C <= G+1; floor(G/C)); '
                        'observed only on A100-40GB (nvml.md 5.5)')
_HOPPER_CI_REV1 = uncertain('gi_profiles.compute_profiles', 'the 1_SLICE_REV1 compute profile of the double-memory 1g GIs (full GI SMs, '
                            'plain 1_SLICE fewer) follows go-nvlib PR #85 and go-nvml#146; its availability per GI and driver is not '
                            'confirmed by real -lcip output')


# Compute-instance placements inside one GI: {G (the GI's compute slices): {C: valid starts in compute slices}}. The one
# table of CI placements: the planner, the validator and the restore checks read it through ComputeProfile.starts, and
# the project simulator's model data is generated from it. No real ``nvidia-smi mig -lcipp`` output was found; see
# CI_STARTS_NOTES for the source of each partial-CI entry. A full CI (C == G) starts at 0.
CI_STARTS = types.MappingProxyType({
    1: {1: (0,)},
    2: {1: (0, 1), 2: (0,)},
    3: {1: (0, 1, 2), 2: (0,), 3: (0,)},
    4: {1: (0, 1, 2, 3), 2: (0, 2), 4: (0,)},
    7: {1: (0, 1, 2, 3, 4, 5, 6), 2: (0, 2, 4), 3: (0, 4), 4: (0,), 7: (0,)},
})
_GO_NVML_CI = 'from the ComputeInstancePlacements of go-nvml\'s mock GPUs (NVIDIA; synthetic B200/H100/A30 data); no real -lcipp seen'
CI_STARTS_NOTES = {
    (2, 1): uncertain('starts', _GO_NVML_CI),
    (3, 1): uncertain('starts', _GO_NVML_CI),
    (3, 2): uncertain('starts', _GO_NVML_CI),
    (4, 1): uncertain('starts', _GO_NVML_CI),
    (4, 2): uncertain('starts', _GO_NVML_CI),
    (7, 1): uncertain('starts', _GO_NVML_CI),
    (7, 2): uncertain('starts', _GO_NVML_CI),
    # D2: {0, 4}, not {0, 3}: the mock's placements, and an A100 site (ALCF Polaris) documents 4c.7g.40gb + 3c.7g.40gb.
    (7, 3): uncertain('starts', _GO_NVML_CI + '; fits 4c.7g.40gb + 3c.7g.40gb, documented as valid by ALCF for A100'),
    (7, 4): inferred('starts', 'not in the go-nvml mock; 0 is the only start that leaves room for the 3c at 4 that 4c + 3c needs'),
}
HOPPER_REV1_SM = uncertain('sm', 'a 1g double-memory GI offers 1_SLICE_REV1 with the GI\'s full SM count and plain 1_SLICE with those of '
                           'a 1g GI (go-nvlib PR #85, merged then reverted; go-nvml#146); not seen in real -lcip output')


MEMORY_FROM_LGIP = uncertain('memory_mib', 'round(GiB x 1024) of the two-decimal nvidia-smi -lgip figure; NVML\'s memorySizeMB is not '
                             'known for this profile and can differ by up to 5 MiB')


# --------------------------------------------------------------------------------------------------
# Per-model profile rows
# --------------------------------------------------------------------------------------------------

# A100 40GB (mig.md 4.5, nvml.md 6.1): SM and engines observed; memory is NVML's memorySizeMB from go-nvml's dgxa100 mock
# (real data: it matches the -lgip GiB figures 4.75 / 9.62 / 19.50 / 39.25).
# Row columns: slice class, profile name, memory (int: NVML MiB; float: -lgip GiB; None: no figure), SM, CE, DEC, ENC, JPEG, OFA
# (None: unknown).
_A100_40GB_ROWS = (
    ('1g'   , '1g.5gb'   , 4864 , 14, 1, 0, 0, 0, 0),
    ('1g+me', '1g.5gb+me', 4864 , 14, 1, 1, 0, 1, 1),
    ('1g.2m', '1g.10gb'  , 9856 , 14, 1, 1, 0, 0, 0),
    ('2g'   , '2g.10gb'  , 9856 , 28, 2, 1, 0, 0, 0),
    ('3g'   , '3g.20gb'  , 19968, 42, 3, 2, 0, 0, 0),
    ('4g'   , '4g.20gb'  , 19968, 56, 4, 2, 0, 0, 0),
    ('7g'   , '7g.40gb'  , 40192, 98, 7, 5, 0, 1, 1),
)
_A100_40GB_NOTES = {
    '1g.2m': uncertain('memory_slices', 'the MIG guide table prints a 1/8 memory fraction for 1g.10gb (likely a typo); -lgipp shows size 2, used here'),
}
_A100_40GB_MIN_DRIVERS = {'1g+me': '470', '1g.2m': '525'}

# A100 80GB (mig.md 4.6): the 1g, 1g+me, 2g and 3g rows observed on an A100 80GB PCIe (mig-parted#97); the rest inferred.
_A100_80GB_ROWS = (
    ('1g'   , '1g.10gb'   , 9.50 , 14, 1, 0, 0, 0, 0),
    ('1g+me', '1g.10gb+me', 9.50 , 14, 1, 1, 0, 1, 1),
    ('1g.2m', '1g.20gb'   , 19.50, 14, 1, 1, 0, 0, 0),
    ('2g'   , '2g.20gb'   , 19.50, 28, 2, 1, 0, 0, 0),
    ('3g'   , '3g.40gb'   , 39.25, 42, 3, 2, 0, 0, 0),
    ('4g'   , '4g.40gb'   , 39.25, 56, 4, 2, 0, 0, 0),
    ('7g'   , '7g.80gb'   , 79.00, 98, 7, 5, 0, 1, 1),
)
_A100_80GB_INFERRED = 'no -lgip output seen for this profile on an 80GB A100; taken from the A100-40GB pattern (mig.md 4.6)'
_A100_80GB_NOTES = {
    '1g+me': inferred('min_driver', 'R470 is documented for the A100 1g.5gb+me; assumed for the 80GB 1g.10gb+me'),
    '1g.2m': (inferred(('sm', 'memory_mib', 'dec', 'jpeg', 'ofa'), _A100_80GB_INFERRED)
              + inferred('min_driver', 'R525 is documented for the A100-40GB 1g.10gb (same 1_SLICE_REV2 enum, first in NVML 11.525); '
                         'assumed for the 80GB 1g.20gb')),
    '4g': inferred(('sm', 'memory_mib', 'dec', 'jpeg', 'ofa'), _A100_80GB_INFERRED),
    '7g': (inferred(('sm', 'memory_mib', 'dec', 'jpeg', 'ofa'), _A100_80GB_INFERRED + '; ~79 GiB')
           + uncertain('memory_mib', 'go-nvml\'s mock says 80384 MiB, but its 80GB figures are not real data (its 1g.10gb 9856 MiB '
                       'contradicts the 9.50 GiB of real -lgip output), so it is not used')),
}
_A100_80GB_MIN_DRIVERS = {'1g+me': '470', '1g.2m': '525'}
_A100_SXM4_80GB_NOTES = dict(_A100_80GB_NOTES)
for _cls in ('1g', '1g+me', '2g', '3g'):
    _A100_SXM4_80GB_NOTES[_cls] = _A100_SXM4_80GB_NOTES.get(_cls, ()) + inferred(
        ('memory_mib', 'sm'), '-lgip figure observed on an A100 80GB PCIe (mig-parted#97); assumed identical on SXM4')
del _cls

# A30 24GB (mig.md 4.4, nvml.md 6.3).
_A30_ROWS = (
    ('1g'   , '1g.6gb'    , 5.81 , 14, 1, 1, None, 0, 0),
    ('1g+me', '1g.6gb+me' , 5.81 , 14, 1, 1, None, 1, 1),
    ('2g'   , '2g.12gb'   , 11.69, 28, 2, 2, None, 0, 0),
    ('2g+me', '2g.12gb+me', 11.69, 28, 2, 2, None, 1, 1),
    ('4g'   , '4g.24gb'   , 23.44, 56, 4, 4, None, 1, 1),
)
_A30_NOTES = {
    '1g': uncertain('dec', 'the MIG guide lists 0 decoders for 1g.6gb, real -lgip shows 1 (used here)'),
    '4g': uncertain('memory_mib', '-lgip shows 23.44 to 23.69 GiB depending on the driver; the lowest figure is used'),
}
_A30_MIN_DRIVERS = {'1g+me': '470', '2g+me': '525'}

# Hopper 132-SM parts (mig.md 4.7): SM 16/16/26/32/60/64/132; guide engine counts (ENC 0).
# H100 80GB (SXM5 -lgip from jbarrow.ai/field_notes/nvidia-mig).
_H100_80GB_ROWS = (
    ('1g'   , '1g.10gb'   , 9.75 , 16 , 1, 1, 0, 1, 0),
    ('1g+me', '1g.10gb+me', 9.75 , 16 , 1, 1, 0, 1, 1),
    ('1g.2m', '1g.20gb'   , 19.62, 26 , 1, 1, 0, 1, 0),
    ('2g'   , '2g.20gb'   , 19.62, 32 , 2, 2, 0, 2, 0),
    ('3g'   , '3g.40gb'   , 39.50, 60 , 3, 3, 0, 3, 0),
    ('4g'   , '4g.40gb'   , 39.50, 64 , 4, 4, 0, 4, 0),
    ('7g'   , '7g.80gb'   , 79.25, 132, 8, 7, 0, 7, 1),
)
# H100 PCIe 80GB: same names (mig.md 4.7); 114 SMs, per-profile SM counts not found.
_H100_PCIE_ROWS = tuple(row[:3] + (None,) + row[4:] for row in _H100_80GB_ROWS)
_H100_PCIE_NOTES = dict(
    (row[0], uncertain('sm', 'per-profile SM counts of the 114-SM H100 PCIe not found (mig.md 4.7)')
     + inferred('memory_mib', '-lgip figure of the H100 80GB SXM5; not seen on the PCIe board'))
    for row in _H100_80GB_ROWS
)

# H100 NVL 94GB (-lgip from NVIDIA/gpu-operator PR #900).
_H100_NVL_ROWS = (
    ('1g'   , '1g.12gb'   , 10.75, 16 , 1, 1, 0, 1, 0),
    ('1g+me', '1g.12gb+me', 10.75, 16 , 1, 1, 0, 1, 1),
    ('1g.2m', '1g.24gb'   , 21.62, 26 , 1, 1, 0, 1, 0),
    ('2g'   , '2g.24gb'   , 21.62, 32 , 2, 2, 0, 2, 0),
    ('3g'   , '3g.47gb'   , 46.38, 60 , 3, 3, 0, 3, 0),
    ('4g'   , '4g.47gb'   , 46.38, 64 , 4, 4, 0, 4, 0),
    ('7g'   , '7g.94gb'   , 93.12, 132, 8, 7, 0, 7, 1),
)

# GH200 with the 96GB Hopper profile set. Memory seen on "a 96GB Hopper part (host not identified)".
_GH200_96GB_ROWS = (
    ('1g'   , '1g.12gb'   , None , 16 , 1, 1, 0, 1, 0),
    ('1g+me', '1g.12gb+me', None , 16 , 1, 1, 0, 1, 1),
    ('1g.2m', '1g.24gb'   , 23.00, 26 , 1, 1, 0, 1, 0),
    ('2g'   , '2g.24gb'   , 23.00, 32 , 2, 2, 0, 2, 0),
    ('3g'   , '3g.48gb'   , 46.50, 60 , 3, 3, 0, 3, 0),
    ('4g'   , '4g.48gb'   , 46.50, 64 , 4, 4, 0, 4, 0),
    ('7g'   , '7g.96gb'   , 93.00, 132, 8, 7, 0, 7, 1),
)
_GH200_HOST = 'figure seen on an unidentified 96GB Hopper part (mig.md 4.7); assumed for GH200'
_GH200_96GB_NOTES = {
    '1g': uncertain('memory_mib', 'no -lgip figure found for the 96GB 1g profiles'),
    '1g+me': uncertain('memory_mib', 'no -lgip figure found for the 96GB 1g profiles'),
    '1g.2m': inferred('memory_mib', 'no figure found; taken equal to 2g.24gb as on every other 8-slice GPU; ' + _GH200_HOST),
    '2g': inferred('memory_mib', _GH200_HOST),
    '3g': inferred('memory_mib', _GH200_HOST),
    '4g': inferred('memory_mib', _GH200_HOST),
    '7g': inferred('memory_mib', _GH200_HOST),
}

# H200 141GB (mig.md 4.8; -lgip from NVIDIA/mig-parted#120).
_H200_ROWS = (
    ('1g'   , '1g.18gb'   , 16.00 , 16 , 1, 1, 0, 1, 0),
    ('1g+me', '1g.18gb+me', 16.00 , 16 , 1, 1, 0, 1, 1),
    ('1g.2m', '1g.35gb'   , 32.25 , 26 , 1, 1, 0, 1, 0),
    ('2g'   , '2g.35gb'   , 32.25 , 32 , 2, 2, 0, 2, 0),
    ('3g'   , '3g.71gb'   , 69.50 , 60 , 3, 3, 0, 3, 0),
    ('4g'   , '4g.71gb'   , 69.50 , 64 , 4, 4, 0, 4, 0),
    ('7g'   , '7g.141gb'  , 139.75, 132, 8, 7, 0, 7, 1),
)
_H200_NOTES = dict((row[0], inferred('enc', 'the reference gives DEC/JPEG/OFA "as H100" for H200 but no encoder count; 0 as on H100'))
                   for row in _H200_ROWS)

# B200 180GB (mig.md 4.9). Real -lgip for the 1g, 1g+me, 1g.2m and 2g profiles; the guide table looks column-shifted.
_B200_ROWS = (
    ('1g'   , '1g.23gb'   , 22.00, 18  , 2   , 1   , None, 1   , 0),
    ('1g+me', '1g.23gb+me', 22.00, 18  , 2   , 1   , None, 1   , 1),
    ('1g.2m', '1g.45gb'   , 44.25, 30  , 2   , 1   , None, 1   , 0),
    ('2g'   , '2g.45gb'   , 44.25, 36  , 4   , 2   , None, 2   , 0),
    ('3g'   , '3g.90gb'   , None , None, None, None, None, None, None),
    ('4g'   , '4g.90gb'   , None , None, None, None, None, None, None),
    ('7g'   , '7g.180gb'  , None , None, None, None, None, None, None),
)
_B200_ENC = uncertain('enc', 'no encoder count for B200 in the reference')
_B200_UNKNOWN = (uncertain(('memory_mib', 'sm'), 'not captured in any -lgip output (mig.md 4.9)')
                 + uncertain(('ce', 'dec', 'jpeg', 'ofa'), 'the MIG guide B200 table looks column-shifted and conflicts with real -lgip output')
                 + _B200_ENC
                 + inferred('profile_id', 'ids 9/5/0 presumed from the other 8-slice GPUs; only 19/20/15/14 seen on B200 (nvml.md 6.2)'))
_B200_NOTES = {
    '1g': uncertain('memory_mib', '22.00 GiB on one driver, 20.50 GiB on another') + inferred('ofa', 'guide table value (0)') + _B200_ENC,
    '1g+me': (inferred(('memory_mib', 'sm', 'ce', 'dec', 'jpeg'), 'only the id and OFA 1 were captured for 1g.23gb+me; copied from 1g.23gb')
              + _B200_ENC),
    '1g.2m': (uncertain(('ce', 'dec', 'jpeg', 'ofa'), 'from the MIG guide B200 table, which looks column-shifted; not in the captured -lgip')
              + _B200_ENC),
    '2g': (inferred('memory_mib', 'not captured; taken equal to 1g.45gb as on every other 8-slice GPU')
           + uncertain('ofa', 'from the MIG guide B200 table, which looks column-shifted') + _B200_ENC),
    '3g': _B200_UNKNOWN,
    '4g': _B200_UNKNOWN,
    '7g': _B200_UNKNOWN,
}


# GB200 HGX (mig.md 4.9; NVIDIA/gpu-operator PR #1303, NVIDIA/mig-parted#227): the 1g, 1g.2m and 2g figures are real -lgip;
# the names of the others come from mig-parted's config-default.yaml and the GPU Operator's default config. Early boards
# name the 1g profile 1g.24gb (DOCUMENTED_DRIFT).
_GB200_ROWS = (
    ('1g'   , '1g.23gb'   , 22.00, None, None, None, None, None, None),
    ('1g+me', '1g.23gb+me', None , None, None, None, None, None, None),
    ('1g.2m', '1g.47gb'   , 45.50, 32  , None, None, None, None, None),
    ('2g'   , '2g.47gb'   , None , 38  , 4   , 2   , None, 2   , None),
    ('3g'   , '3g.93gb'   , None , None, None, None, None, None, None),
    ('4g'   , '4g.93gb'   , None , None, None, None, None, None, None),
    ('7g'   , '7g.186gb'  , None , None, None, None, None, None, None),
)
_GB200_UNKNOWN = uncertain(('memory_mib', 'sm', 'ce', 'dec', 'enc', 'jpeg', 'ofa'),
                           'the MIG guide has no GB200 table and no -lgip output shows this figure (mig.md 4.9)')
_GB200_NOTES = {
    '1g': uncertain(('sm', 'ce', 'dec', 'enc', 'jpeg', 'ofa'), 'only the id, name and 22.00 GiB were captured for 1g.23gb (mig.md 4.9)'),
    '1g+me': _GB200_UNKNOWN,
    '1g.2m': uncertain(('ce', 'dec', 'enc', 'jpeg', 'ofa'), 'only the id, 45.50 GiB and SM 32 were captured for 1g.47gb (mig.md 4.9)'),
    '2g': uncertain(('memory_mib', 'enc', 'ofa'), 'not in the captured -lgip line of 2g.47gb (mig.md 4.9)'),
    '3g': _GB200_UNKNOWN,
    '4g': _GB200_UNKNOWN,
    '7g': _GB200_UNKNOWN,
}

# B300 and GB300 (mig.md 4.9): names and max counts from mig-parted's config-default.yaml and the GPU Operator's default
# config only; no NVIDIA table or -lgip output was found, so every figure is unknown.
_B300_ROWS = (
    ('1g'   , '1g.34gb'   , None, None, None, None, None, None, None),
    ('1g+me', '1g.34gb+me', None, None, None, None, None, None, None),
    ('1g.2m', '1g.67gb'   , None, None, None, None, None, None, None),
    ('2g'   , '2g.67gb'   , None, None, None, None, None, None, None),
    ('3g'   , '3g.135gb'  , None, None, None, None, None, None, None),
    ('4g'   , '4g.135gb'  , None, None, None, None, None, None, None),
    ('7g'   , '7g.269gb'  , None, None, None, None, None, None, None),
)
_GB300_ROWS = (
    ('1g'   , '1g.35gb'   , None, None, None, None, None, None, None),
    ('1g+me', '1g.35gb+me', None, None, None, None, None, None, None),
    ('1g.2m', '1g.70gb'   , None, None, None, None, None, None, None),
    ('2g'   , '2g.70gb'   , None, None, None, None, None, None, None),
    ('3g'   , '3g.139gb'  , None, None, None, None, None, None, None),
    ('4g'   , '4g.139gb'  , None, None, None, None, None, None, None),
    ('7g'   , '7g.278gb'  , None, None, None, None, None, None, None),
)
_NAMES_ONLY = uncertain(('memory_mib', 'sm', 'ce', 'dec', 'enc', 'jpeg', 'ofa'),
                        'only the profile names and counts are known (mig-parted config-default.yaml, mig.md 4.9)')
_B300_NOTES = dict((row[0], _NAMES_ONLY) for row in _B300_ROWS)
_GB300_NOTES = dict((row[0], _NAMES_ONLY) for row in _GB300_ROWS)

# GH200 144G HBM3e (mig.md 4.8; -lgip of the 1g, 1g+me, 1g.2m and 2g profiles from NVIDIA/mig-parted PR #139). Engine
# counts: the guide's H200 table (CE 1/1/1/2/3/4/8, DEC/JPEG/OFA as H100), which mig.md gives for this section's boards.
_GH200_144G_ROWS = (
    ('1g'   , '1g.18gb'   , 17.50, 16 , 1, 1, 0, 1, 0),
    ('1g+me', '1g.18gb+me', 17.50, 16 , 1, 1, 0, 1, 1),
    ('1g.2m', '1g.36gb'   , 35.25, 26 , 1, 1, 0, 1, 0),
    ('2g'   , '2g.36gb'   , 35.25, 32 , 2, 2, 0, 2, 0),
    ('3g'   , '3g.72gb'   , None , 60 , 3, 3, 0, 3, 0),
    ('4g'   , '4g.72gb'   , None , 64 , 4, 4, 0, 4, 0),
    ('7g'   , '7g.144gb'  , None , 132, 8, 7, 0, 7, 1),
)
_GH200_144G_ENGINES = inferred(('ce', 'dec', 'jpeg', 'ofa'), 'the guide\'s H200 engine counts, given for H200 and GH200 144G alike (mig.md 4.8)')
_GH200_144G_ENC = inferred('enc', 'no encoder count in the reference; 0 as on every Hopper board')
_GH200_144G_BIG = (uncertain('memory_mib', 'no -lgip figure found for the 3g, 4g and 7g profiles of GH200 144G (mig.md 4.8)')
                   + inferred('sm', 'not captured on GH200 144G; the SM counts of the other 132-SM Hopper boards (mig.md 4.7)'))
_GH200_144G_NOTES = dict((row[0], _GH200_144G_ENGINES + _GH200_144G_ENC) for row in _GH200_144G_ROWS)
for _cls in ('3g', '4g', '7g'):
    _GH200_144G_NOTES[_cls] += _GH200_144G_BIG
del _cls

# H20 (GH100, 96GB SKU; mig.md 4.7): the 96GB Hopper names; mig-parted's all-balanced filter 0x2329 uses them. Its SM count
# and memory figures are not in the references.
_H20_ROWS = tuple(row[:2] + (None, None) + row[4:] for row in _GH200_96GB_ROWS)
_H20_NOTES = dict(
    (row[0], uncertain(('memory_mib', 'sm'), 'H20 figures not found; the names are the 96GB Hopper ones (mig.md 4.7)')
     + inferred(('ce', 'dec', 'enc', 'jpeg', 'ofa'), 'engine counts of the Hopper guide tables (mig.md 4.7); not seen on H20'))
    for row in _H20_ROWS
)

# H100 SXM5 94GB: the H100 94GB names (mig.md 4.7: NVL, PCIe and SXM5 share them); figures are the NVL board's -lgip.
_H100_SXM5_94GB_NOTES = dict(
    (row[0], inferred(('memory_mib', 'sm'), '-lgip figure of the H100 NVL (NVIDIA/gpu-operator PR #900); not seen on the SXM5 94GB board'))
    for row in _H100_NVL_ROWS
)

# RTX PRO 6000 Blackwell Server Edition: 4 compute slices over 12 memory placement units. Real nvidia-smi -lgip / -lgipp of
# an "NVIDIA RTX PRO 6000 Blackwell Server Edition" (public MIG tutorial transcript, driver 580-series host gpu-rtxpro6000-8):
# ids, counts, placements {0,3,6,9}:3 / {0,6}:6 / {0}:12, memory, SM and engines, matching the MIG guide's RTX PRO 6000 table
# (mig.md 4.10; the 1g id 14 and SM 46 also in bigstack-oss/cubecos#312). The heap GI ids of that transcript (1g -> GI 3..6,
# 2g at 0 -> GI 1) follow the same formula as the 8-slice GPUs.
_RTX_PRO_6000_LAYOUT = (
    ('1g'       , _GI['1_SLICE']       , 14, (0, 3, 6, 9), 3 , 4),
    ('1g+me'    , _GI['1_SLICE_REV1']  , 21, (0, 3, 6, 9), 3 , 1),
    ('1g+gfx'   , _GI['1_SLICE_GFX']   , 47, (0, 3, 6, 9), 3 , 4),
    ('1g+me.all', _GI['1_SLICE_ALL_ME'], 65, (0, 3, 6, 9), 3 , 1),
    ('1g-me'    , _GI['1_SLICE_NO_ME'] , 67, (0, 3, 6, 9), 3 , 4),
    ('2g'       , _GI['2_SLICE']       , 5 , (0, 6)      , 6 , 2),
    ('2g+gfx'   , _GI['2_SLICE_GFX']   , 35, (0, 6)      , 6 , 2),
    ('2g+me.all', _GI['2_SLICE_ALL_ME'], 64, (0, 6)      , 6 , 1),
    ('2g-me'    , _GI['2_SLICE_NO_ME'] , 66, (0, 6)      , 6 , 2),
    ('4g'       , _GI['4_SLICE']       , 0 , (0,)        , 12, 1),
    ('4g+gfx'   , _GI['4_SLICE_GFX']   , 32, (0,)        , 12, 1),
)
_RTX_PRO_6000_ROWS = (
    ('1g'       , '1g.24gb'       , 23.62, 46 , 1, 1, 1, 1, 0),
    ('1g+me'    , '1g.24gb+me'    , 23.62, 46 , 1, 1, 1, 1, 1),
    ('1g+gfx'   , '1g.24gb+gfx'   , 23.62, 46 , 1, 1, 1, 1, 0),
    ('1g+me.all', '1g.24gb+me.all', 23.62, 46 , 1, 4, 4, 4, 1),
    ('1g-me'    , '1g.24gb-me'    , 23.62, 46 , 1, 0, 0, 0, 0),
    ('2g'       , '2g.48gb'       , 47.38, 94 , 2, 2, 2, 2, 0),
    ('2g+gfx'   , '2g.48gb+gfx'   , 47.38, 94 , 2, 2, 2, 2, 0),
    ('2g+me.all', '2g.48gb+me.all', 47.38, 94 , 2, 4, 4, 4, 1),
    ('2g-me'    , '2g.48gb-me'    , 47.38, 94 , 2, 0, 0, 0, 0),
    ('4g'       , '4g.96gb'       , 95.12, 188, 4, 4, 4, 4, 1),
    ('4g+gfx'   , '4g.96gb+gfx'   , 95.12, 188, 4, 4, 4, 4, 1),
)
_RTX_PRO_6000_NOTES = {
    '1g': uncertain('memory_mib', 'another driver shows 23.12 GiB for 1g.24gb (bigstack-oss/cubecos#312)'),
    '1g+gfx': uncertain('memory_mib', 'a vGPU listing shows 23.12 GiB for 1g.24gb+gfx'),
    '4g': uncertain('memory_mib', 'another listing shows 95.00 GiB for 4g.96gb'),
    '4g+gfx': uncertain('memory_mib', 'other listings show 93.38 and 95.00 GiB for 4g.96gb+gfx'),
}


# RTX PRO 5000 (48GB) and RTX PRO 4500 (32GB) Blackwell: 2 compute slices. The MIG guide gives names and counts only (mig.md
# 4.10). Placements, profile ids, memory, SM and engine counts are in no source: the geometry is the RTX PRO 6000's cut in
# half (12 -> 6 memory units: 1g {0,3}:3, 2g {0}:6), inferred. The ids are inferred too: on every board seen the id follows
# the share of the board (A100: 7g 0, 4g 5, 2g 14; A30: 4g 0, 2g 5, 1g 14; RTX PRO 6000: 4g 0, 2g 5, 1g 14, and 32/35/47,
# 64/65, 66/67 for +gfx, +me.all, -me), and id 0 is always the whole board (nvml.md 5.3), so a half-board 1g takes the 6000's
# 2g ids (A30's 2g+me 6 for 1g+me) and the whole-board 2g its 4g ids. The 6000's ids for the same names (1g 14, 2g 5) are the
# other reading; no -lgip of a 2-slice board settles it.
_RTX_PRO_2SLICE_INFERRED = (
    inferred('starts', 'no -lgipp seen for a 2-slice RTX PRO board; the RTX PRO 6000 placements (3 units per slice) halved')
    + inferred('profile_id', 'no -lgip seen for a 2-slice RTX PRO board; the id of a profile with the same share of the board on the '
               'RTX PRO 6000 and A30 (the whole board is id 0, nvml.md 5.3); the 6000\'s ids for the same name are the other reading')
    + uncertain(('memory_mib', 'ce', 'dec', 'enc', 'jpeg', 'ofa'), 'no -lgip figure found for the 2-slice RTX PRO boards (mig.md 4.10)'))
_RTX_PRO_5000_LAYOUT = (
    ('1g'       , _GI['1_SLICE']       , 5 , (0, 3), 3, 2),
    ('1g+me'    , _GI['1_SLICE_REV1']  , 6 , (0, 3), 3, 1),
    ('1g+gfx'   , _GI['1_SLICE_GFX']   , 35, (0, 3), 3, 2),
    ('1g+me.all', _GI['1_SLICE_ALL_ME'], 64, (0, 3), 3, 1),
    ('1g-me'    , _GI['1_SLICE_NO_ME'] , 66, (0, 3), 3, 2),
    ('2g'       , _GI['2_SLICE']       , 0 , (0,)  , 6, 1),
    ('2g+gfx'   , _GI['2_SLICE_GFX']   , 32, (0,)  , 6, 1),
)
# The 2g SM count is the datasheet's 110 SMs of the whole GPU (the RTX PRO 6000's 4g holds all its 188 SMs); 1g unknown.
_RTX_PRO_5000_ROWS = (
    ('1g'       , '1g.24gb'       , None, None, None, None, None, None, None),
    ('1g+me'    , '1g.24gb+me'    , None, None, None, None, None, None, None),
    ('1g+gfx'   , '1g.24gb+gfx'   , None, None, None, None, None, None, None),
    ('1g+me.all', '1g.24gb+me.all', None, None, None, None, None, None, None),
    ('1g-me'    , '1g.24gb-me'    , None, None, None, None, None, None, None),
    ('2g'       , '2g.48gb'       , None, 110 , None, None, None, None, None),
    ('2g+gfx'   , '2g.48gb+gfx'   , None, 110 , None, None, None, None, None),
)
_RTX_PRO_5000_SM = uncertain('sm', '110 SMs of the whole RTX PRO 5000 Blackwell in NVIDIA\'s workstation datasheet (secondary source), '
                             'taken for the 2g profile as the RTX PRO 6000\'s 4g holds all its SMs; not seen as -lgip output')
_RTX_PRO_1G_SM = uncertain('sm', 'no SM count found for the 1g profiles of the 2-slice RTX PRO boards')
_RTX_PRO_5000_NOTES = dict((row[0], _RTX_PRO_2SLICE_INFERRED + (_RTX_PRO_5000_SM if row[3] else _RTX_PRO_1G_SM))
                           for row in _RTX_PRO_5000_ROWS)
# RTX PRO 4500: the guide lists 1g.16gb x2 (+gfx, +me.all x1, -me) and 2g.32gb x1 (+gfx); it lists no 1g.16gb+me, so none is
# catalogued. The +gfx and -me counts are not given: 2 as on the RTX PRO 5000.
_RTX_PRO_4500_LAYOUT = tuple(entry for entry in _RTX_PRO_5000_LAYOUT if entry[0] != '1g+me')
_RTX_PRO_4500_ROWS = (
    ('1g'       , '1g.16gb'       , None, None, None, None, None, None, None),
    ('1g+gfx'   , '1g.16gb+gfx'   , None, None, None, None, None, None, None),
    ('1g+me.all', '1g.16gb+me.all', None, None, None, None, None, None, None),
    ('1g-me'    , '1g.16gb-me'    , None, None, None, None, None, None, None),
    ('2g'       , '2g.32gb'       , None, None, None, None, None, None, None),
    ('2g+gfx'   , '2g.32gb+gfx'   , None, None, None, None, None, None, None),
)
_RTX_PRO_4500_NOTES = dict(
    (row[0], _RTX_PRO_2SLICE_INFERRED + uncertain('sm', 'no SM count found for the RTX PRO 4500 profiles')) for row in _RTX_PRO_4500_ROWS)
for _cls in ('1g+gfx', '1g-me'):
    _RTX_PRO_4500_NOTES[_cls] += inferred('max_count', 'the guide gives no count for this RTX PRO 4500 profile; 2 as on the RTX PRO 5000')
del _cls


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------

_AMPERE_4G_3G = ((('4g', '3g'), '510'),)   # "Before R510, 4g.20gb + 3g.20gb on one GPU was not supported" (mig.md 3.3)
_COMBINATION_80GB_INFERRED = inferred('combination_min_drivers', 'the R510 4g+3g rule is documented with A100-40GB names; applied to 80GB A100s')


def _variant_id(device, group, board):
    """The note on an H800/A800 id added to the H100/A100 board it is a variant of."""
    return unverified('pci_device_ids', '%s is in this board\'s filter group of mig-parted\'s default config, listed there as %s (mig.md '
                      '2.1); the board (%s) comes from the public PCI id list, not from NVIDIA\'s config' % (device, group, board))


_UNV_NAME = unverified('names', 'NVML device name from the project table; not quoted in the references')
_UNV_MEMORY = unverified('memory_mib', 'board total from the project table; not given in the references')
_A100_MIN = '450.80.02'
_A30_MIN = '460.73.01'
_H100_MIN = '525.85.12'
_H200_MIN = '550.90.07'
_B200_MIN = '570.133.20'
# The RTX PRO boards the Server Edition's ids and names do not cover: identity from the public PCI id list (pciutils/pciids
# pci.ids, commit c1c12547d626, 2026-08-22); NVML names are the marketing names there with "NVIDIA " in front.
_PCI_IDS = '%s in the public PCI id list (pciutils/pciids pci.ids, 2026-08-22); it is in no NVIDIA config'
_RTX_PRO_NAME = unverified('names', 'the PCI id list\'s marketing name with "NVIDIA " in front; no NVML output seen')
_RTX_PRO_6000_EDITION = inferred('starts', '-lgipp seen on the RTX PRO 6000 Server Edition; the MIG guide gives one table for all '
                                 'RTX PRO 6000 editions (mig.md 4.10)')
_RTX_PRO_6000_EDITION_FIGURES = inferred(('gi_profiles.memory_mib', 'gi_profiles.sm', 'gi_profiles.profile_id'),
                                         'figures of the Server Edition\'s -lgip; the guide gives one table for all editions')
# Workstation boards run MIG only in compute display mode, which NVML cannot read: checked by nobody here.
_RTX_PRO_DISPLAY_MODE = uncertain('min_vbios', 'besides the vBIOS, MIG needs DisplayModeSelector >= 1.72.0 --gpumode=compute on '
                                  'Workstation boards (mig.md 4.10); NVML cannot read the display mode, so it is not checked')
_RTX_PRO_5000_48GB = (40 * 1024, 60 * 1024)

MODEL_SPECS = (
    dict(
        key='A100-SXM4-40GB', names=('NVIDIA A100-SXM4-40GB',), pci_device_ids=(0x20B0,),
        architecture=ARCH_AMPERE, compute_capability=(8, 0), memory_mib=40960,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_A100_40GB_ROWS, min_drivers=_A100_40GB_MIN_DRIVERS, notes=_A100_40GB_NOTES,
                      ci_sm_per_slice=14, ci_observed=True),
        min_driver=_A100_MIN, combination_min_drivers=_AMPERE_4G_3G,
        notes=uncertain('memory_mib', 'nvidia-smi shows 40960 MiB; NVML-based tools have reported 40536 MiB (nvml.md 6.1)'),
    ),
    dict(
        key='A100-PCIE-40GB', names=('NVIDIA A100-PCIE-40GB',), pci_device_ids=(0x20F1, 0x20B1, 0x20F6),
        architecture=ARCH_AMPERE, compute_capability=(8, 0), memory_mib=40960,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_A100_40GB_ROWS, placements_note=inferred(
            'starts', '-lgipp seen on A100-SXM4-40GB only (mig.md 4.3); assumed identical on the PCIe board'),
            min_drivers=_A100_40GB_MIN_DRIVERS, notes=_A100_40GB_NOTES, ci_sm_per_slice=14, ci_observed=True),
        min_driver=_A100_MIN, combination_min_drivers=_AMPERE_4G_3G,
        notes=_UNV_NAME + _UNV_MEMORY + unverified(
            'pci_device_ids', '0x20F1, 0x20B1 and 0x20F6 are in mig-parted\'s 40GB A100/A800 filter group (mig.md 2.1); which id is '
            'which board is not stated there (0x20B1 and 0x20F6 are added to this model as extra ids)'),
    ),
    dict(
        key='A100-SXM4-80GB', names=('NVIDIA A100-SXM4-80GB',), pci_device_ids=(0x20B2, 0x20F3),
        architecture=ARCH_AMPERE, compute_capability=(8, 0), memory_mib=81920,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_A100_80GB_ROWS, placements_note=_PLACEMENTS_INFERRED, min_drivers=_A100_80GB_MIN_DRIVERS,
                      notes=_A100_SXM4_80GB_NOTES, ci_sm_per_slice=14,
                      ci_sm_note=inferred('sm', '14 SM per compute slice observed on A100-40GB; assumed for the 80GB A100')),
        min_driver=_A100_MIN, combination_min_drivers=_AMPERE_4G_3G,
        notes=_UNV_NAME + _UNV_MEMORY + _COMBINATION_80GB_INFERRED + unverified(
            'pci_device_ids', '0x20B2 is an A100 80GB in mig-parted\'s 80GB filter group and DGX Station config (mig.md 2.1); '
            'the SXM4 board assignment comes from the project table')
        + _variant_id('0x20F3', 'A800-80GB', 'A800-SXM4-80GB'),
    ),
    dict(
        key='A100-PCIE-80GB', names=('NVIDIA A100 80GB PCIe',), pci_device_ids=(0x20B5, 0x20F5),
        architecture=ARCH_AMPERE, compute_capability=(8, 0), memory_mib=81920,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_A100_80GB_ROWS, placements_note=_PLACEMENTS_INFERRED, min_drivers=_A100_80GB_MIN_DRIVERS,
                      notes=_A100_80GB_NOTES, ci_sm_per_slice=14,
                      ci_sm_note=inferred('sm', '14 SM per compute slice observed on A100-40GB; assumed for the 80GB A100')),
        min_driver=_A100_MIN, combination_min_drivers=_AMPERE_4G_3G,
        notes=_UNV_NAME + _UNV_MEMORY + _COMBINATION_80GB_INFERRED + unverified(
            'pci_device_ids', '0x20B5 is in mig-parted\'s 80GB filter group (mig.md 2.1); the PCIe board assignment comes from the '
            'project table')
        + _variant_id('0x20F5', 'A800-80GB', 'A800 80GB PCIe'),
    ),
    dict(
        key='A30', names=('NVIDIA A30',), pci_device_ids=(0x20B7,),
        architecture=ARCH_AMPERE, compute_capability=(8, 0), memory_mib=24576,
        profiles=dict(layout=_A30_LAYOUT, rows=_A30_ROWS, min_drivers=_A30_MIN_DRIVERS, notes=_A30_NOTES, ci_sm_per_slice=14,
                      ci_sm_note=inferred('sm', '14 SM per compute slice as for the A30 GI profiles; CI SM counts not seen')),
        min_driver=_A30_MIN,
        notes=_UNV_NAME + _UNV_MEMORY + uncertain(
            'gi_profiles.max_count', 'NVML GetGpuInstanceProfileInfo returns wrong instanceCount values on A30 (mig-parted hard-codes the '
            'A30 table); the catalog uses the MIG guide counts, so do not cross-check them against NVML on A30')
        + uncertain('gi_profiles.enc', 'no encoder count for A30 in the reference'),
    ),
    dict(
        key='H100-SXM5-80GB', names=('NVIDIA H100 80GB HBM3',), pci_device_ids=(0x2330, 0x2324),
        architecture=ARCH_HOPPER, compute_capability=(9, 0), memory_mib=81559,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_H100_80GB_ROWS, hopper_ci_rev1=True),
        min_driver=_H100_MIN,
        notes=_UNV_MEMORY + _HOPPER_CI_REV1 + unverified(
            'pci_device_ids', '0x2330 is in mig-parted\'s 80GB filter group (mig.md 2.1); the SXM5 board assignment comes from the '
            'project table') + uncertain(
            'gi_profiles.starts', 'the -lgipp seen for "H100 80GB" (Google Dataproc script, mig.md 4.3) does not name the board; taken as SXM5')
        + _variant_id('0x2324', 'H800-80GB', 'H800 SXM5'),
    ),
    dict(
        key='H100-PCIE-80GB', names=('NVIDIA H100 PCIe',), pci_device_ids=(0x2331, 0x2322),
        architecture=ARCH_HOPPER, compute_capability=(9, 0), memory_mib=81559,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_H100_PCIE_ROWS, placements_note=inferred(
            'starts', 'the -lgipp seen for H100 80GB is taken to be an SXM5 board; assumed identical on PCIe'), notes=_H100_PCIE_NOTES, hopper_ci_rev1=True),
        min_driver=_H100_MIN,
        notes=_UNV_NAME + _UNV_MEMORY + _HOPPER_CI_REV1 + unverified(
            'pci_device_ids', '0x2331 is in mig-parted\'s 80GB filter group (mig.md 2.1); the PCIe board assignment comes from the '
            'project table')
        + _variant_id('0x2322', 'H800-80GB', 'H800 PCIe'),
    ),
    dict(
        key='H100-NVL', names=('NVIDIA H100 NVL',), pci_device_ids=(0x2321, 0x233A),
        architecture=ARCH_HOPPER, compute_capability=(9, 0), memory_mib=95830,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_H100_NVL_ROWS, hopper_ci_rev1=True),
        min_driver=_H100_MIN,
        notes=_UNV_NAME + _UNV_MEMORY + _HOPPER_CI_REV1 + uncertain(
            'gi_profiles.memory_mib', 'profile -lgip figures vary with the driver: another driver shows 21.50 / 46.12 / 92.62 GiB '
            'for 2g (and 1g.24gb) / 3g and 4g / 7g')
        + _variant_id('0x233A', 'H800 NVL', 'H800 NVL'),
    ),
    dict(
        key='H200-141GB', names=('NVIDIA H200',), pci_device_ids=(0x2335, 0x233B),
        architecture=ARCH_HOPPER, compute_capability=(9, 0), memory_mib=143771,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_H200_ROWS, placements_note=_PLACEMENTS_INFERRED, notes=_H200_NOTES, hopper_ci_rev1=True),
        min_driver=_H200_MIN,
        notes=_UNV_NAME + _UNV_MEMORY + _HOPPER_CI_REV1 + unverified(
            'pci_device_ids', '0x233B (H200 NVL) shares mig-parted\'s H200 filter with 0x2335 (mig.md 2.1); the NVL board\'s own '
            'NVML name and memory total are not catalogued'),
    ),
    dict(
        key='GH200-96GB', names=('NVIDIA GH200 480GB',), pci_device_ids=(0x2342,),
        architecture=ARCH_HOPPER, compute_capability=(9, 0), memory_mib=97871,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_GH200_96GB_ROWS, placements_note=_PLACEMENTS_INFERRED, notes=_GH200_96GB_NOTES, hopper_ci_rev1=True),
        min_driver=_H100_MIN,
        notes=_UNV_NAME + _UNV_MEMORY + _HOPPER_CI_REV1
        + inferred('min_driver', 'GH200 is not in the minimum-driver table (mig.md 5.1); the H100 minimum R525 (525.85.12) is assumed')
        + inferred('compute_capability', 'the reference gives 9.0 for H100/H200; GH200 is the same Hopper GPU')
        + unverified('pci_device_ids', '0x2342 is in mig-parted\'s H100-96GB/PG506/GH200/H20 filter group (mig.md 2.1); which id is the '
                     'GH200 is not stated there'),
    ),
    dict(
        key='B200', names=('NVIDIA B200',), pci_device_ids=(0x2901,),
        architecture=ARCH_BLACKWELL, compute_capability=(10, 0), memory_mib=183359,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_B200_ROWS, placements_note=_PLACEMENTS_INFERRED, notes=_B200_NOTES),
        min_driver=_B200_MIN,
        notes=_UNV_NAME + _UNV_MEMORY,
    ),
    dict(
        key='H100-SXM5-94GB', names=('NVIDIA H100 SXM5 94GB',), pci_device_ids=(0x2339,),
        architecture=ARCH_HOPPER, compute_capability=(9, 0), memory_mib=None,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_H100_NVL_ROWS, placements_note=inferred(
            'starts', 'the -lgipp seen on the H100 NVL 94GB (mig.md 4.3); not seen on the SXM5 94GB board'),
            notes=_H100_SXM5_94GB_NOTES, hopper_ci_rev1=True),
        min_driver=_H100_MIN,
        notes=_UNV_NAME + _HOPPER_CI_REV1
        + unverified('pci_device_ids', '0x2339 is the H100 SXM5 94GB in the public PCI id list; it is in no filter of NVIDIA\'s configs')
        + uncertain('memory_mib', 'the board total is not in the references'),
    ),
    dict(
        key='GH200-144G', names=('NVIDIA GH200 144G HBM3e',), pci_device_ids=(0x2348,),
        architecture=ARCH_HOPPER, compute_capability=(9, 0), memory_mib=None,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_GH200_144G_ROWS, placements_note=_PLACEMENTS_INFERRED, notes=_GH200_144G_NOTES,
                      hopper_ci_rev1=True),
        min_driver=_H100_MIN,
        notes=_UNV_NAME + _HOPPER_CI_REV1
        + inferred('min_driver', 'GH200 is not in the minimum-driver table (mig.md 5.1); the H100 minimum R525 (525.85.12) is assumed, as for GH200 96GB')
        + inferred('compute_capability', 'the reference gives 9.0 for H100/H200; GH200 is the same Hopper GPU')
        + uncertain('memory_mib', 'the board total is not in the references')
        + unverified('pci_device_ids', '0x2348 is "GH200 144G HBM3e" in mig-parted\'s default config (device filter of all-balanced)'),
    ),
    dict(
        key='H20', names=('NVIDIA H20',), pci_device_ids=(0x2329,),
        architecture=ARCH_HOPPER, compute_capability=(9, 0), memory_mib=None,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_H20_ROWS, placements_note=_PLACEMENTS_INFERRED, notes=_H20_NOTES, hopper_ci_rev1=True),
        min_driver='535.161.07',
        notes=_UNV_NAME + _HOPPER_CI_REV1
        + inferred('compute_capability', 'the reference gives 9.0 for H100/H200; H20 is a GH100 part (mig.md 4.7)')
        + uncertain('memory_mib', 'the board total is not in the references')
        + uncertain('gi_profiles', 'the 96GB SKU only: the 141GB H20 (0x232C, "GH100 [H20 HBM3e]" in the public PCI id list) is not '
                    'catalogued: its MIG profiles are in no NVIDIA config (mig.md 4.7 says only that it uses the H200 names)')
        + unverified('pci_device_ids', '0x2329 is in mig-parted\'s H100-96GB/PG506/GH200/H20 filter group (mig.md 2.1); which id is '
                     'the H20 comes from the public PCI id list'),
    ),
    dict(
        key='GB200', names=('NVIDIA GB200',), pci_device_ids=(0x2941,),
        architecture=ARCH_BLACKWELL, compute_capability=(10, 0), memory_mib=None,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_GB200_ROWS, placements_note=_PLACEMENTS_INFERRED, notes=_GB200_NOTES),
        min_driver=_B200_MIN,
        notes=_UNV_NAME + uncertain('memory_mib', 'the board total is not in the references'),
    ),
    dict(
        key='B300', names=('NVIDIA B300 SXM6 AC',), pci_device_ids=(0x3182,),
        architecture=ARCH_BLACKWELL, compute_capability=(10, 3), memory_mib=None,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_B300_ROWS, placements_note=_PLACEMENTS_INFERRED, notes=_B300_NOTES),
        min_driver='580.82.07',
        notes=_UNV_NAME + uncertain('memory_mib', 'the board total is not in the references')
        + uncertain('compute_capability', 'not in the references (the MIG guide gives CUDA 12.9 for B300); 10.3 is the Blackwell Ultra '
                    'value of the CUDA documentation'),
    ),
    dict(
        key='GB300', names=('NVIDIA GB300',), pci_device_ids=(0x31C2,),
        architecture=ARCH_BLACKWELL, compute_capability=(10, 3), memory_mib=None,
        profiles=dict(layout=EIGHT_SLICE_LAYOUT, rows=_GB300_ROWS, placements_note=_PLACEMENTS_INFERRED, notes=_GB300_NOTES),
        min_driver='595.58.03',
        notes=_UNV_NAME + uncertain('memory_mib', 'the board total is not in the references')
        + uncertain('min_driver', 'the MIG guide gives R595 (595.58.03) for "GB300 (DGX Station)"; other GB300 systems are not listed')
        + uncertain('compute_capability', 'not in the references (the MIG guide gives CUDA 13 for GB300); 10.3 is the Blackwell Ultra '
                    'value of the CUDA documentation'),
    ),
    dict(
        key='RTX-PRO-6000-SE', names=('NVIDIA RTX PRO 6000 Blackwell Server Edition',), pci_device_ids=(0x2BB5,),
        architecture=ARCH_BLACKWELL, compute_capability=(12, 0), memory_mib=97887,
        profiles=dict(layout=_RTX_PRO_6000_LAYOUT, rows=_RTX_PRO_6000_ROWS, notes=_RTX_PRO_6000_NOTES),
        min_driver='575.51.03',
        notes=inferred('memory_mib', 'the 97887 MiB a process saw as the whole card in the RTX PRO 6000 transcript; not an NVML figure')
        + unverified('pci_device_ids', '0x2BB5 is "RTX PRO 6000 Blackwell" in mig-parted\'s default config; the Workstation and Max-Q '
                     'editions, which share the profiles (mig.md 4.10), are RTX-PRO-6000-WS (0x2BB1) and RTX-PRO-6000-MAXQ (0x2BB4); '
                     'the China variants 0x2BB2 and 0x2BBC (RTX PRO 6000D) are not catalogued: their MIG data is in no source'),
    ),
    dict(
        key='RTX-PRO-6000-WS', names=('NVIDIA RTX PRO 6000 Blackwell Workstation Edition',), pci_device_ids=(0x2BB1,),
        architecture=ARCH_BLACKWELL, compute_capability=(12, 0), memory_mib=None,
        profiles=dict(layout=_RTX_PRO_6000_LAYOUT, rows=_RTX_PRO_6000_ROWS, placements_note=_RTX_PRO_6000_EDITION, notes=_RTX_PRO_6000_NOTES),
        min_driver='575.51.03', min_vbios='98.02.55.00.00',
        notes=_RTX_PRO_NAME + _RTX_PRO_6000_EDITION_FIGURES + _RTX_PRO_DISPLAY_MODE
        + uncertain('memory_mib', 'the NVML board total of the Workstation Edition is not in the references')
        + unverified('pci_device_ids', _PCI_IDS % '0x2BB1 is "GB202GL [RTX PRO 6000 Blackwell Workstation Edition]"'),
    ),
    dict(
        key='RTX-PRO-6000-MAXQ', names=('NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition',), pci_device_ids=(0x2BB4,),
        architecture=ARCH_BLACKWELL, compute_capability=(12, 0), memory_mib=None,
        profiles=dict(layout=_RTX_PRO_6000_LAYOUT, rows=_RTX_PRO_6000_ROWS, placements_note=_RTX_PRO_6000_EDITION, notes=_RTX_PRO_6000_NOTES),
        min_driver='575.51.03', min_vbios='98.02.6A.00.00',
        notes=_RTX_PRO_NAME + _RTX_PRO_6000_EDITION_FIGURES + _RTX_PRO_DISPLAY_MODE
        + uncertain('memory_mib', 'the NVML board total of the Max-Q Workstation Edition is not in the references')
        + unverified('pci_device_ids', _PCI_IDS % '0x2BB4 is "GB202GL [RTX PRO 6000 Blackwell Max-Q Workstation Edition]"'),
    ),
    dict(
        key='RTX-PRO-5000', names=('NVIDIA RTX PRO 5000 Blackwell',), pci_device_ids=(0x2BB3,),
        architecture=ARCH_BLACKWELL, compute_capability=(12, 0), memory_mib=None, memory_range_mib=_RTX_PRO_5000_48GB,
        profiles=dict(layout=_RTX_PRO_5000_LAYOUT, rows=_RTX_PRO_5000_ROWS, notes=_RTX_PRO_5000_NOTES),
        min_driver='575.57.08', min_vbios='98.02.73.00.00',
        notes=_RTX_PRO_NAME + _RTX_PRO_DISPLAY_MODE
        + inferred('compute_capability', 'the same GB202 chip as the RTX PRO 6000 (12.0)')
        + uncertain('memory_mib', 'the NVML board total of the 48GB board is not in the references')
        + inferred('memory_range_mib', 'one PCI id for two boards: the 48GB board is told from the 72GB one by the memory total NVML '
                   'reports. The totals are in no source; 40-60 GiB holds 48 GB less reserved or ECC memory (L40S: 46068 MiB of 48 GB) '
                   'and excludes 72 GB. The 72GB board\'s MIG profiles are in no source, so it is not catalogued')
        + unverified('pci_device_ids', _PCI_IDS % '0x2BB3 is "GB202GL [RTX PRO 5000 Blackwell / RTX PRO 5000 72GB Blackwell]"'),
    ),
    dict(
        key='RTX-PRO-4500', names=('NVIDIA RTX PRO 4500 Blackwell',), pci_device_ids=(0x2C31,),
        architecture=ARCH_BLACKWELL, compute_capability=(12, 0), memory_mib=None,
        profiles=dict(layout=_RTX_PRO_4500_LAYOUT, rows=_RTX_PRO_4500_ROWS, notes=_RTX_PRO_4500_NOTES),
        min_driver='575.64',
        notes=_RTX_PRO_NAME + _RTX_PRO_DISPLAY_MODE
        + inferred('compute_capability', 'GB203, the same Blackwell generation as the RTX PRO 6000\'s GB202 (12.0)')
        + uncertain('memory_mib', 'the NVML board total of the 32GB board is not in the references')
        + uncertain('min_vbios', 'the MIG guide gives minimum vBIOS versions for the RTX PRO 6000 Workstation and Max-Q editions and the '
                    'RTX PRO 5000 only; none is known for the RTX PRO 4500')
        + unverified('pci_device_ids', _PCI_IDS % '0x2C31 is "GB203GL [RTX PRO 4500 Blackwell]"' + '; 0x2C3A (RTX PRO 4500 Blackwell '
                     'Server Edition) is not catalogued: whether the guide\'s RTX PRO 4500 table covers it is not known'),
    ),
    dict(
        key='L40S', names=('NVIDIA L40S',), pci_device_ids=(0x26B9,),
        architecture=ARCH_ADA, compute_capability=(8, 9), memory_mib=46068,
        notes=_UNV_NAME + _UNV_MEMORY + unverified(('pci_device_ids', 'compute_capability', 'architecture'),
                                                   'identity from the project table; the references only say that L40S has no MIG'),
    ),
    dict(
        key='V100-SXM2-32GB', names=('Tesla V100-SXM2-32GB',), pci_device_ids=(0x1DB5,),
        architecture=ARCH_VOLTA, compute_capability=(7, 0), memory_mib=32768,
        notes=_UNV_NAME + _UNV_MEMORY + unverified(('pci_device_ids', 'compute_capability', 'architecture'),
                                                   'identity from the project table; the references only say that V100 has no MIG'),
    ),
)
