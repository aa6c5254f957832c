# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for the GPU catalog.

Expected values are literals transcribed from the project references (mig.md section 2.1, 4.2-4.9, 4.11, 5.1, 6;
nvml.md 4.2, 5.3, 5.5, 6), not computed from the catalog, so a wrong catalog value makes a test fail.
"""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog


# --------------------------------------------------------------------------------------------------
# Reference transcriptions
# --------------------------------------------------------------------------------------------------

# mig.md 4.3: placements (start, size) of 8-memory-slice GPUs.
P_1G = ((0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1))
P_1G_2M = ((0, 2), (2, 2), (4, 2), (6, 2))
P_2G = ((0, 2), (2, 2), (4, 2))
P_3G = ((0, 4), (4, 4))
P_4G = ((0, 4),)
P_7G = ((0, 8),)

# mig.md 4.4: A30 placements.
P_A30_1G = ((0, 1), (1, 1), (2, 1), (3, 1))
P_A30_2G = ((0, 2), (2, 2))
P_A30_4G = ((0, 4),)

# RTX PRO 6000 Blackwell Server Edition: real -lgipp, {0,3,6,9}:3 / {0,6}:6 / {0}:12 (4 compute slices, 12 memory units).
P_RTX_1G = ((0, 3), (3, 3), (6, 3), (9, 3))
P_RTX_2G = ((0, 6), (6, 6))
P_RTX_4G = ((0, 12),)
# RTX PRO 5000 / 4500 (2 compute slices): no -lgipp anywhere; the RTX PRO 6000 geometry halved, {0,3}:3 / {0}:6 [INF].
P_RTX2_1G = ((0, 3), (3, 3))
P_RTX2_2G = ((0, 6),)

# Per model: (name, NVML GI enum, nvidia-smi profile id, max count, placements, SM, memory MiB = round(-lgip GiB * 1024)).
PROFILES = {
    'A100-SXM4-40GB': (  # mig.md 4.5, nvml.md 6.1
        ('1g.5gb', 0x0, 19, 7, P_1G, 14, 4864),         # 4.75 GiB
        ('1g.5gb+me', 0x7, 20, 1, P_1G, 14, 4864),
        ('1g.10gb', 0x9, 15, 4, P_1G_2M, 14, 9856),     # NVML memorySizeMB (go-nvml dgxa100 mock); -lgip 9.62 GiB
        ('2g.10gb', 0x1, 14, 3, P_2G, 28, 9856),
        ('3g.20gb', 0x2, 9, 2, P_3G, 42, 19968),        # 19.50 GiB
        ('4g.20gb', 0x3, 5, 1, P_4G, 56, 19968),
        ('7g.40gb', 0x4, 0, 1, P_7G, 98, 40192),        # 39.25 GiB
    ),
    'A100-SXM4-80GB': (  # mig.md 4.6
        ('1g.10gb', 0x0, 19, 7, P_1G, 14, 9728),        # 9.50 GiB
        ('1g.10gb+me', 0x7, 20, 1, P_1G, 14, 9728),
        ('1g.20gb', 0x9, 15, 4, P_1G_2M, 14, 19968),    # ~19.5 GiB [INF]
        ('2g.20gb', 0x1, 14, 3, P_2G, 28, 19968),
        ('3g.40gb', 0x2, 9, 2, P_3G, 42, 40192),        # 39.25 GiB
        ('4g.40gb', 0x3, 5, 1, P_4G, 56, 40192),        # [INF]
        ('7g.80gb', 0x4, 0, 1, P_7G, 98, 80896),        # ~79 GiB [INF]
    ),
    'A30': (  # mig.md 4.4, nvml.md 6.3
        ('1g.6gb', 0x0, 14, 4, P_A30_1G, 14, 5949),     # 5.81 GiB
        ('1g.6gb+me', 0x7, 21, 1, P_A30_1G, 14, 5949),
        ('2g.12gb', 0x1, 5, 2, P_A30_2G, 28, 11971),    # 11.69 GiB
        ('2g.12gb+me', 0x8, 6, 1, P_A30_2G, 28, 11971),
        ('4g.24gb', 0x3, 0, 1, P_A30_4G, 56, 24003),    # 23.44 GiB
    ),
    'H100-SXM5-80GB': (  # mig.md 4.7, nvml.md 6.2
        ('1g.10gb', 0x0, 19, 7, P_1G, 16, 9984),        # 9.75 GiB
        ('1g.10gb+me', 0x7, 20, 1, P_1G, 16, 9984),
        ('1g.20gb', 0x9, 15, 4, P_1G_2M, 26, 20091),    # 19.62 GiB
        ('2g.20gb', 0x1, 14, 3, P_2G, 32, 20091),
        ('3g.40gb', 0x2, 9, 2, P_3G, 60, 40448),        # 39.50 GiB
        ('4g.40gb', 0x3, 5, 1, P_4G, 64, 40448),
        ('7g.80gb', 0x4, 0, 1, P_7G, 132, 81152),       # 79.25 GiB
    ),
    'H100-PCIE-80GB': (  # same names as SXM5; SM counts of the 114-SM board unknown
        ('1g.10gb', 0x0, 19, 7, P_1G, None, 9984),
        ('1g.10gb+me', 0x7, 20, 1, P_1G, None, 9984),
        ('1g.20gb', 0x9, 15, 4, P_1G_2M, None, 20091),
        ('2g.20gb', 0x1, 14, 3, P_2G, None, 20091),
        ('3g.40gb', 0x2, 9, 2, P_3G, None, 40448),
        ('4g.40gb', 0x3, 5, 1, P_4G, None, 40448),
        ('7g.80gb', 0x4, 0, 1, P_7G, None, 81152),
    ),
    'H100-NVL': (  # mig.md 4.7
        ('1g.12gb', 0x0, 19, 7, P_1G, 16, 11008),       # 10.75 GiB
        ('1g.12gb+me', 0x7, 20, 1, P_1G, 16, 11008),
        ('1g.24gb', 0x9, 15, 4, P_1G_2M, 26, 22139),    # 21.62 GiB
        ('2g.24gb', 0x1, 14, 3, P_2G, 32, 22139),
        ('3g.47gb', 0x2, 9, 2, P_3G, 60, 47493),        # 46.38 GiB
        ('4g.47gb', 0x3, 5, 1, P_4G, 64, 47493),
        ('7g.94gb', 0x4, 0, 1, P_7G, 132, 95355),       # 93.12 GiB
    ),
    'GH200-96GB': (  # mig.md 4.7 (96GB names; memory from an unidentified 96GB Hopper part)
        ('1g.12gb', 0x0, 19, 7, P_1G, 16, None),
        ('1g.12gb+me', 0x7, 20, 1, P_1G, 16, None),
        ('1g.24gb', 0x9, 15, 4, P_1G_2M, 26, 23552),    # = 2g.24gb [INF]
        ('2g.24gb', 0x1, 14, 3, P_2G, 32, 23552),       # 23.00 GiB
        ('3g.48gb', 0x2, 9, 2, P_3G, 60, 47616),        # 46.50 GiB
        ('4g.48gb', 0x3, 5, 1, P_4G, 64, 47616),
        ('7g.96gb', 0x4, 0, 1, P_7G, 132, 95232),       # 93.00 GiB
    ),
    'H200-141GB': (  # mig.md 4.8
        ('1g.18gb', 0x0, 19, 7, P_1G, 16, 16384),       # 16.00 GiB
        ('1g.18gb+me', 0x7, 20, 1, P_1G, 16, 16384),
        ('1g.35gb', 0x9, 15, 4, P_1G_2M, 26, 33024),    # 32.25 GiB
        ('2g.35gb', 0x1, 14, 3, P_2G, 32, 33024),
        ('3g.71gb', 0x2, 9, 2, P_3G, 60, 71168),        # 69.50 GiB
        ('4g.71gb', 0x3, 5, 1, P_4G, 64, 71168),
        ('7g.141gb', 0x4, 0, 1, P_7G, 132, 143104),     # 139.75 GiB
    ),
    'B200': (  # mig.md 4.9
        ('1g.23gb', 0x0, 19, 7, P_1G, 18, 22528),       # 22.00 GiB
        ('1g.23gb+me', 0x7, 20, 1, P_1G, 18, 22528),    # [INF] copied from 1g.23gb
        ('1g.45gb', 0x9, 15, 4, P_1G_2M, 30, 45312),    # 44.25 GiB
        ('2g.45gb', 0x1, 14, 3, P_2G, 36, 45312),       # [INF] = 1g.45gb
        ('3g.90gb', 0x2, 9, 2, P_3G, None, None),
        ('4g.90gb', 0x3, 5, 1, P_4G, None, None),
        ('7g.180gb', 0x4, 0, 1, P_7G, None, None),
    ),
    # Issue 18 item 8: models of NVIDIA's default configs (fidelity-2026-12 D12).
    'GB200': (  # mig.md 4.9: 1g 22.00 GiB, 1g.47gb 45.50 GiB SM 32, 2g.47gb SM 38; the rest names only
        ('1g.23gb', 0x0, 19, 7, P_1G, None, 22528),
        ('1g.23gb+me', 0x7, 20, 1, P_1G, None, None),
        ('1g.47gb', 0x9, 15, 4, P_1G_2M, 32, 46592),
        ('2g.47gb', 0x1, 14, 3, P_2G, 38, None),
        ('3g.93gb', 0x2, 9, 2, P_3G, None, None),
        ('4g.93gb', 0x3, 5, 1, P_4G, None, None),
        ('7g.186gb', 0x4, 0, 1, P_7G, None, None),
    ),
    'B300': tuple((name, enum, pid, count, placements, None, None) for name, enum, pid, count, placements in (  # mig.md 4.9
        ('1g.34gb', 0x0, 19, 7, P_1G), ('1g.34gb+me', 0x7, 20, 1, P_1G), ('1g.67gb', 0x9, 15, 4, P_1G_2M), ('2g.67gb', 0x1, 14, 3, P_2G),
        ('3g.135gb', 0x2, 9, 2, P_3G), ('4g.135gb', 0x3, 5, 1, P_4G), ('7g.269gb', 0x4, 0, 1, P_7G))),
    'GB300': tuple((name, enum, pid, count, placements, None, None) for name, enum, pid, count, placements in (  # mig.md 4.9
        ('1g.35gb', 0x0, 19, 7, P_1G), ('1g.35gb+me', 0x7, 20, 1, P_1G), ('1g.70gb', 0x9, 15, 4, P_1G_2M), ('2g.70gb', 0x1, 14, 3, P_2G),
        ('3g.139gb', 0x2, 9, 2, P_3G), ('4g.139gb', 0x3, 5, 1, P_4G), ('7g.278gb', 0x4, 0, 1, P_7G))),
    'GH200-144G': (  # mig.md 4.8
        ('1g.18gb', 0x0, 19, 7, P_1G, 16, 17920),       # 17.50 GiB
        ('1g.18gb+me', 0x7, 20, 1, P_1G, 16, 17920),
        ('1g.36gb', 0x9, 15, 4, P_1G_2M, 26, 36096),    # 35.25 GiB
        ('2g.36gb', 0x1, 14, 3, P_2G, 32, 36096),
        ('3g.72gb', 0x2, 9, 2, P_3G, 60, None),         # SM [INF] from the other 132-SM Hopper boards
        ('4g.72gb', 0x3, 5, 1, P_4G, 64, None),
        ('7g.144gb', 0x4, 0, 1, P_7G, 132, None),
    ),
    'H20': tuple((name, enum, pid, count, placements, None, None) for name, enum, pid, count, placements in (  # mig.md 4.7
        ('1g.12gb', 0x0, 19, 7, P_1G), ('1g.12gb+me', 0x7, 20, 1, P_1G), ('1g.24gb', 0x9, 15, 4, P_1G_2M), ('2g.24gb', 0x1, 14, 3, P_2G),
        ('3g.48gb', 0x2, 9, 2, P_3G), ('4g.48gb', 0x3, 5, 1, P_4G), ('7g.96gb', 0x4, 0, 1, P_7G))),
    'RTX-PRO-6000-SE': (  # mig.md 4.10 and a real -lgip / -lgipp transcript
        ('1g.24gb', 0x0, 14, 4, P_RTX_1G, 46, 24187),   # 23.62 GiB
        ('1g.24gb+me', 0x7, 21, 1, P_RTX_1G, 46, 24187),
        ('1g.24gb+gfx', 0xA, 47, 4, P_RTX_1G, 46, 24187),
        ('1g.24gb+me.all', 0xF, 65, 1, P_RTX_1G, 46, 24187),
        ('1g.24gb-me', 0xD, 67, 4, P_RTX_1G, 46, 24187),
        ('2g.48gb', 0x1, 5, 2, P_RTX_2G, 94, 48517),    # 47.38 GiB
        ('2g.48gb+gfx', 0xB, 35, 2, P_RTX_2G, 94, 48517),
        ('2g.48gb+me.all', 0x10, 64, 1, P_RTX_2G, 94, 48517),
        ('2g.48gb-me', 0xE, 66, 2, P_RTX_2G, 94, 48517),
        ('4g.96gb', 0x3, 0, 1, P_RTX_4G, 188, 97403),   # 95.12 GiB
        ('4g.96gb+gfx', 0xC, 32, 1, P_RTX_4G, 188, 97403),
    ),
}
PROFILES['A100-PCIE-40GB'] = PROFILES['A100-SXM4-40GB']
PROFILES['A100-PCIE-80GB'] = PROFILES['A100-SXM4-80GB']
PROFILES['H100-SXM5-94GB'] = PROFILES['H100-NVL']   # the H100 94GB names; the NVL board's figures [INF]
# mig.md 4.10: one table for every RTX PRO 6000 edition (Server, Workstation, Max-Q).
PROFILES['RTX-PRO-6000-WS'] = PROFILES['RTX-PRO-6000-SE']
PROFILES['RTX-PRO-6000-MAXQ'] = PROFILES['RTX-PRO-6000-SE']
# mig.md 4.10 names and counts; ids [INF] by share of the board (whole board id 0); 2g SM: the datasheet's 110 SMs of the whole 5000 [UNC].
PROFILES['RTX-PRO-5000'] = (
    ('1g.24gb', 0x0, 5, 2, P_RTX2_1G, None, None),
    ('1g.24gb+me', 0x7, 6, 1, P_RTX2_1G, None, None),
    ('1g.24gb+gfx', 0xA, 35, 2, P_RTX2_1G, None, None),
    ('1g.24gb+me.all', 0xF, 64, 1, P_RTX2_1G, None, None),
    ('1g.24gb-me', 0xD, 66, 2, P_RTX2_1G, None, None),
    ('2g.48gb', 0x1, 0, 1, P_RTX2_2G, 110, None),
    ('2g.48gb+gfx', 0xB, 32, 1, P_RTX2_2G, 110, None),
)
PROFILES['RTX-PRO-4500'] = (   # the guide lists no 1g.16gb+me
    ('1g.16gb', 0x0, 5, 2, P_RTX2_1G, None, None),
    ('1g.16gb+gfx', 0xA, 35, 2, P_RTX2_1G, None, None),
    ('1g.16gb+me.all', 0xF, 64, 1, P_RTX2_1G, None, None),
    ('1g.16gb-me', 0xD, 66, 2, P_RTX2_1G, None, None),
    ('2g.32gb', 0x1, 0, 1, P_RTX2_2G, None, None),
    ('2g.32gb+gfx', 0xB, 32, 1, P_RTX2_2G, None, None),
)

# Engine counts (CE, DEC, ENC, JPEG, OFA) where the reference gives them as observed or documented.
ENGINES = {
    'A100-SXM4-40GB': {  # mig.md 4.5 (ENC 0 everywhere on A100)
        '1g.5gb': (1, 0, 0, 0, 0), '1g.5gb+me': (1, 1, 0, 1, 1), '1g.10gb': (1, 1, 0, 0, 0), '2g.10gb': (2, 1, 0, 0, 0),
        '3g.20gb': (3, 2, 0, 0, 0), '4g.20gb': (4, 2, 0, 0, 0), '7g.40gb': (7, 5, 0, 1, 1),
    },
    'H100-SXM5-80GB': {  # mig.md 4.7 guide tables
        '1g.10gb': (1, 1, 0, 1, 0), '1g.10gb+me': (1, 1, 0, 1, 1), '1g.20gb': (1, 1, 0, 1, 0), '2g.20gb': (2, 2, 0, 2, 0),
        '3g.40gb': (3, 3, 0, 3, 0), '4g.40gb': (4, 4, 0, 4, 0), '7g.80gb': (8, 7, 0, 7, 1),
    },
    'H100-NVL': {
        '1g.12gb': (1, 1, 0, 1, 0), '1g.12gb+me': (1, 1, 0, 1, 1), '1g.24gb': (1, 1, 0, 1, 0), '2g.24gb': (2, 2, 0, 2, 0),
        '3g.47gb': (3, 3, 0, 3, 0), '4g.47gb': (4, 4, 0, 4, 0), '7g.94gb': (8, 7, 0, 7, 1),
    },
    'A30': {  # nvml.md 6.3 (-lgip; DEC 1 for 1g.6gb is [UNC] vs the guide's 0), no ENC column
        '1g.6gb': (1, 1, None, 0, 0), '1g.6gb+me': (1, 1, None, 1, 1), '2g.12gb': (2, 2, None, 0, 0),
        '2g.12gb+me': (2, 2, None, 1, 1), '4g.24gb': (4, 4, None, 1, 1),
    },
    'B200': {  # mig.md 4.9 real -lgip: 1g CE 2 DEC 1 JPEG 1; 2g.45gb CE 4 DEC 2 JPEG 2; +me OFA 1
        '1g.23gb': (2, 1, None, 1, 0), '2g.45gb': (4, 2, None, 2, 0), '3g.90gb': (None, None, None, None, None),
    },
    'GB200': {'2g.47gb': (4, 2, None, 2, None), '1g.23gb': (None, None, None, None, None)},   # mig.md 4.9 real -lgip of 2g.47gb
    'RTX-PRO-6000-SE': {  # real -lgip: +me.all holds every decoder, encoder and JPEG engine and the OFA; -me none
        '1g.24gb': (1, 1, 1, 1, 0), '1g.24gb+me': (1, 1, 1, 1, 1), '1g.24gb+gfx': (1, 1, 1, 1, 0), '1g.24gb+me.all': (1, 4, 4, 4, 1),
        '1g.24gb-me': (1, 0, 0, 0, 0), '2g.48gb': (2, 2, 2, 2, 0), '2g.48gb+gfx': (2, 2, 2, 2, 0), '2g.48gb+me.all': (2, 4, 4, 4, 1),
        '2g.48gb-me': (2, 0, 0, 0, 0), '4g.96gb': (4, 4, 4, 4, 1), '4g.96gb+gfx': (4, 4, 4, 4, 1),
    },
}

# Project model table: key -> (names, PCI device ids, arch, NVML arch, CC, total MiB, MIG, mem slices, compute slices,
# max MIG devices, mode persistent, minimum driver).
MODELS = {
    'A100-SXM4-40GB': (('NVIDIA A100-SXM4-40GB',), (0x20B0,), 'ampere', 7, (8, 0), 40960, True, 8, 7, 7, True, '450.80.02'),
    'A100-PCIE-40GB': (('NVIDIA A100-PCIE-40GB',), (0x20F1, 0x20B1, 0x20F6), 'ampere', 7, (8, 0), 40960, True, 8, 7, 7, True, '450.80.02'),
    'A100-SXM4-80GB': (('NVIDIA A100-SXM4-80GB',), (0x20B2, 0x20F3), 'ampere', 7, (8, 0), 81920, True, 8, 7, 7, True, '450.80.02'),
    'A100-PCIE-80GB': (('NVIDIA A100 80GB PCIe',), (0x20B5, 0x20F5), 'ampere', 7, (8, 0), 81920, True, 8, 7, 7, True, '450.80.02'),
    'A30': (('NVIDIA A30',), (0x20B7,), 'ampere', 7, (8, 0), 24576, True, 4, 4, 4, True, '460.73.01'),
    'H100-SXM5-80GB': (('NVIDIA H100 80GB HBM3',), (0x2330, 0x2324), 'hopper', 9, (9, 0), 81559, True, 8, 7, 7, False, '525.85.12'),
    'H100-PCIE-80GB': (('NVIDIA H100 PCIe',), (0x2331, 0x2322), 'hopper', 9, (9, 0), 81559, True, 8, 7, 7, False, '525.85.12'),
    'H100-NVL': (('NVIDIA H100 NVL',), (0x2321, 0x233A), 'hopper', 9, (9, 0), 95830, True, 8, 7, 7, False, '525.85.12'),
    'H200-141GB': (('NVIDIA H200',), (0x2335, 0x233B), 'hopper', 9, (9, 0), 143771, True, 8, 7, 7, False, '550.90.07'),
    'GH200-96GB': (('NVIDIA GH200 480GB',), (0x2342,), 'hopper', 9, (9, 0), 97871, True, 8, 7, 7, False, '525.85.12'),
    'B200': (('NVIDIA B200',), (0x2901,), 'blackwell', 10, (10, 0), 183359, True, 8, 7, 7, False, '570.133.20'),
    'H100-SXM5-94GB': (('NVIDIA H100 SXM5 94GB',), (0x2339,), 'hopper', 9, (9, 0), None, True, 8, 7, 7, False, '525.85.12'),
    'GH200-144G': (('NVIDIA GH200 144G HBM3e',), (0x2348,), 'hopper', 9, (9, 0), None, True, 8, 7, 7, False, '525.85.12'),
    'H20': (('NVIDIA H20',), (0x2329,), 'hopper', 9, (9, 0), None, True, 8, 7, 7, False, '535.161.07'),
    'GB200': (('NVIDIA GB200',), (0x2941,), 'blackwell', 10, (10, 0), None, True, 8, 7, 7, False, '570.133.20'),
    'B300': (('NVIDIA B300 SXM6 AC',), (0x3182,), 'blackwell', 10, (10, 3), None, True, 8, 7, 7, False, '580.82.07'),
    'GB300': (('NVIDIA GB300',), (0x31C2,), 'blackwell', 10, (10, 3), None, True, 8, 7, 7, False, '595.58.03'),
    'RTX-PRO-6000-SE': (('NVIDIA RTX PRO 6000 Blackwell Server Edition',), (0x2BB5,), 'blackwell', 10, (12, 0), 97887, True, 12, 4, 4,
                        False, '575.51.03'),
    'RTX-PRO-6000-WS': (('NVIDIA RTX PRO 6000 Blackwell Workstation Edition',), (0x2BB1,), 'blackwell', 10, (12, 0), None, True, 12, 4, 4,
                        False, '575.51.03'),
    'RTX-PRO-6000-MAXQ': (('NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition',), (0x2BB4,), 'blackwell', 10, (12, 0), None, True,
                          12, 4, 4, False, '575.51.03'),
    'RTX-PRO-5000': (('NVIDIA RTX PRO 5000 Blackwell',), (0x2BB3,), 'blackwell', 10, (12, 0), None, True, 6, 2, 2, False, '575.57.08'),
    'RTX-PRO-4500': (('NVIDIA RTX PRO 4500 Blackwell',), (0x2C31,), 'blackwell', 10, (12, 0), None, True, 6, 2, 2, False, '575.64'),
    'L40S': (('NVIDIA L40S',), (0x26B9,), 'ada', 8, (8, 9), 46068, False, 0, 0, 0, False, None),
    'V100-SXM2-32GB': (('Tesla V100-SXM2-32GB',), (0x1DB5,), 'volta', 5, (7, 0), 32768, False, 0, 0, 0, False, None),
}
MIG_MODELS = sorted(k for k, v in MODELS.items() if v[6])

# mig.md 5.1: profile-specific minimum drivers ('470' = branch R470). Every other profile has None.
PROFILE_MIN_DRIVERS = {
    ('A100-SXM4-40GB', '1g.5gb+me'): '470',
    ('A100-SXM4-40GB', '1g.10gb'): '525',
    ('A100-PCIE-40GB', '1g.5gb+me'): '470',
    ('A100-PCIE-40GB', '1g.10gb'): '525',
    ('A100-SXM4-80GB', '1g.10gb+me'): '470',   # [INF] from the A100 1g.5gb+me rule
    ('A100-SXM4-80GB', '1g.20gb'): '525',      # [INF] from the A100-40GB 1g.10gb rule (same REV2 enum)
    ('A100-PCIE-80GB', '1g.10gb+me'): '470',
    ('A100-PCIE-80GB', '1g.20gb'): '525',
    ('A30', '1g.6gb+me'): '470',
    ('A30', '2g.12gb+me'): '525',
}

# mig.md 2.1: NVIDIA's default mig-parted config (config-default.yaml), label profile -> count, per model it is meant for.
DEFAULT_CONFIG = (
    # A100-40GB, A800-40GB
    (('A100-SXM4-40GB', 'A100-PCIE-40GB'), {
        '1g.5gb': 7, '1g.5gb+me': 1, '2g.10gb': 3, '3g.20gb': 2, '4g.20gb': 1, '7g.40gb': 1, '1g.10gb': 4}),
    # H100-80GB, H800-80GB, A100-80GB, A800-80GB
    (('A100-SXM4-80GB', 'A100-PCIE-80GB', 'H100-SXM5-80GB', 'H100-PCIE-80GB'), {
        '1g.10gb': 7, '1g.10gb+me': 1, '1g.20gb': 4, '2g.20gb': 3, '3g.40gb': 2, '4g.40gb': 1, '7g.80gb': 1}),
    # A30-24GB
    (('A30',), {'1g.6gb': 4, '1g.6gb+me': 1, '2g.12gb': 2, '2g.12gb+me': 1, '4g.24gb': 1}),
    # H100 NVL, H800 NVL, GH200 (96GB)
    (('H100-NVL', 'GH200-96GB'), {'1g.12gb': 7, '1g.12gb+me': 1, '1g.24gb': 4, '2g.24gb': 3}),
    # H100 NVL, H800 NVL (94GB)
    (('H100-NVL',), {'3g.47gb': 2, '4g.47gb': 1, '7g.94gb': 1}),
    # H100-96GB, PG506-96GB, GH200
    (('GH200-96GB',), {'3g.48gb': 2, '4g.48gb': 1, '7g.96gb': 1}),
    # H200-141GB
    (('H200-141GB',), {'1g.18gb': 7, '1g.18gb+me': 1, '1g.35gb': 4, '2g.35gb': 3, '3g.71gb': 2, '4g.71gb': 1, '7g.141gb': 1}),
    # B200
    (('B200',), {'1g.23gb': 7, '1g.23gb+me': 1, '1g.45gb': 4, '2g.45gb': 3, '3g.90gb': 2, '4g.90gb': 1, '7g.180gb': 1}),
    # GB200 HGX (1g.23gb and 1g.23gb+me: "GB200, B200")
    (('GB200',), {'1g.23gb': 7, '1g.23gb+me': 1, '1g.47gb': 4, '2g.47gb': 3, '3g.93gb': 2, '4g.93gb': 1, '7g.186gb': 1}),
    # B300
    (('B300',), {'1g.34gb': 7, '1g.34gb+me': 1, '1g.67gb': 4, '2g.67gb': 3, '3g.135gb': 2, '4g.135gb': 1, '7g.269gb': 1}),
    # GB300
    (('GB300',), {'1g.35gb': 7, '1g.35gb+me': 1, '1g.70gb': 4, '2g.70gb': 3, '3g.139gb': 2, '4g.139gb': 1, '7g.278gb': 1}),
    # H200-141GB, GH200 144G HBM3e (1g.18gb); GH200 144G HBM3e
    (('GH200-144G',), {'1g.18gb': 7, '1g.18gb+me': 1, '1g.36gb': 4, '2g.36gb': 3, '3g.72gb': 2, '4g.72gb': 1, '7g.144gb': 1}),
    # RTX-PRO-6000-96GB
    (('RTX-PRO-6000-SE',), {'1g.24gb': 4, '1g.24gb+me': 1, '1g.24gb+gfx': 4, '1g.24gb+me.all': 1, '1g.24gb-me': 4, '2g.48gb': 2,
                            '2g.48gb+gfx': 2, '2g.48gb+me.all': 1, '2g.48gb-me': 2, '4g.96gb': 1, '4g.96gb+gfx': 1}),
)

# mig.md 2.1 all-balanced entries, by device-filter id.
BALANCED = (
    (0x2901, {'1g.23gb': 2, '2g.45gb': 1, '3g.90gb': 1}),
    (0x2335, {'1g.18gb': 2, '2g.35gb': 1, '3g.71gb': 1}),
    (0x233B, {'1g.18gb': 2, '2g.35gb': 1, '3g.71gb': 1}),
    (0x2321, {'1g.12gb': 2, '2g.24gb': 1, '3g.47gb': 1}),
    (0x20B7, {'1g.6gb': 2, '2g.12gb': 1}),
    (0x2342, {'1g.12gb': 2, '2g.24gb': 1, '3g.48gb': 1}),
    (0x2329, {'1g.12gb': 2, '2g.24gb': 1, '3g.48gb': 1}),     # H20
    (0x2941, {'1g.23gb': 2, '2g.47gb': 1, '3g.93gb': 1}),     # GB200
    (0x31C2, {'1g.35gb': 2, '2g.70gb': 1, '3g.139gb': 1}),    # GB300
    (0x3182, {'1g.34gb': 2, '2g.67gb': 1, '3g.135gb': 1}),    # B300
    (0x2348, {'1g.18gb': 2, '2g.36gb': 1, '3g.72gb': 1}),     # GH200 144G
    (0x2BB5, {'1g.24gb': 2, '2g.48gb': 1}),                   # RTX PRO 6000
)
# mig.md 2.1: all-1g.10gb is 7 on the 80GB filter group and 4 on the 40GB group (ids the catalog knows or not).
FILTER_80GB = (0x2330, 0x2331, 0x2322, 0x20B2, 0x20B5, 0x20F3, 0x20F5, 0x2324)
FILTER_40GB = (0x20B0, 0x20B1, 0x20F1, 0x20F6)

# nvml.md 5.5 (observed, A100-40GB): GI -> ((CI name, CI enum = CI profile id, count, default, SM), ...).
A100_40GB_COMPUTE = {
    '1g.5gb': (('1g.5gb', 0, 1, True, 14),),
    '2g.10gb': (('1c.2g.10gb', 0, 2, False, 14), ('2g.10gb', 1, 1, True, 28)),
    '3g.20gb': (('1c.3g.20gb', 0, 3, False, 14), ('2c.3g.20gb', 1, 1, False, 28), ('3g.20gb', 2, 1, True, 42)),
    '4g.20gb': (('1c.4g.20gb', 0, 4, False, 14), ('2c.4g.20gb', 1, 2, False, 28), ('4g.20gb', 3, 1, True, 56)),
    '7g.40gb': (('1c.7g.40gb', 0, 7, False, 14), ('2c.7g.40gb', 1, 3, False, 28), ('3c.7g.40gb', 2, 2, False, 42),
                ('4c.7g.40gb', 3, 1, False, 56), ('7g.40gb', 4, 1, True, 98)),
}

# mig.md 4.11 heuristic on other models: GI -> ((CI name, enum, count, default), ...).
OTHER_COMPUTE = {
    ('A30', '4g.24gb'): (('1c.4g.24gb', 0, 4, False), ('2c.4g.24gb', 1, 2, False), ('4g.24gb', 3, 1, True)),
    ('A30', '2g.12gb+me'): (('1c.2g.12gb+me', 0, 2, False), ('2g.12gb+me', 1, 1, True)),
    ('A30', '1g.6gb'): (('1g.6gb', 0, 1, True),),
    ('H100-SXM5-80GB', '7g.80gb'): (('1c.7g.80gb', 0, 7, False), ('2c.7g.80gb', 1, 3, False), ('3c.7g.80gb', 2, 2, False),
                                    ('4c.7g.80gb', 3, 1, False), ('7g.80gb', 4, 1, True)),
    # D3: the REV1 CI (enum 7, the GI's full SMs) is the default; plain 1_SLICE is offered too
    ('H100-SXM5-80GB', '1g.20gb'): (('1g.20gb', 7, 1, True), ('1g.20gb', 0, 1, False)),
    ('H200-141GB', '1g.35gb'): (('1g.35gb', 7, 1, True), ('1g.35gb', 0, 1, False)),
    ('A100-SXM4-40GB', '1g.10gb'): (('1g.10gb', 0, 1, True),),   # no REV1 choice modelled on Ampere
    ('B200', '3g.90gb'): (('1c.3g.90gb', 0, 3, False), ('2c.3g.90gb', 1, 1, False), ('3g.90gb', 2, 1, True)),
}

# Values the reference marks [INF] / [UNC] (or that are unknown): (model, profile or None for the model) -> fields that
# must carry a note.
MUST_BE_NOTED = {
    ('A100-SXM4-80GB', '1g.10gb+me'): {'min_driver', 'starts'},
    ('A100-SXM4-80GB', '1g.20gb'): {'sm', 'memory_mib', 'dec', 'jpeg', 'ofa', 'min_driver', 'starts'},
    ('A100-SXM4-80GB', '4g.40gb'): {'sm', 'memory_mib', 'dec', 'jpeg', 'ofa', 'starts'},
    ('A100-SXM4-80GB', '7g.80gb'): {'sm', 'memory_mib', 'dec', 'jpeg', 'ofa', 'starts'},
    ('A100-SXM4-80GB', '3g.40gb'): {'memory_mib', 'starts'},   # -lgip seen on the PCIe board only
    ('A100-PCIE-80GB', '1g.20gb'): {'sm', 'memory_mib', 'dec', 'jpeg', 'ofa', 'min_driver', 'starts'},
    ('A100-PCIE-80GB', '7g.80gb'): {'sm', 'memory_mib', 'dec', 'jpeg', 'ofa', 'starts'},
    ('A100-PCIE-40GB', '3g.20gb'): {'starts'},
    ('A100-SXM4-40GB', '1g.10gb'): {'memory_slices'},          # guide prints 1/8 [UNC]
    ('A30', '1g.6gb'): {'dec'},                                # guide 0 vs -lgip 1 [UNC]
    ('A30', '4g.24gb'): {'memory_mib'},                        # 23.44-23.69 GiB
    ('H100-PCIE-80GB', '3g.40gb'): {'sm', 'memory_mib', 'starts'},
    ('H100-PCIE-80GB', '7g.80gb'): {'sm', 'memory_mib', 'starts'},
    ('H200-141GB', '3g.71gb'): {'starts', 'enc'},
    ('GH200-96GB', '1g.12gb'): {'memory_mib', 'starts'},
    ('GH200-96GB', '1g.24gb'): {'memory_mib', 'starts'},
    ('GH200-96GB', '7g.96gb'): {'memory_mib', 'starts'},
    ('B200', '1g.23gb'): {'memory_mib', 'starts', 'enc'},      # 22.00 vs 20.50 GiB
    ('B200', '1g.23gb+me'): {'memory_mib', 'sm', 'starts'},
    ('B200', '1g.45gb'): {'ce', 'dec', 'jpeg', 'ofa', 'starts'},
    ('B200', '2g.45gb'): {'memory_mib', 'starts'},
    ('B200', '3g.90gb'): {'profile_id', 'sm', 'memory_mib', 'ce', 'dec', 'jpeg', 'ofa', 'starts'},
    ('B200', '4g.90gb'): {'profile_id', 'sm', 'memory_mib', 'starts'},
    ('B200', '7g.180gb'): {'profile_id', 'sm', 'memory_mib', 'starts'},
    ('GH200-96GB', None): {'min_driver', 'compute_capability', 'pci_device_ids', 'names', 'memory_mib', 'gi_profiles.nvml_enum'},
    ('A100-SXM4-40GB', None): {'memory_mib', 'gi_profiles.nvml_enum'},     # 40960 vs 40536 MiB
    ('A100-PCIE-40GB', None): {'pci_device_ids', 'names', 'memory_mib'},
    ('A100-SXM4-80GB', None): {'pci_device_ids', 'names', 'memory_mib', 'combination_min_drivers'},
    ('A30', None): {'gi_profiles.max_count', 'gi_profiles.enc', 'names', 'memory_mib'},
    ('H100-SXM5-80GB', None): {'pci_device_ids', 'memory_mib', 'gi_profiles.starts', 'gi_profiles.compute_profiles'},
    ('H100-NVL', None): {'names', 'memory_mib', 'gi_profiles.memory_mib'},
    ('H200-141GB', None): {'pci_device_ids', 'names', 'memory_mib'},
    ('RTX-PRO-6000-WS', None): {'pci_device_ids', 'names', 'memory_mib', 'min_vbios', 'gi_profiles.memory_mib', 'gi_profiles.profile_id'},
    ('RTX-PRO-6000-MAXQ', None): {'pci_device_ids', 'names', 'memory_mib', 'min_vbios', 'gi_profiles.memory_mib', 'gi_profiles.profile_id'},
    ('RTX-PRO-5000', None): {'pci_device_ids', 'names', 'memory_mib', 'memory_range_mib', 'min_vbios', 'compute_capability'},
    ('RTX-PRO-4500', None): {'pci_device_ids', 'names', 'memory_mib', 'min_vbios', 'compute_capability'},
    ('RTX-PRO-5000', '2g.48gb'): {'sm', 'profile_id', 'starts', 'memory_mib', 'ce', 'dec', 'enc', 'jpeg', 'ofa'},
    ('RTX-PRO-5000', '1g.24gb-me'): {'sm', 'profile_id', 'starts', 'memory_mib'},
    ('RTX-PRO-4500', '1g.16gb+gfx'): {'max_count', 'profile_id', 'starts'},
    ('RTX-PRO-4500', '1g.16gb-me'): {'max_count', 'profile_id', 'starts'},
    ('B200', None): {'names', 'memory_mib'},
    ('L40S', None): {'names', 'pci_device_ids', 'memory_mib', 'compute_capability'},
    ('V100-SXM2-32GB', None): {'names', 'pci_device_ids', 'memory_mib', 'compute_capability'},
}

# mig.md 4.3 "Verification per GPU": placements seen as real -lgipp output.
PLACEMENTS_VERIFIED = ('A100-SXM4-40GB', 'H100-SXM5-80GB', 'H100-NVL', 'A30', 'RTX-PRO-6000-SE')
PLACEMENTS_INFERRED = ('A100-PCIE-40GB', 'A100-SXM4-80GB', 'A100-PCIE-80GB', 'H100-PCIE-80GB', 'H200-141GB', 'GH200-96GB', 'B200',
                       'H100-SXM5-94GB', 'GH200-144G', 'H20', 'GB200', 'B300', 'GB300', 'RTX-PRO-6000-WS', 'RTX-PRO-6000-MAXQ',
                       'RTX-PRO-5000', 'RTX-PRO-4500')

NOTE_TAGS = ('[INF]', '[UNC]', '[UNVERIFIED]')


def _noted(notes):
    return {n.split(':', 1)[0] for n in notes}


def _profile_params():
    return [pytest.param(key, row, id='%s-%s' % (key, row[0])) for key, rows in sorted(PROFILES.items()) for row in rows]


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------

def test_model_keys_are_exactly_the_project_table():
    assert [m.key for m in _catalog.MODELS] == [
        'A100-SXM4-40GB', 'A100-PCIE-40GB', 'A100-SXM4-80GB', 'A100-PCIE-80GB', 'A30', 'H100-SXM5-80GB', 'H100-PCIE-80GB',
        'H100-NVL', 'H200-141GB', 'GH200-96GB', 'B200', 'H100-SXM5-94GB', 'GH200-144G', 'H20', 'GB200', 'B300', 'GB300',
        'RTX-PRO-6000-SE', 'RTX-PRO-6000-WS', 'RTX-PRO-6000-MAXQ', 'RTX-PRO-5000', 'RTX-PRO-4500', 'L40S', 'V100-SXM2-32GB']


def test_architecture_constants():
    assert (_catalog.ARCH_AMPERE, _catalog.ARCH_HOPPER, _catalog.ARCH_BLACKWELL, _catalog.ARCH_ADA, _catalog.ARCH_VOLTA) == (
        'ampere', 'hopper', 'blackwell', 'ada', 'volta')


@pytest.mark.parametrize('key', sorted(MODELS))
def test_model_identity(key):
    (names, ids, arch, nvml_arch, cc, memory, mig, mem_slices, compute_slices, max_devices, persistent, min_driver) = MODELS[key]
    model = _catalog.model_by_key(key)
    assert model.key == key
    assert model.names == names
    assert model.pci_device_ids == ids
    assert model.architecture == arch
    assert model.nvml_architecture == nvml_arch
    assert model.compute_capability == cc
    assert model.memory_mib == memory
    assert model.mig_capable is mig
    assert model.memory_slices == mem_slices
    assert model.compute_slices == compute_slices
    assert model.max_mig_devices == max_devices
    assert model.mode_persistent is persistent
    assert model.min_driver == min_driver


@pytest.mark.parametrize('key', sorted(k for k, v in MODELS.items() if not v[6]))
def test_non_mig_models_have_no_profiles(key):
    model = _catalog.model_by_key(key)
    assert model.mig_capable is False
    assert model.gi_profiles == ()
    assert model.profile_names == ()
    assert dict(model.name_aliases) == {}
    assert model.combination_min_drivers == ()
    assert model.driver_requirements() == ()
    with pytest.raises(_catalog.UnknownProfileError, match='not MIG capable'):
        model.profile('1g.5gb')
    with pytest.raises(_catalog.UnknownProfileError, match='not MIG capable'):
        model.resolve_profile('1g.5gb')
    with pytest.raises(_catalog.UnknownProfileError):
        model.profile_by_id(0)
    with pytest.raises(_catalog.UnknownProfileError):
        model.compute_profile('1g.5gb')


def test_model_by_key_unknown_lists_valid_keys():
    with pytest.raises(_catalog.UnknownModelError) as exc:
        _catalog.model_by_key('A100-SXM4-41GB')
    message = str(exc.value)
    assert 'A100-SXM4-41GB' in message
    assert 'A100-SXM4-40GB' in message and 'B200' in message and 'V100-SXM2-32GB' in message
    assert isinstance(exc.value, _catalog.CatalogError)
    assert isinstance(exc.value, LookupError)


def test_error_hierarchy():
    assert issubclass(_catalog.UnknownProfileError, _catalog.CatalogError)
    assert issubclass(_catalog.UnknownModelError, _catalog.CatalogError)
    assert issubclass(_catalog.CatalogError, Exception)


def test_catalog_is_immutable():
    model = _catalog.model_by_key('A100-SXM4-80GB')
    with pytest.raises(TypeError):
        model.name_aliases['x'] = 'y'   # pylint: disable=unsupported-assignment-operation
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.key = 'other'
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.gi_profiles[0].max_count = 8
    with pytest.raises(TypeError):
        _catalog.NVML_GPU_INSTANCE_PROFILE['1_SLICE'] = 1   # pylint: disable=unsupported-assignment-operation


# --------------------------------------------------------------------------------------------------
# GPU-instance profiles
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('key', sorted(PROFILES))
def test_profile_names_per_model(key):
    assert _catalog.model_by_key(key).profile_names == tuple(row[0] for row in PROFILES[key])


@pytest.mark.parametrize('key,row', _profile_params())
def test_profile_table(key, row):
    name, enum, profile_id, max_count, placements, sm, memory = row
    model = _catalog.model_by_key(key)
    profile = model.profile(name)
    assert profile.name == name
    assert profile.nvml_enum == enum
    assert profile.profile_id == profile_id
    assert profile.max_count == max_count
    assert profile.placements == placements
    assert profile.starts == tuple(p[0] for p in placements)
    assert profile.memory_slices == placements[0][1]
    assert profile.sm == sm
    assert profile.memory_mib == memory
    assert profile.compute_slices == int(name.split('g', 1)[0])
    assert model.profile_by_id(profile_id) is profile
    assert model.profile_by_enum(enum) is profile
    assert profile.min_driver == PROFILE_MIN_DRIVERS.get((key, name))


@pytest.mark.parametrize('key,name,engines', [
    pytest.param(key, name, engines, id='%s-%s' % (key, name)) for key, table in sorted(ENGINES.items()) for name, engines in table.items()])
def test_engine_counts(key, name, engines):
    profile = _catalog.model_by_key(key).profile(name)
    assert (profile.ce, profile.dec, profile.enc, profile.jpeg, profile.ofa) == engines


def test_a30_profile_id_quirks():
    a30 = _catalog.model_by_key('A30')
    assert a30.profile('1g.6gb').profile_id == 14
    assert a30.profile('1g.6gb+me').profile_id == 21
    assert a30.profile('2g.12gb').profile_id == 5
    assert a30.profile('2g.12gb+me').profile_id == 6
    assert a30.profile('4g.24gb').profile_id == 0
    # The same ids mean different profiles on an A100: resolution is per model (mig-parted#157).
    a100 = _catalog.model_by_key('A100-SXM4-40GB')
    assert a100.profile_by_id(14).name == '2g.10gb'
    assert a30.profile_by_id(14).name == '1g.6gb'
    assert a100.profile_by_id(5).name == '4g.20gb'
    assert a30.profile_by_id(5).name == '2g.12gb'
    assert a30.profile_by_enum(0x3).name == '4g.24gb'
    with pytest.raises(_catalog.UnknownProfileError):
        a30.profile_by_id(19)
    with pytest.raises(_catalog.UnknownProfileError):
        a30.profile_by_enum(0x2)


@pytest.mark.parametrize('key,name,slice_class,attribute', [
    ('A100-SXM4-40GB', '1g.5gb', '1g', ''),
    ('A100-SXM4-40GB', '1g.5gb+me', '1g+me', 'me'),
    ('A100-SXM4-40GB', '1g.10gb', '1g.2m', ''),
    ('A100-SXM4-40GB', '2g.10gb', '2g', ''),
    ('A100-SXM4-40GB', '3g.20gb', '3g', ''),
    ('A100-SXM4-40GB', '4g.20gb', '4g', ''),
    ('A100-SXM4-40GB', '7g.40gb', '7g', ''),
    ('A100-SXM4-80GB', '1g.20gb', '1g.2m', ''),
    ('A30', '2g.12gb+me', '2g+me', 'me'),
    ('A30', '4g.24gb', '4g', ''),
    ('B200', '1g.45gb', '1g.2m', ''),
])
def test_slice_class_and_attribute(key, name, slice_class, attribute):
    profile = _catalog.model_by_key(key).profile(name)
    assert profile.slice_class == slice_class
    assert profile.attribute == attribute


def test_unknown_profile_lists_valid_names():
    model = _catalog.model_by_key('A100-SXM4-80GB')
    with pytest.raises(_catalog.UnknownProfileError) as exc:
        model.profile('2g.10gb')   # the 40GB name on an 80GB card (mig-parted#18)
    message = str(exc.value)
    assert '2g.10gb' in message and 'A100-SXM4-80GB' in message
    for name in ('1g.10gb', '1g.10gb+me', '1g.20gb', '2g.20gb', '3g.40gb', '4g.40gb', '7g.80gb'):
        assert name in message
    with pytest.raises(_catalog.UnknownProfileError, match='99'):
        model.profile_by_id(99)
    with pytest.raises(_catalog.UnknownProfileError, match='A100-SXM4-80GB'):
        model.profile_by_enum(0x8)


@pytest.mark.parametrize('keys,counts', DEFAULT_CONFIG, ids=['-'.join(entry[0]) for entry in DEFAULT_CONFIG])
def test_default_mig_parted_config_fits(keys, counts):
    for key in keys:
        model = _catalog.model_by_key(key)
        for name, count in counts.items():
            assert model.profile(name).max_count >= count, (key, name)


@pytest.mark.parametrize('device_id,counts', BALANCED, ids=['0x%04X' % entry[0] for entry in BALANCED])
def test_default_balanced_configs_fit(device_id, counts):
    model = _catalog.find_model(pci_device_id=device_id)
    used_memory = used_compute = 0
    for name, count in counts.items():
        profile = model.profile(name)
        assert profile.max_count >= count
        used_memory += profile.memory_slices * count
        used_compute += profile.compute_slices * count
    assert used_memory <= model.memory_slices
    assert used_compute <= model.compute_slices


@pytest.mark.parametrize('group,count', [(FILTER_80GB, 7), (FILTER_40GB, 4)], ids=['80GB', '40GB'])
def test_all_1g_10gb_filter_groups(group, count):
    known = 0
    for device_id in group:
        model = _catalog.find_model(pci_device_id=device_id)
        if model is None:
            continue
        known += 1
        assert model.profile('1g.10gb').max_count == count, hex(device_id)
    assert known >= 4


# --------------------------------------------------------------------------------------------------
# Drifted names
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('key', ['A100-SXM4-80GB', 'A100-PCIE-80GB'])
def test_known_alias_3g_39gb(key):
    model = _catalog.model_by_key(key)
    assert dict(model.name_aliases) == {'3g.39gb': '3g.40gb'}
    profile, warning = model.resolve_profile('3g.39gb')
    assert profile.name == '3g.40gb'
    assert profile.profile_id == 9
    assert warning == ('MIG profile 3g.39gb is a documented driver name for 3g.40gb on %s (NVIDIA/mig-parted#31: drivers 535.x and '
                       '545.x named the A100 80GB 3g profile 3g.39gb; mig.md 4.6, 5.3); using 3g.40gb. Profile names are derived from '
                       'driver-reported memory.' % key)


def test_documented_drift_table():
    """Every row names catalog models, a catalog profile, a name the model does not offer and a source."""
    for keys, drifted, canonical, source in _catalog.DOCUMENTED_DRIFT:
        for key in keys:
            model = _catalog.model_by_key(key)
            assert canonical in model.profile_names and drifted not in model.profile_names
            assert model.name_aliases[drifted] == canonical
            assert _catalog.drift_source(key, drifted) == source
            assert _catalog.parse_profile_name(drifted)['gpu_slices'] == model.profile(canonical).compute_slices
        assert source
    aliases = dict((m.key, dict(m.name_aliases)) for m in _catalog.MODELS if m.name_aliases)
    assert aliases == {'A100-SXM4-80GB': {'3g.39gb': '3g.40gb'}, 'A100-PCIE-80GB': {'3g.39gb': '3g.40gb'}, 'GB200': {'1g.24gb': '1g.23gb'}}
    assert _catalog.drift_source('A100-SXM4-40GB', '3g.39gb') is None


# Names of the same slice class on another board, or drifts no source documents: refused, not adapted (issue 18 item 9).
# The GPU Operator's default config has labels without a device filter whose names belong to other boards.
@pytest.mark.parametrize('key,requested,same_class', [
    ('H200-141GB', '3g.72gb', '3g.71gb'),        # all-3g.72gb: a GH200 144G name
    ('H200-141GB', '7g.144gb', '7g.141gb'),      # all-7g.144gb: a GH200 144G name
    ('H200-141GB', '1g.36gb', '1g.18gb, 1g.35gb'),
    ('B200', '3g.93gb', '3g.90gb'),              # all-3g.93gb: a GB200 name
    ('B200', '1g.24gb', '1g.23gb, 1g.45gb'),     # GB200's early 1g name is documented for GB200, not for B200
    ('B200', '1g.24gb+me', '1g.23gb+me'),
    ('A100-SXM4-40GB', '3g.19gb', '3g.20gb'),
    ('H100-SXM5-80GB', '3g.39gb', '3g.40gb'),    # documented for the A100 80GB only
    ('H100-SXM5-80GB', '7g.79gb', '7g.80gb'),
    ('H100-NVL', '3g.48gb', '3g.47gb'),          # an H100 96GB (GH200) name
])
def test_names_of_other_boards_are_refused_naming_the_same_class(key, requested, same_class):
    model = _catalog.model_by_key(key)
    with pytest.raises(_catalog.UnknownProfileError) as exc:
        model.resolve_profile(requested)
    g = requested.split('g.', 1)[0]
    attribute = requested.partition('gb')[2]
    assert str(exc.value) == (
        "unknown MIG profile %r for GPU model %s; valid: %s (%s's %sg%s profile%s %s; names of other boards and undocumented renames "
        "are not adapted)"
        % (requested, key, ', '.join(model.profile_names), key, g, attribute, 's are' if ',' in same_class else ' is', same_class))
    assert model.unknown_profile_hint(requested) in str(exc.value)


@pytest.mark.parametrize('key,name', [('A30', '3g.12gb'), ('A100-SXM4-40GB', '3g.20gb+me'), ('A100-SXM4-40GB', '3g.20gb'),
                                      ('A100-SXM4-40GB', '1c.3g.20gb'), ('A100-SXM4-40GB', 'x'), ('L40S', '1g.5gb')])
def test_no_hint_without_a_profile_of_that_size(key, name):
    assert _catalog.model_by_key(key).unknown_profile_hint(name) is None


@pytest.mark.parametrize('key,name', [
    ('A100-SXM4-40GB', '3g.20gb'), ('A100-SXM4-80GB', '3g.40gb'), ('B200', '1g.23gb'), ('A30', '2g.12gb+me')])
def test_exact_names_resolve_without_warning(key, name):
    profile, warning = _catalog.model_by_key(key).resolve_profile(name)
    assert profile.name == name
    assert warning is None


@pytest.mark.parametrize('key,requested', [
    ('A100-SXM4-80GB', '2g.10gb'),      # 40GB name on an 80GB card: half the memory, not drift
    ('A100-SXM4-40GB', '3g.39gb'),      # 80GB name on a 40GB card
    ('H100-SXM5-80GB', '1g.12gb'),      # H100 NVL name on an H100 80GB
    ('H100-NVL', '1g.10gb'),
    ('A30', '1g.5gb'),                  # A100-40GB name on an A30
    ('A100-SXM4-40GB', '1g.6gb'),
    ('A100-SXM4-40GB', '3g.20gb+me'),   # attribute the model does not offer for 3g
    ('H100-NVL', '1g.10gb+me'),
    ('A30', '3g.12gb'),                 # no 3g on A30
    ('A100-SXM4-40GB', '1c.3g.20gb'),   # a compute-instance name
    ('A100-SXM4-40GB', 'all-1g.5gb'),   # a config label, not a profile
    ('A100-SXM4-40GB', ''),
    ('A100-SXM4-40GB', '1g.5gb\n'),     # '$' in the grammar used to match before a final newline
])
def test_resolve_refuses_other_names(key, requested):
    model = _catalog.model_by_key(key)
    with pytest.raises(_catalog.UnknownProfileError) as exc:
        model.resolve_profile(requested)
    message = str(exc.value)
    assert repr(requested) in message or requested in message
    assert key in message
    assert model.profile_names[0] in message and model.profile_names[-1] in message


def test_alias_targets_exist_and_aliases_are_not_real_names():
    for model in _catalog.MODELS:
        for alias, canonical in model.name_aliases.items():
            assert canonical in model.profile_names
            assert alias not in model.profile_names
            _catalog.parse_profile_name(alias)


# --------------------------------------------------------------------------------------------------
# Compute-instance profiles
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('key', ['A100-SXM4-40GB', 'A100-PCIE-40GB'])
@pytest.mark.parametrize('gi_name', sorted(A100_40GB_COMPUTE))
def test_a100_40gb_compute_profiles(key, gi_name):
    profile = _catalog.model_by_key(key).profile(gi_name)
    got = tuple((c.name, c.nvml_enum, c.max_count, c.is_default, c.sm) for c in profile.compute_profiles)
    assert got == A100_40GB_COMPUTE[gi_name]
    for compute in profile.compute_profiles:
        # profiles and SM counts observed; only the placements of partial CIs are uncertain (no real -lcipp seen)
        assert _noted(compute.notes) == (set() if compute.is_default else {'starts'}), compute


@pytest.mark.parametrize('key,gi_name', sorted(OTHER_COMPUTE))
def test_other_compute_profiles(key, gi_name):
    profile = _catalog.model_by_key(key).profile(gi_name)
    got = tuple((c.name, c.nvml_enum, c.max_count, c.is_default) for c in profile.compute_profiles)
    assert got == OTHER_COMPUTE[(key, gi_name)]
    for compute in profile.compute_profiles:
        if compute.slices < profile.compute_slices and key != 'A100-SXM4-40GB':
            assert 'max_count' in _noted(compute.notes)   # go-nvlib heuristic, not observed on this model


def test_compute_profile_sm_on_hopper_is_unknown_below_full_gi():
    profile = _catalog.model_by_key('H100-SXM5-80GB').profile('3g.40gb')
    assert [(c.name, c.sm) for c in profile.compute_profiles] == [('1c.3g.40gb', None), ('2c.3g.40gb', None), ('3g.40gb', 60)]
    assert 'sm' in _noted(profile.compute_profiles[0].notes)


@pytest.mark.parametrize('key,name,gi_name,slices,default', [
    ('A100-SXM4-40GB', '1c.3g.20gb', '3g.20gb', 1, False),
    ('A100-SXM4-40GB', '2c.3g.20gb', '3g.20gb', 2, False),
    ('A100-SXM4-40GB', '3g.20gb', '3g.20gb', 3, True),
    ('A100-SXM4-40GB', '3c.3g.20gb', '3g.20gb', 3, True),
    ('A100-SXM4-40GB', '4c.7g.40gb', '7g.40gb', 4, False),
    ('A100-SXM4-40GB', '1g.5gb+me', '1g.5gb+me', 1, True),
    ('A30', '1c.2g.12gb+me', '2g.12gb+me', 1, False),
])
def test_compute_profile_lookup(key, name, gi_name, slices, default):
    gi, ci = _catalog.model_by_key(key).compute_profile(name)
    assert gi.name == gi_name
    assert ci.slices == slices
    assert ci.is_default is default
    assert gi.default_compute_profile.name == gi_name


@pytest.mark.parametrize('name', ['5c.7g.40gb', '3c.2g.10gb', '1c.3g.40gb', '2c.2g.20gb', '1c.3g.19gb', 'bogus'])
def test_compute_profile_unknown(name):
    with pytest.raises(_catalog.UnknownProfileError) as exc:
        _catalog.model_by_key('A100-SXM4-40GB').compute_profile(name)
    assert 'A100-SXM4-40GB' in str(exc.value)
    assert '1c.3g.20gb' in str(exc.value)


# --------------------------------------------------------------------------------------------------
# find_model
# --------------------------------------------------------------------------------------------------

# A memory total inside the board's range, for the boards that share their PCI id with another (memory_range_mib).
BOARD_TOTAL_MIB = {'RTX-PRO-5000': 48 * 1024 - 1000}


@pytest.mark.parametrize('key', sorted(MODELS))
def test_find_model_by_ids_and_name(key):
    names, ids = MODELS[key][0], MODELS[key][1]
    memory = BOARD_TOTAL_MIB.get(key)
    for device_id in ids:
        assert _catalog.find_model(pci_device_id=device_id, memory_total_mib=memory).key == key
        assert _catalog.find_model(pci_device_id=(device_id << 16) | 0x10DE, memory_total_mib=memory).key == key
        assert _catalog.find_model(pci_device_id='0x%04X10DE' % device_id, memory_total_mib=memory).key == key
    for name in names:
        assert _catalog.find_model(name=name, memory_total_mib=memory).key == key
        assert _catalog.find_model(name=name.upper(), memory_total_mib=memory).key == key


@pytest.mark.parametrize('kwargs', [
    {},
    {'pci_device_id': 0x1234},
    {'pci_device_id': 0x20B01002},        # right device id, wrong vendor
    {'pci_device_id': 0x20B0 << 16},      # vendor 0
    {'pci_device_id': 'not-hex'},
    {'name': 'NVIDIA GeForce RTX 4090'},
    {'name': 'NVIDIA A100-SXM4-40GB MIG 1g.5gb'},
    {'pci_device_id': 0x20B6},            # PG506-96GB in the 96GB filter group: not catalogued
    {'pci_device_id': 0x232C},            # H20 HBM3e (141GB): its MIG profiles are in no NVIDIA config
    {'pci_device_id': 0x232C10DE, 'memory_total_mib': 143771},
    {'pci_device_id': 0x2BB2},            # RTX PRO 6000D (China variant): MIG data unknown
    {'pci_device_id': 0x2BBC},            # RTX PRO 6000D Max-Q
    {'pci_device_id': 0x2C3A},            # RTX PRO 4500 Server Edition: whether the guide's 4500 table covers it is unknown
    {'pci_device_id': 0x2BB3},            # RTX PRO 5000 48GB or 72GB: without the memory total it cannot be told
    {'pci_device_id': 0x2BB310DE, 'memory_total_mib': 73000},      # the 72GB board: no MIG profiles in any source
    {'name': 'NVIDIA RTX PRO 5000 Blackwell', 'memory_total_mib': 72 * 1024},
])
def test_find_model_unknown_returns_none(kwargs):
    assert _catalog.find_model(**kwargs) is None


def test_find_model_prefers_pci_id_and_falls_back_to_name():
    assert _catalog.find_model(pci_device_id=0x20B010DE, name='NVIDIA A30').key == 'A100-SXM4-40GB'
    assert _catalog.find_model(pci_device_id=0x9999, name='NVIDIA A30').key == 'A30'
    assert _catalog.find_model(name=b'NVIDIA H100 80GB HBM3').key == 'H100-SXM5-80GB'


# --------------------------------------------------------------------------------------------------
# Driver versions
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('text,expected', [
    ('550.54.15', (550, 54, 15)),
    ('550.120', (550, 120)),
    ('470.57.02', (470, 57, 2)),
    ('R470', (470,)),
    ('r535', (535,)),
    ('470', (470,)),
    (' 525.85.12\n', (525, 85, 12)),
    ((550, 54, 15), (550, 54, 15)),
])
def test_parse_driver_version(text, expected):
    assert _catalog.parse_driver_version(text) == expected


@pytest.mark.parametrize('text', ['', 'abc', '550.', '.550', '550..1', '5a0.1', 'R', 'R470.57', 'v550.54', '550 54', '550-54', None, 550.5, ()])
def test_parse_driver_version_bad(text):
    with pytest.raises(ValueError) as exc:
        _catalog.parse_driver_version(text)
    message = str(exc.value)
    assert repr(text) in message
    assert '550.54.15' in message   # the expected form is named


@pytest.mark.parametrize('version,minimum,expected', [
    ('450.80.02', '450.80.02', True),
    ('450.80.01', '450.80.02', False),
    ('450.80', '450.80.02', False),
    ('460.32.03', '460.73.01', False),
    ('470.57.02', '470', True),
    ('469.99', '470', False),
    ('525.60.13', '525.85.12', False),
    ('525.85.12', '525', True),
    ('550.54.15', '525.85.12', True),
    ('570.133.20', '570.133.20', True),
    ('570.124.06', '570.133.20', False),
    ('R525', '525.85.12', False),
    ('580.65.06', None, True),
    ((550, 54, 15), '550', True),
])
def test_driver_at_least(version, minimum, expected):
    assert _catalog.driver_at_least(version, minimum) is expected


def test_driver_at_least_bad_input():
    with pytest.raises(ValueError, match='garbage'):
        _catalog.driver_at_least('garbage', '470')
    with pytest.raises(ValueError, match='4x0'):
        _catalog.driver_at_least('470.1', '4x0')


@pytest.mark.parametrize('key,names,expected', [
    ('A100-SXM4-40GB', (), {('450.80.02', 'MIG on A100-SXM4-40GB')}),
    ('A100-SXM4-40GB', ('4g.20gb', '3g.20gb'), {('450.80.02', 'MIG on A100-SXM4-40GB'),
                                                ('510', 'profiles 4g + 3g together on one A100-SXM4-40GB')}),
    ('A100-SXM4-40GB', ('1g.10gb', '1g.5gb+me'), {('450.80.02', 'MIG on A100-SXM4-40GB'), ('525', 'profile 1g.10gb on A100-SXM4-40GB'),
                                                  ('470', 'profile 1g.5gb+me on A100-SXM4-40GB')}),
    ('A100-SXM4-80GB', ('3g.39gb', '4g.40gb'), {('450.80.02', 'MIG on A100-SXM4-80GB'),
                                                ('510', 'profiles 4g + 3g together on one A100-SXM4-80GB')}),
    ('A30', ('2g.12gb+me',), {('460.73.01', 'MIG on A30'), ('525', 'profile 2g.12gb+me on A30')}),
    ('H100-SXM5-80GB', ('4g.40gb', '3g.40gb'), {('525.85.12', 'MIG on H100-SXM5-80GB')}),
])
def test_driver_requirements(key, names, expected):
    assert set(_catalog.model_by_key(key).driver_requirements(names)) == expected


def test_combination_rules():
    for key in ('A100-SXM4-40GB', 'A100-PCIE-40GB', 'A100-SXM4-80GB', 'A100-PCIE-80GB'):
        assert _catalog.model_by_key(key).combination_min_drivers == ((('4g', '3g'), '510'),)
    for key in ('A30', 'H100-SXM5-80GB', 'H200-141GB', 'B200'):
        assert _catalog.model_by_key(key).combination_min_drivers == ()


# --------------------------------------------------------------------------------------------------
# Profile-name grammar
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('text,expected', [
    ('3g.20gb', (None, 3, 20, (), False)),
    ('1c.3g.20gb', (1, 3, 20, (), False)),
    ('1g.5gb+me', (None, 1, 5, ('me',), False)),
    ('1g.24gb+me.all', (None, 1, 24, ('me.all',), False)),
    ('1g.24gb+gfx', (None, 1, 24, ('gfx',), False)),
    ('1g.24gb+me,gfx', (None, 1, 24, ('me', 'gfx'), False)),
    ('1g.24gb-me', (None, 1, 24, ('me',), True)),
    ('7g.180gb', (None, 7, 180, (), False)),
    ('1c.2g.12gb+me', (1, 2, 12, ('me',), False)),
])
def test_parse_profile_name(text, expected):
    parsed = _catalog.parse_profile_name(text)
    assert (parsed['compute_slices'], parsed['gpu_slices'], parsed['memory_gb'], parsed['attributes'], parsed['negative']) == expected


@pytest.mark.parametrize('text', [
    '', '3g', '3g.20', '3g.20GB', 'g.20gb', '0g.5gb', '3g.0gb', '03g.20gb', '4c.3g.20gb', '1c.1c.3g.20gb', '3g.20gb+',
    '3g.20gb+me-me', '3g.20gb+foo', '3g.20gb-gfx', '3g.20gb+me,me', ' 3g.20gb', '3g.20gb ', '3g.20gb.me', 'MIG 1g.5gb', None, 3,
])
def test_parse_profile_name_bad(text):
    with pytest.raises(ValueError) as exc:
        _catalog.parse_profile_name(text)
    assert repr(text) in str(exc.value)


# --------------------------------------------------------------------------------------------------
# Notes: inferred / uncertain values are marked as data
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('key,name', sorted(MUST_BE_NOTED, key=lambda k: (k[0], k[1] or '')))
def test_inferred_values_carry_notes(key, name):
    model = _catalog.model_by_key(key)
    holder = model if name is None else model.profile(name)
    missing = MUST_BE_NOTED[(key, name)] - _noted(holder.notes)
    assert not missing, 'no note for %s on %s %s' % (sorted(missing), key, name or '')


@pytest.mark.parametrize('key', PLACEMENTS_INFERRED)
def test_inferred_placements_are_noted(key):
    for profile in _catalog.model_by_key(key).gi_profiles:
        assert 'starts' in _noted(profile.notes), profile.name


@pytest.mark.parametrize('key', PLACEMENTS_VERIFIED)
def test_verified_placements_are_not_marked_inferred(key):
    for profile in _catalog.model_by_key(key).gi_profiles:
        assert 'starts' not in _noted(profile.notes), profile.name


def test_verified_a100_40gb_profiles_carry_no_value_notes():
    model = _catalog.model_by_key('A100-SXM4-40GB')
    for profile in model.gi_profiles:
        assert _noted(profile.notes) <= {'memory_slices'}, profile.name


def test_unknown_values_are_noted():
    for model in _catalog.MODELS:
        for profile in model.gi_profiles:
            noted = _noted(profile.notes) | {n[len('gi_profiles.'):] for n in _noted(model.notes) if n.startswith('gi_profiles.')}
            for field in ('memory_mib', 'sm', 'ce', 'dec', 'enc', 'jpeg', 'ofa'):
                if getattr(profile, field) is None:
                    assert field in noted, (model.key, profile.name, field)
            for compute in profile.compute_profiles:
                if compute.sm is None:
                    assert 'sm' in _noted(compute.notes), (model.key, compute.name)


def test_note_format():
    holders = []
    for model in _catalog.MODELS:
        holders.append(model)
        for profile in model.gi_profiles:
            holders.append(profile)
            holders.extend(profile.compute_profiles)
    for holder in holders:
        assert isinstance(holder.notes, tuple)
        fields = {f.name for f in dataclasses.fields(holder)}
        if isinstance(holder, _catalog.GpuModel):
            fields |= {'gi_profiles.' + f.name for f in dataclasses.fields(_catalog.GpuInstanceProfile)}
        for note in holder.notes:
            field, _sep, rest = note.partition(': ')
            assert field in fields, note
            assert rest.split(' ', 1)[0] in NOTE_TAGS, note
            assert len(rest.split(' ', 1)[1]) > 10, note


def test_enum_pairing_is_marked_inferred_on_every_mig_model():
    for model in _catalog.MODELS:
        assert ('gi_profiles.nvml_enum' in _noted(model.notes)) is model.mig_capable


# --------------------------------------------------------------------------------------------------
# Internal consistency
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('key', MIG_MODELS)
def test_internal_consistency(key):
    model = _catalog.model_by_key(key)
    assert len(set(model.profile_names)) == len(model.gi_profiles)
    assert len({p.profile_id for p in model.gi_profiles}) == len(model.gi_profiles)
    assert len({p.nvml_enum for p in model.gi_profiles}) == len(model.gi_profiles)
    assert len({p.slice_class for p in model.gi_profiles}) == len(model.gi_profiles)
    assert model.profile_by_id(0).memory_slices == model.memory_slices   # id 0 is the whole board (nvml.md 5.3)
    assert set(_catalog.NVML_GPU_INSTANCE_PROFILE.values()) >= {p.nvml_enum for p in model.gi_profiles}
    for profile in model.gi_profiles:
        parsed = _catalog.parse_profile_name(profile.name)
        assert parsed['compute_slices'] is None
        assert parsed['gpu_slices'] == profile.compute_slices
        assert all(0 <= start and start + profile.memory_slices <= model.memory_slices for start in profile.starts)
        assert list(profile.starts) == sorted(set(profile.starts))
        assert len(profile.placements) >= profile.max_count
        assert profile.max_count * profile.memory_slices <= model.memory_slices
        assert profile.max_count * profile.compute_slices <= model.compute_slices
        if profile.memory_mib is not None and model.memory_mib is not None:
            assert profile.memory_mib <= model.memory_mib
        if profile.sm is not None:
            assert profile.sm > 0
        defaults = [c for c in profile.compute_profiles if c.is_default]
        assert len(defaults) == 1 and defaults[0].name == profile.name and defaults[0].slices == profile.compute_slices
        for compute in profile.compute_profiles:
            assert 1 <= compute.slices <= profile.compute_slices
            assert compute.max_count * compute.slices <= profile.compute_slices
            assert compute.nvml_enum in _catalog.NVML_COMPUTE_INSTANCE_PROFILE.values()
            if compute.slices < profile.compute_slices:
                assert compute.name == '%dc.%s' % (compute.slices, profile.name)
            else:
                assert compute.name == profile.name
            assert compute.starts and list(compute.starts) == sorted(set(compute.starts))
            assert all(start + compute.slices <= profile.compute_slices for start in compute.starts)
            assert len(compute.starts) >= compute.max_count
            if compute.sm is not None and profile.sm is not None:
                assert compute.sm <= profile.sm
    assert model.max_mig_devices == max(p.max_count for p in model.gi_profiles)
    if model.min_driver is not None:
        _catalog.parse_driver_version(model.min_driver)
    for profile in model.gi_profiles:
        if profile.min_driver is not None:
            # a profile minimum only makes sense above the model's own MIG minimum
            assert not _catalog.driver_at_least(model.min_driver, profile.min_driver), profile.name


def test_min_drivers_parse():
    for model in _catalog.MODELS:
        for version in [model.min_driver] + [p.min_driver for p in model.gi_profiles] + [m for _c, m in model.combination_min_drivers]:
            if version is not None:
                assert _catalog.parse_driver_version(version)


def test_nvml_enum_tables():
    gi = _catalog.NVML_GPU_INSTANCE_PROFILE
    assert (gi['1_SLICE'], gi['2_SLICE'], gi['3_SLICE'], gi['4_SLICE'], gi['7_SLICE'], gi['8_SLICE'], gi['6_SLICE']) == (0, 1, 2, 3, 4, 5, 6)
    assert (gi['1_SLICE_REV1'], gi['2_SLICE_REV1'], gi['1_SLICE_REV2']) == (7, 8, 9)
    assert (gi['1_SLICE_GFX'], gi['1_SLICE_NO_ME'], gi['1_SLICE_ALL_ME'], gi['3_SLICE_GFX']) == (0xA, 0xD, 0xF, 0x11)
    ci = _catalog.NVML_COMPUTE_INSTANCE_PROFILE
    assert (ci['1_SLICE'], ci['2_SLICE'], ci['3_SLICE'], ci['4_SLICE'], ci['7_SLICE'], ci['1_SLICE_REV1'], ci['7_SLICE_NVL']) == (0, 1, 2, 3, 4, 7, 8)


def _only_builtins(value):
    if isinstance(value, dict):
        return value.__class__ is dict and all(isinstance(k, str) and _only_builtins(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_only_builtins(v) for v in value)
    return value is None or value.__class__ in (str, int, float, bool)


@pytest.mark.parametrize('key', sorted(MODELS))
def test_to_dict_is_json_friendly(key):
    model = _catalog.model_by_key(key)
    data = model.to_dict()
    assert _only_builtins(data)
    assert json.loads(json.dumps(data)) == data
    assert data['key'] == key
    assert [p['name'] for p in data['gi_profiles']] == [row[0] for row in PROFILES.get(key, ())]
    hash(model)   # usable as a dict key / in sets


def test_to_dict_content():
    data = _catalog.model_by_key('A100-SXM4-80GB').to_dict()
    assert data['name_aliases'] == {'3g.39gb': '3g.40gb'}
    assert data['combination_min_drivers'] == [[['4g', '3g'], '510']]
    profile = data['gi_profiles'][4]
    assert (profile['name'], profile['slice_class'], profile['attribute'], profile['placements']) == ('3g.40gb', '3g', '', [[0, 4], [4, 4]])
    assert [c['name'] for c in profile['compute_profiles']] == ['1c.3g.40gb', '2c.3g.40gb', '3g.40gb']


def test_driver_requirements_are_not_repeated():
    requirements = _catalog.model_by_key('A100-SXM4-40GB').driver_requirements(['1g.10gb', '1g.10gb', '1g.5gb'])
    assert requirements == (('450.80.02', 'MIG on A100-SXM4-40GB'), ('525', 'profile 1g.10gb on A100-SXM4-40GB'))


# --------------------------------------------------------------------------------------------------
# Compute-instance placements (D2), Hopper REV1 compute profiles (D3), media engines (D1)
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('key', [m.key for m in _catalog.MODELS if m.mig_capable])
def test_ci_placements_come_from_one_table(key):
    """Every GI of G compute slices has the same CI starts on every model; 3c in a 7-slice GI at 0 and 4 (not 0 and 3)."""
    for profile in _catalog.model_by_key(key).gi_profiles:
        starts = dict((c.slices, c.starts) for c in profile.compute_profiles)
        expected = {
            1: {1: (0,)},
            2: {1: (0, 1), 2: (0,)},
            3: {1: (0, 1, 2), 2: (0,), 3: (0,)},
            4: {1: (0, 1, 2, 3), 2: (0, 2), 4: (0,)},
            7: {1: (0, 1, 2, 3, 4, 5, 6), 2: (0, 2, 4), 3: (0, 4), 4: (0,), 7: (0,)},
        }[profile.compute_slices]
        assert starts == expected, profile.name
        for compute in profile.compute_profiles:
            # every partial-CI placement is uncertain (no real -lcipp seen) and says so
            if compute.slices < profile.compute_slices:
                assert 'starts' in _noted(compute.notes), compute.name


@pytest.mark.parametrize('key, gi_name, rev1_sm, plain_sm', [
    ('H100-SXM5-80GB', '1g.20gb', 26, 16),
    ('H100-NVL', '1g.24gb', 26, 16),
    ('H200-141GB', '1g.35gb', 26, 16),
    ('GH200-96GB', '1g.24gb', 26, 16),
    ('H100-PCIE-80GB', '1g.20gb', None, None),
])
def test_hopper_double_memory_gi_defaults_to_the_rev1_compute_profile(key, gi_name, rev1_sm, plain_sm):
    profile = _catalog.model_by_key(key).profile(gi_name)
    default = profile.default_compute_profile
    assert default.nvml_enum == _catalog.NVML_COMPUTE_INSTANCE_PROFILE['1_SLICE_REV1']
    assert default.sm == profile.sm == rev1_sm
    plain = [c for c in profile.compute_profiles if not c.is_default]
    assert [(c.nvml_enum, c.sm) for c in plain] == [(0, plain_sm)]
    assert all(_catalog.NOTE_UNCERTAIN in ' '.join(c.notes) for c in profile.compute_profiles)   # D3 is uncertain
    assert profile.compute_profile_names == (gi_name,)
    assert _catalog.model_by_key(key).compute_profile(gi_name) == (profile, default)


@pytest.mark.parametrize('key, names, problem', [
    ('A30', ['1g.6gb+me', '2g.12gb+me'], 'GPU instances 1g.6gb+me + 2g.12gb+me need 2 JPEG and 2 OFA; A30 has 1 JPEG and 1 OFA'),
    ('A30', ['1g.6gb+me', '1g.6gb+me'], '2 instances of 1g.6gb+me requested; at most 1 fit on A30'),
    ('A100-SXM4-40GB', ['4g.20gb', '4g.20gb'], '2 instances of 4g.20gb requested; at most 1 fit on A100-SXM4-40GB'),
])
def test_instance_problems(key, names, problem):
    problems = _catalog.model_by_key(key).instance_problems(names)
    assert len(problems) == 1 and problems[0].startswith(problem)


@pytest.mark.parametrize('key, names', [
    ('A30', ['1g.6gb+me', '1g.6gb', '2g.12gb']),
    ('A30', ['2g.12gb+me', '2g.12gb']),
    ('A100-SXM4-40GB', ['1g.5gb+me'] + ['1g.5gb'] * 6),
    ('H100-SXM5-80GB', ['1g.10gb+me'] + ['1g.10gb'] * 6),   # each Hopper GI holds JPEGs, as many as the 7g has in all
    ('H100-SXM5-80GB', ['4g.40gb', '3g.40gb']),
    ('B200', ['1g.23gb+me', '1g.23gb']),                   # 7g engines unknown: nothing to check against
])
def test_instance_problems_accepts_what_fits(key, names):
    assert _catalog.model_by_key(key).instance_problems(names) == []


def test_memory_is_nvml_mib_where_known_else_noted():
    """D5/item 5: NVML's memorySizeMB (go-nvml dgxa100 mock) for the A100-40GB; -lgip-derived figures carry a note."""
    a100 = _catalog.model_by_key('A100-SXM4-40GB')
    assert [p.memory_mib for p in a100.gi_profiles] == [4864, 4864, 9856, 9856, 19968, 19968, 40192]
    assert all('memory_mib' not in _noted(p.notes) for p in a100.gi_profiles)
    for model in _catalog.MODELS:
        if model.key in ('A100-SXM4-40GB', 'A100-PCIE-40GB'):
            continue
        for profile in model.gi_profiles:
            assert 'memory_mib' in _noted(profile.notes), (model.key, profile.name)


