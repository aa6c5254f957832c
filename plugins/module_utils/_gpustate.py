# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What a host's GPUs look like right now, as plain data.

A :class:`HostState` is the driver and GPUs of one machine as NVML reads them; it is never a Kubernetes Node
(those are the API objects of ``_k8s``), though on a GPU node the two describe the same machine.

The NVML adapter fills these objects; modules, the planner and filters read them.  Nothing
here imports pynvml, so the shapes can be built and tested anywhere.

The ``layout`` of a GPU uses the keys of a mig-parted ``version: v1`` config entry
(``mig-enabled``, ``mig-devices``) so that an exported layout can be pasted into an existing
mig-parted config file, plus one extension, ``placements``, which records where each GPU
instance sits and which compute instances it holds.  mig-parted counts a GPU instance in
``mig-devices`` by its compute instances: a GI with one full-size CI counts as the GI profile
(``3g.20gb``), a GI split into smaller CIs counts each CI (``1c.3g.20gb``).  A GI without any
CI is no MIG device at all, so it appears only under ``placements``.
"""

from __future__ import annotations

import dataclasses
import typing as t

__all__ = (
    'ComputeInstance',
    'GpuInstance',
    'GpuProcess',
    'GpuState',
    'HostState',
    'layout_of',
    'mig_parted_config',
)


@dataclasses.dataclass(frozen=True)
class ComputeInstance:
    """One compute instance inside a GPU instance (each is one MIG device): its profile and its placement in the
    GPU instance's compute slices.

    Read from a GPU it also has NVML's ``id``, ``profile_id``, ``uuid`` and ``sm``; planned, checkpointed or about to be
    created it has no ``id`` (None) and, from a checkpoint, no ``profile_id`` either.
    """

    profile: str
    start: int
    size: int
    profile_id: t.Optional[int] = None
    id: t.Optional[int] = None
    uuid: t.Optional[str] = None
    sm: t.Optional[int] = None      # streaming multiprocessors the MIG device gets (NVML's CI profile info)


@dataclasses.dataclass(frozen=True)
class GpuInstance:
    """One GPU instance: its profile, its placement in memory slices and its compute instances.

    The one shape of a GPU instance: read from a GPU (``_nvml``), planned (``_planner``), applied (``_apply``),
    checkpointed and restored (``_checkpoint``, ``_restore``). Read, it has NVML's ``id``, ``profile_id``,
    ``compute_slices`` and ``memory_mib``; planned, an ``id`` only when it is an instance the GPU has already (kept); from
    a checkpoint, none of them.
    """

    profile: str
    start: int
    size: int
    compute_instances: t.Tuple[ComputeInstance, ...] = ()
    profile_id: t.Optional[int] = None
    id: t.Optional[int] = None
    compute_slices: t.Optional[int] = None
    memory_mib: t.Optional[int] = None


@dataclasses.dataclass(frozen=True)
class GpuProcess:
    """A process holding the GPU, with the MIG instance it runs in (None when MIG is off)."""

    pid: int
    used_mib: t.Optional[int]
    gpu_instance_id: t.Optional[int]
    compute_instance_id: t.Optional[int]
    kind: str = 'compute'


@dataclasses.dataclass(frozen=True)
class GpuState:
    """Everything the collection needs to know about one physical GPU."""

    index: int
    uuid: str
    name: str
    pci_bus_id: str
    pci_device_id: int
    pci_subsystem_id: int
    memory_total_mib: int
    architecture: t.Optional[int]
    compute_capability: t.Optional[t.Tuple[int, int]]
    mig_capable: bool
    mig_current: t.Optional[bool] = None
    mig_pending: t.Optional[bool] = None
    gpu_instances: t.Tuple[GpuInstance, ...] = ()
    processes: t.Tuple[GpuProcess, ...] = ()
    model: t.Optional[str] = None
    minor_number: t.Optional[int] = None    # /dev/nvidia<minor>: NVIDIA's DRA driver names a GPU's devices by it
    vbios_version: t.Optional[str] = None   # '98.02.6A.00.00'; None where NVML does not tell (some boards need a minimum for MIG)

    @property
    def mig_change_pending(self):
        """True when a MIG mode change waits for a reset or reboot."""
        return self.mig_capable and self.mig_current != self.mig_pending

    @property
    def busy(self):
        """True when any process holds the GPU."""
        return bool(self.processes)

    def to_dict(self):
        """Return JSON-friendly facts for this GPU."""
        return {
            'index': self.index,
            'minor_number': self.minor_number,
            'uuid': self.uuid,
            'name': self.name,
            'model': self.model,
            'pci_bus_id': self.pci_bus_id,
            'pci_device_id': '0x%08X' % self.pci_device_id,
            'pci_subsystem_id': '0x%08X' % self.pci_subsystem_id,
            'memory_total_mib': self.memory_total_mib,
            'architecture': self.architecture,
            'compute_capability': None if self.compute_capability is None else '%d.%d' % self.compute_capability,
            'vbios_version': self.vbios_version,
            'mig_capable': self.mig_capable,
            'mig_mode': {
                'current': self.mig_current,
                'pending': self.mig_pending,
                'change_pending': self.mig_change_pending,
            },
            'gpu_instances': [_gi_dict(gi) for gi in self.gpu_instances],
            'processes': [dataclasses.asdict(p) for p in self.processes],
            'layout': layout_of(self),
        }


@dataclasses.dataclass(frozen=True)
class HostState:
    """The driver and GPUs of one host, as NVML reads them (not a Kubernetes Node)."""

    driver_version: str
    cuda_driver_version: t.Optional[str]
    nvml_version: t.Optional[str]
    gpus: t.Tuple[GpuState, ...] = ()

    def to_dict(self):
        """Return JSON-friendly facts for the host (gpu_info returns them as ``node``)."""
        return {
            'driver_version': self.driver_version,
            'cuda_driver_version': self.cuda_driver_version,
            'nvml_version': self.nvml_version,
            'gpu_count': len(self.gpus),
            'gpus': [gpu.to_dict() for gpu in self.gpus],
        }


def _gi_dict(gi):
    return {
        'id': gi.id,
        'profile': gi.profile,
        'profile_id': gi.profile_id,
        'placement': {'start': gi.start, 'size': gi.size},
        'compute_slices': gi.compute_slices,
        'memory_mib': gi.memory_mib,
        'compute_instances': [
            {'id': ci.id, 'profile': ci.profile, 'profile_id': ci.profile_id,
             'placement': {'start': ci.start, 'size': ci.size}, 'uuid': ci.uuid, 'sm': ci.sm}
            for ci in gi.compute_instances
        ],
    }


def layout_of(gpu):
    """Return the GPU's current layout in the layout-spec shape, or None for a GPU without MIG."""
    if not gpu.mig_capable:
        return None
    devices = {}
    placements = []
    for gi in sorted(gpu.gpu_instances, key=lambda g: (g.start, g.size)):
        cis = sorted(gi.compute_instances, key=lambda c: (c.start, c.size))
        for ci in cis:
            # A full-size CI is the MIG device named after its GI (mig-parted counts it that way).
            name = gi.profile if ci.size >= gi.compute_slices else ci.profile
            devices[name] = devices.get(name, 0) + 1
        placements.append({
            'profile': gi.profile,
            'start': gi.start,
            'compute_instances': [ci.profile for ci in cis],
        })
    return {
        'mig-enabled': bool(gpu.mig_current),
        'mig-devices': devices,
        'placements': placements,
    }


