# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The checkpoint writer and its staleness check agree: what is stale is what write_checkpoint would write."""

from __future__ import annotations

import dataclasses

from ansible_collections.gpufleet.mig.plugins.module_utils._checkpoint import checkpoint_content, checkpoint_stale, write_checkpoint
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import ComputeInstance, GpuInstance, GpuState, HostState


def node(mig=True, instances=()):
    gpu = GpuState(index=0, uuid='GPU-00000000-0000-0000-0000-000000000001', name='NVIDIA A100-SXM4-40GB', pci_bus_id='00000000:07:00.0',
                   pci_device_id=0x20B010DE, pci_subsystem_id=0x134F10DE, memory_total_mib=40960, architecture=7,
                   compute_capability=(8, 0), mig_capable=True, mig_current=mig, mig_pending=mig, gpu_instances=tuple(instances),
                   model='A100-SXM4-40GB')
    return HostState(driver_version='550.54.15', cuda_driver_version='12.4', nvml_version='12.550.54.15', gpus=(gpu,))


def gi(start):
    return GpuInstance(id=start + 1, profile='3g.20gb', profile_id=9, start=start, size=4, compute_slices=3,
                       compute_instances=(ComputeInstance(id=0, profile='3g.20gb', profile_id=2, start=0, size=3),))


def test_missing_checkpoint_is_stale_and_written(tmp_path):
    path = str(tmp_path / 'checkpoint.json')
    state = node(instances=[gi(0), gi(4)])
    assert checkpoint_stale(state, path)
    assert write_checkpoint(state, path)
    assert not checkpoint_stale(state, path)
    assert not write_checkpoint(state, path)


def test_another_layout_is_stale(tmp_path):
    path = str(tmp_path / 'checkpoint.json')
    write_checkpoint(node(instances=[gi(0), gi(4)]), path)
    changed = node(instances=[gi(4)])
    assert checkpoint_stale(changed, path)
    assert write_checkpoint(changed, path)
    with open(path) as handle:
        assert handle.read() == checkpoint_content(changed)


def test_mig_off_everywhere_still_needs_its_checkpoint(tmp_path):
    # The boot-time restore fails on a missing checkpoint, so a node without MIG has one too (it restores nothing).
    path = str(tmp_path / 'checkpoint.json')
    off = node(mig=False)
    assert checkpoint_stale(off, path)
    write_checkpoint(off, path)
    assert not checkpoint_stale(dataclasses.replace(off, driver_version='550.54.15'), path)
    assert checkpoint_stale(dataclasses.replace(off, driver_version='560.35.03'), path)