# --------------------------------------------------------------------------------------------------
# Issue 18 item 8: models of NVIDIA's default configs
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name,parsed', [
    ('1g.24gb+gfx', {'compute_slices': None, 'gpu_slices': 1, 'memory_gb': 24, 'attributes': ('gfx',), 'negative': False}),
    ('2g.48gb+me.all', {'compute_slices': None, 'gpu_slices': 2, 'memory_gb': 48, 'attributes': ('me.all',), 'negative': False}),
    ('1g.24gb-me', {'compute_slices': None, 'gpu_slices': 1, 'memory_gb': 24, 'attributes': ('me',), 'negative': True}),
    ('1c.4g.96gb+gfx', {'compute_slices': 1, 'gpu_slices': 4, 'memory_gb': 96, 'attributes': ('gfx',), 'negative': False}),
])
def test_rtx_pro_profile_names_parse(name, parsed):
    assert _catalog.parse_profile_name(name) == parsed


def test_rtx_pro_6000_geometry():
    model = _catalog.model_by_key('RTX-PRO-6000-SE')
    assert (model.compute_slices, model.memory_slices, model.max_mig_devices, model.mode_persistent) == (4, 12, 4, False)
    assert [(p.name, p.slice_class, p.attribute) for p in model.gi_profiles] == [
        ('1g.24gb', '1g', ''), ('1g.24gb+me', '1g+me', 'me'), ('1g.24gb+gfx', '1g+gfx', 'gfx'),
        ('1g.24gb+me.all', '1g+me.all', 'me.all'), ('1g.24gb-me', '1g-me', '-me'),
        ('2g.48gb', '2g', ''), ('2g.48gb+gfx', '2g+gfx', 'gfx'), ('2g.48gb+me.all', '2g+me.all', 'me.all'), ('2g.48gb-me', '2g-me', '-me'),
        ('4g.96gb', '4g', ''), ('4g.96gb+gfx', '4g+gfx', 'gfx')]
    assert model.profile_by_id(65).name == '1g.24gb+me.all'
    assert model.profile_by_enum(_catalog.NVML_GPU_INSTANCE_PROFILE['2_SLICE_NO_ME']).name == '2g.48gb-me'
    assert model.compute_profile('1c.4g.96gb+gfx')[1].slices == 1
    assert model.compute_profile('2c.4g.96gb')[1].starts == (0, 2)