def mig_parted_config(gpus, label='current'):
    """Export the MIG GPUs' layouts as a mig-parted ``version: v1`` config, merged like ``mig-parted export``.

    One entry per distinct (PCI id, mode, devices); the ``device-filter`` is dropped when all
    MIG GPUs are of one type and ``devices`` becomes ``all`` when an entry covers them all.
    Placements cannot be expressed in that format; they stay in each GPU's ``layout``.
    """
    mig_gpus = [gpu for gpu in gpus if gpu.mig_capable]
    groups = {}
    for gpu in mig_gpus:
        layout = layout_of(gpu)
        key = (gpu.pci_device_id, layout['mig-enabled'], tuple(sorted(layout['mig-devices'].items())))
        groups.setdefault(key, []).append(gpu.index)
    one_type = len({gpu.pci_device_id for gpu in mig_gpus}) <= 1
    entries = []
    for (pci_id, enabled, devices), indices in sorted(groups.items(), key=lambda item: item[1]):
        entry = {}
        if not one_type:
            entry['device-filter'] = '0x%08X' % pci_id
        entry['devices'] = 'all' if len(indices) == len(mig_gpus) else indices
        entry['mig-enabled'] = enabled
        if enabled:
            entry['mig-devices'] = dict(devices)
        entries.append(entry)
    return {'version': 'v1', 'mig-configs': {label: entries}}
