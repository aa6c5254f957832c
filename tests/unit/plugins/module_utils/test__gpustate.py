# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import (
    ComputeInstance,
    GpuInstance,
    GpuState,
    layout_of,
    mig_parted_config,
)

A100 = 0x20B010DE
A30 = 0x20B710DE


def gpu(index, pci=A100, mig=True, instances=(), capable=True):
    return GpuState(index=index, uuid='GPU-%d' % index, name='gpu', pci_bus_id='00000000:%02X:00.0' % index,
                    pci_device_id=pci, pci_subsystem_id=0, memory_total_mib=40960, architecture=7,
                    compute_capability=(8, 0), mig_capable=capable, mig_current=mig if capable else None,
                    mig_pending=mig if capable else None, gpu_instances=tuple(instances))


def gi(gi_id, profile, start, size, slices, cis):
    return GpuInstance(id=gi_id, profile=profile, profile_id=0, start=start, size=size, compute_slices=slices,
                       compute_instances=tuple(ComputeInstance(id=i, profile=p, profile_id=0, start=s, size=z)
                                               for i, (p, s, z) in enumerate(cis)))


BALANCED = (
    gi(2, '3g.20gb', 4, 4, 3, [('3g.20gb', 0, 3)]),
    gi(7, '1g.5gb', 0, 1, 1, [('1g.5gb', 0, 1)]),
    gi(8, '1g.5gb', 1, 1, 1, [('1g.5gb', 0, 1)]),
    gi(4, '2g.10gb', 2, 2, 2, [('2g.10gb', 0, 2)]),
)


def test_layout_counts_full_cis_by_gi_profile_and_orders_placements():
    layout = layout_of(gpu(0, instances=BALANCED))
    assert layout == {
        'mig-enabled': True,
        'mig-devices': {'1g.5gb': 2, '2g.10gb': 1, '3g.20gb': 1},
        'placements': [
            {'profile': '1g.5gb', 'start': 0, 'compute_instances': ['1g.5gb']},
            {'profile': '1g.5gb', 'start': 1, 'compute_instances': ['1g.5gb']},
            {'profile': '2g.10gb', 'start': 2, 'compute_instances': ['2g.10gb']},
            {'profile': '3g.20gb', 'start': 4, 'compute_instances': ['3g.20gb']},
        ],
    }


def test_layout_counts_split_cis_and_keeps_empty_gis_in_placements_only():
    split = gi(1, '3g.20gb', 0, 4, 3, [('1c.3g.20gb', 2, 1), ('1c.3g.20gb', 0, 1), ('2c.3g.20gb', 1, 2)])
    empty = gi(2, '3g.20gb', 4, 4, 3, [])
    layout = layout_of(gpu(0, instances=[empty, split]))
    assert layout['mig-devices'] == {'1c.3g.20gb': 2, '2c.3g.20gb': 1}
    assert layout['placements'] == [
        {'profile': '3g.20gb', 'start': 0, 'compute_instances': ['1c.3g.20gb', '2c.3g.20gb', '1c.3g.20gb']},
        {'profile': '3g.20gb', 'start': 4, 'compute_instances': []},
    ]


def test_layout_of_non_mig_gpu_is_none():
    assert layout_of(gpu(0, capable=False)) is None


def test_export_merges_identical_gpus_into_all():
    gpus = [gpu(i, instances=BALANCED) for i in range(3)]
    assert mig_parted_config(gpus) == {'version': 'v1', 'mig-configs': {'current': [
        {'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.5gb': 2, '2g.10gb': 1, '3g.20gb': 1}},
    ]}}


def test_export_lists_indices_and_filters_for_mixed_nodes():
    gpus = [gpu(0, instances=BALANCED), gpu(1, mig=False), gpu(2, pci=A30, mig=False), gpu(3, capable=False)]
    assert mig_parted_config(gpus, 'node-a') == {'version': 'v1', 'mig-configs': {'node-a': [
        {'device-filter': '0x20B010DE', 'devices': [0], 'mig-enabled': True,
         'mig-devices': {'1g.5gb': 2, '2g.10gb': 1, '3g.20gb': 1}},
        {'device-filter': '0x20B010DE', 'devices': [1], 'mig-enabled': False},
        {'device-filter': '0x20B710DE', 'devices': [2], 'mig-enabled': False},
    ]}}


def test_to_dict_reports_pending_change():
    state = GpuState(index=0, uuid='GPU-0', name='x', pci_bus_id='b', pci_device_id=A100, pci_subsystem_id=0x134F10DE,
                     memory_total_mib=1, architecture=7, compute_capability=(8, 0), mig_capable=True,
                     mig_current=False, mig_pending=True)
    data = state.to_dict()
    assert data['mig_mode'] == {'current': False, 'pending': True, 'change_pending': True}
    assert data['pci_device_id'] == '0x20B010DE'
    assert data['pci_subsystem_id'] == '0x134F10DE'
    assert data['compute_capability'] == '8.0'