@pytest.mark.parametrize('names,problem', [
    (['1g.24gb+me.all'] + ['1g.24gb-me'] * 3, None),          # +me.all leaves only the -me profiles (nvml.md 4.2)
    (['4g.96gb+gfx'], None),
    (['1g.24gb'] * 4, None),
    (['1g.24gb+me', '2g.48gb', '1g.24gb'], None),
    (['1g.24gb+me.all', '1g.24gb'], 'need 5 JPEG'),
    (['2g.48gb+me.all', '1g.24gb+me'], 'need 5 JPEG and 2 OFA'),
    (['1g.24gb+me.all'] * 2, 'at most 1'),
])
def test_rtx_pro_6000_media_engines(names, problem):
    problems = _catalog.model_by_key('RTX-PRO-6000-SE').instance_problems(names)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems


@pytest.mark.parametrize('device_id,key', [
    (0x2941, 'GB200'), (0x31C2, 'GB300'), (0x3182, 'B300'), (0x2348, 'GH200-144G'), (0x2329, 'H20'), (0x2339, 'H100-SXM5-94GB'),
    (0x2BB5, 'RTX-PRO-6000-SE'), (0x2324, 'H100-SXM5-80GB'), (0x2322, 'H100-PCIE-80GB'), (0x233A, 'H100-NVL'),
    (0x20F3, 'A100-SXM4-80GB'), (0x20F5, 'A100-PCIE-80GB'),
    (0x2BB1, 'RTX-PRO-6000-WS'), (0x2BB4, 'RTX-PRO-6000-MAXQ'), (0x2C31, 'RTX-PRO-4500'),
])
def test_new_ids_find_their_model(device_id, key):
    assert _catalog.find_model(pci_device_id=(device_id << 16) | 0x10DE).key == key


def test_gb200_early_board_name_resolves_with_its_source():
    model = _catalog.model_by_key('GB200')
    profile, warning = model.resolve_profile('1g.24gb')
    assert profile.name == '1g.23gb' and profile.profile_id == 19
    assert 'NVIDIA/mig-parted#227' in warning
    # not on B200, whose 1g profile has the same name: the drift is documented for GB200 boards only
    with pytest.raises(_catalog.UnknownProfileError):
        _catalog.model_by_key('B200').resolve_profile('1g.24gb')


@pytest.mark.parametrize('key', ['GB200', 'GB300', 'B300', 'GH200-144G', 'H20', 'H100-SXM5-94GB'])
def test_unknown_figures_of_the_new_models_are_noted(key):
    model = _catalog.model_by_key(key)
    for profile in model.gi_profiles:
        unknown = {f for f in ('memory_mib', 'sm', 'ce', 'dec', 'enc', 'jpeg', 'ofa') if getattr(profile, f) is None}
        assert unknown <= _noted(profile.notes), (profile.name, unknown - _noted(profile.notes))
    if model.memory_mib is None:
        assert 'memory_mib' in _noted(model.notes)


# --------------------------------------------------------------------------------------------------
# RTX PRO Blackwell boards beyond the Server Edition (issue 18 item 8; mig.md 4.10, 5.1; ids from the public PCI id list)
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('key', ['RTX-PRO-6000-WS', 'RTX-PRO-6000-MAXQ'])
def test_rtx_pro_6000_editions_share_the_server_edition_table(key):
    server, model = _catalog.model_by_key('RTX-PRO-6000-SE'), _catalog.model_by_key(key)
    fields = ('name', 'nvml_enum', 'profile_id', 'starts', 'memory_slices', 'max_count', 'memory_mib', 'sm', 'ce', 'dec', 'enc', 'jpeg', 'ofa')
    assert [[getattr(p, f) for f in fields] for p in model.gi_profiles] == [[getattr(p, f) for f in fields] for p in server.gi_profiles]
    # the placements were seen on the Server Edition only
    assert all('starts' in _noted(p.notes) for p in model.gi_profiles)


@pytest.mark.parametrize('key,one_g,two_g', [('RTX-PRO-5000', '1g.24gb', '2g.48gb'), ('RTX-PRO-4500', '1g.16gb', '2g.32gb')])
def test_two_slice_boards_fit_two_1g_or_one_2g(key, one_g, two_g):
    model = _catalog.model_by_key(key)
    assert (model.memory_slices, model.compute_slices, model.max_mig_devices) == (6, 2, 2)
    assert model.instance_problems([one_g, one_g]) == []
    assert model.instance_problems([one_g + '-me', one_g + '+gfx']) == []
    assert model.instance_problems([two_g]) == []
    assert model.instance_problems([one_g] * 3) == ['3 instances of %s requested; at most 2 fit on %s' % (one_g, key)]
    assert model.instance_problems([one_g + '+me.all'] * 2) == ['2 instances of %s+me.all requested; at most 1 fit on %s' % (one_g, key)]
    # the 1g placements tile the board, the 2g takes all of it: no 2g beside a 1g
    assert {p.placements for p in model.gi_profiles if p.compute_slices == 1} == {((0, 3), (3, 3))}
    assert {p.placements for p in model.gi_profiles if p.compute_slices == 2} == {((0, 6),)}
    assert model.profile_by_id(0).name == two_g   # id 0 is the whole board (nvml.md 5.3)


@pytest.mark.parametrize('key,name,slice_class', [
    ('RTX-PRO-5000', '1g.24gb-me', '1g-me'), ('RTX-PRO-5000', '1g.24gb+gfx', '1g+gfx'), ('RTX-PRO-5000', '1g.24gb+me.all', '1g+me.all'),
    ('RTX-PRO-5000', '1g.24gb+me', '1g+me'), ('RTX-PRO-5000', '2g.48gb+gfx', '2g+gfx'),
    ('RTX-PRO-4500', '1g.16gb-me', '1g-me'), ('RTX-PRO-4500', '1g.16gb+gfx', '1g+gfx'), ('RTX-PRO-4500', '1g.16gb+me.all', '1g+me.all'),
    ('RTX-PRO-4500', '2g.32gb+gfx', '2g+gfx'),
])
def test_two_slice_attribute_names_resolve(key, name, slice_class):
    profile, warning = _catalog.model_by_key(key).resolve_profile(name)
    assert (profile.name, profile.slice_class, warning) == (name, slice_class, None)


@pytest.mark.parametrize('key,name', [
    ('RTX-PRO-4500', '1g.16gb+me'),        # the guide lists no +me profile for the RTX PRO 4500
    ('RTX-PRO-5000', '2g.48gb-me'),        # nor -me / +me.all 2g profiles on the 2-slice boards
    ('RTX-PRO-5000', '2g.48gb+me.all'),
    ('RTX-PRO-5000', '4g.96gb'),           # an RTX PRO 6000 name
    ('RTX-PRO-5000', '1g.16gb'),           # an RTX PRO 4500 name
])
def test_two_slice_boards_refuse_names_they_do_not_offer(key, name):
    with pytest.raises(_catalog.UnknownProfileError, match=re.escape(repr(name))):
        _catalog.model_by_key(key).resolve_profile(name)


def test_rtx_pro_5000_id_is_told_apart_by_the_memory_total():
    # 0x2BB3 is both the 48GB and the 72GB RTX PRO 5000 (pci.ids); only the 48GB board's profiles are known.
    for memory in (40 * 1024, 46068, 48 * 1024, 60 * 1024 - 1):
        assert _catalog.find_model(pci_device_id=0x2BB310DE, memory_total_mib=memory).key == 'RTX-PRO-5000'
        assert _catalog.unknown_model_hint(0x2BB310DE, 'NVIDIA RTX PRO 5000 Blackwell', memory) is None
    for memory in (None, 40 * 1024 - 1, 60 * 1024, 72 * 1024, 73000):
        assert _catalog.find_model(pci_device_id=0x2BB310DE, name='NVIDIA RTX PRO 5000 Blackwell', memory_total_mib=memory) is None
    hint = _catalog.unknown_model_hint(0x2BB310DE, 'NVIDIA RTX PRO 5000 72GB Blackwell', 73000)
    assert hint == ('PCI id 0x2BB3 is catalogued as RTX-PRO-5000 only for a memory total of 40960 to 61439 MiB; this GPU reports 73000 MiB, '
                    'so it is another board with the same id, whose MIG profiles are not in the catalog')
    assert 'no memory total' in _catalog.unknown_model_hint(pci_device_id=0x2BB3)
    # boards whose PCI id identifies them need no memory total, and get no hint
    assert _catalog.find_model(pci_device_id=0x2BB510DE).key == 'RTX-PRO-6000-SE'
    assert _catalog.find_model(pci_device_id=0x2BB510DE, memory_total_mib=1).key == 'RTX-PRO-6000-SE'
    assert _catalog.unknown_model_hint(pci_device_id=0x232C10DE, memory_total_mib=143771) is None
    assert _catalog.model_by_key('RTX-PRO-5000').to_dict()['memory_range_mib'] == [40960, 61440]
    assert [m.key for m in _catalog.MODELS if m.memory_range_mib is not None] == ['RTX-PRO-5000']


def test_minimum_vbios_of_the_workstation_boards():
    # mig.md 4.10: the MIG guide's minimum vBIOS for Workstation / Max-Q / 5000 boards; none for the others.
    assert dict((m.key, m.min_vbios) for m in _catalog.MODELS if m.min_vbios is not None) == {
        'RTX-PRO-6000-WS': '98.02.55.00.00', 'RTX-PRO-6000-MAXQ': '98.02.6A.00.00', 'RTX-PRO-5000': '98.02.73.00.00'}


def test_rtx_pro_minimum_drivers():
    # mig.md 5.1: 6000 (all editions) R575 >= 575.51.03, 5000 >= 575.57.08, 4500 >= 575.64
    assert _catalog.model_by_key('RTX-PRO-5000').driver_requirements(['2g.48gb']) == (('575.57.08', 'MIG on RTX-PRO-5000'),)
    assert not _catalog.driver_at_least('575.57.07', _catalog.model_by_key('RTX-PRO-5000').min_driver)
    assert _catalog.driver_at_least('575.64.05', _catalog.model_by_key('RTX-PRO-4500').min_driver)
    assert not _catalog.driver_at_least('575.57.08', _catalog.model_by_key('RTX-PRO-4500').min_driver)


@pytest.mark.parametrize('text, parsed', [
    ('98.02.6A.00.00', (0x98, 0x02, 0x6A, 0x00, 0x00)),
    ('98.02.6a.00.00', (0x98, 0x02, 0x6A, 0x00, 0x00)),
    (b'98.02.55.00.00', (0x98, 0x02, 0x55, 0x00, 0x00)),
    (' 96.00.5E.00.01 ', (0x96, 0x00, 0x5E, 0x00, 0x01)),
])
def test_parse_vbios_version_reads_hex_fields(text, parsed):
    assert _catalog.parse_vbios_version(text) == parsed


@pytest.mark.parametrize('text', ['', '98.02.6G.00.00', '98..02', '98.02.', None, 98, '98.02.12345.00'])
def test_parse_vbios_version_names_the_bad_text(text):
    with pytest.raises(ValueError, match='invalid vBIOS version %s: expected dot-separated hexadecimal fields' % re.escape(repr(text))):
        _catalog.parse_vbios_version(text)


def test_vbios_at_least_compares_field_by_field_as_hex():
    assert _catalog.vbios_at_least('98.02.6A.00.00', '98.02.55.00.00')
    assert not _catalog.vbios_at_least('98.02.0A.00.00', '98.02.6A.00.00')
    assert not _catalog.vbios_at_least('98.2.0.0.0', '98.02.6A.00.00')         # after it as text, before it as numbers
    assert _catalog.vbios_at_least('98.02.6b.00.00', '98.02.6A.00.00')         # lower-case hex
    assert _catalog.vbios_at_least('98.02.A0.00.00', '98.02.9F.00.00')
    assert not _catalog.vbios_at_least('98.2.6A.0.0', '98.02.6B.00.00')        # the same numbers without leading zeros
    assert not _catalog.vbios_at_least('98.02.72.FF.FF', '98.02.73.00.00')
    assert _catalog.vbios_at_least('98.02.73.00.00', '98.02.73.00.00')
    assert _catalog.vbios_at_least('anything', None) is True
