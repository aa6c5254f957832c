# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The checkpoint of a node's MIG layout: written by mig_layout after a change, read by the boot-time restore.

Written by :func:`write_checkpoint`, read and checked by :func:`load_checkpoint` into :class:`GpuCheckpoint` entries,
compared with live GPUs by :func:`checkpoint_mismatches`. The boot program that restores it is ``_restore``; it
imports this module on the node, so this module needs no Ansible either.

JSON, one entry per MIG-capable GPU, keyed by UUID so that a replaced GPU is never confused with
the one it replaced: ``{"version": CHECKPOINT_VERSION, "driver_version": ..., "gpus": [{"uuid",
"index", "model", "pci_bus_id", "mig_enabled", "gpu_instances": [{"profile", "profile_id", "start",
"size", "compute_instances": [{"profile", "profile_id", "start", "size"}]}]}]}``; profile names as
the catalog spells them.
"""

from __future__ import annotations

import json
import os
import tempfile

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils._apply import canonical_gpu, steps_to
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import ComputeInstance, GpuInstance

__all__ = (
    'CHECKPOINT_VERSION',
    'DEFAULT_CHECKPOINT',
    'CheckpointError',
    'GpuCheckpoint',
    'checkpoint_content',
    'checkpoint_mismatches',
    'checkpoint_stale',
    'load_checkpoint',
    'write_checkpoint',
)

CHECKPOINT_VERSION = 'gpufleet.mig/checkpoint/v1'
DEFAULT_CHECKPOINT = '/var/lib/gpufleet-mig/checkpoint.json'


# -- writing ------------------------------------------------------------------------------------------


def checkpoint_content(host):
    """The checkpoint text for a HostState (stable: the same layout gives the same text)."""
    gpus = []
    for gpu in host.gpus:
        if not gpu.mig_capable:
            continue
        model = _catalog.find_model(pci_device_id=gpu.pci_device_id, name=gpu.name, memory_total_mib=gpu.memory_total_mib)
        if model is not None:
            gpu = canonical_gpu(gpu, model)
        gpus.append({
            'uuid': gpu.uuid, 'index': gpu.index, 'model': gpu.model, 'pci_bus_id': gpu.pci_bus_id,
            'mig_enabled': bool(gpu.mig_current),
            'gpu_instances': [{'profile': gi.profile, 'profile_id': gi.profile_id, 'start': gi.start, 'size': gi.size,
                               'compute_instances': [{'profile': ci.profile, 'profile_id': ci.profile_id, 'start': ci.start,
                                                      'size': ci.size} for ci in gi.compute_instances]}
                              for gi in gpu.gpu_instances],
        })
    return json.dumps({'version': CHECKPOINT_VERSION, 'driver_version': host.driver_version, 'gpus': gpus},
                      indent=2, sort_keys=True) + '\n'


def _current(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def checkpoint_stale(host, path):
    """Whether the checkpoint at ``path`` is missing or records another layout than ``host``'s (write_checkpoint would write)."""
    return _current(path) != checkpoint_content(host)


def write_checkpoint(host, path):
    """Write the checkpoint atomically when its content differs; return whether it was written (OSError on failure)."""
    content = checkpoint_content(host)
    if _current(path) == content:
        return False
    directory = os.path.dirname(path) or '.'
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.checkpoint.')
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return True


# -- reading ------------------------------------------------------------------------------------------

class CheckpointError(Exception):
    """The checkpoint is missing, unreadable or not a valid gpufleet.mig checkpoint."""


class GpuCheckpoint(object):
    """One checkpointed GPU: identity, MIG mode and the exact layout to restore."""

    def __init__(self, uuid, index, model, pci_bus_id, mig_enabled, layout):
        self.uuid = uuid
        self.index = index
        self.model = model
        self.pci_bus_id = pci_bus_id
        self.mig_enabled = mig_enabled
        self.layout = layout

    def describe(self):
        """'4 GPU instance(s), 5 compute instance(s)'."""
        return '%d GPU instance(s), %d compute instance(s)' % (len(self.layout), sum(len(gi.compute_instances) for gi in self.layout))

    def check_fits(self, model):
        """Validate the checkpointed layout against the live GPU's catalog ``model`` before any change; raise ValueError."""
        for gi in self.layout:
            profile = model.profile(gi.profile)
            if (gi.start, gi.size) not in profile.placements:
                raise ValueError('checkpointed GPU instance %s at %d:%d is not a valid placement on %s (valid starts: %s)'
                                 % (gi.profile, gi.start, gi.size, model.key, ', '.join(str(s) for s in profile.starts)))
            for ci in gi.compute_instances:
                sizes = [c for c in profile.compute_profiles if c.slices == ci.size]
                if not sizes or ci.start not in profile.compute_starts(sizes[0]):
                    raise ValueError('checkpointed compute instance %s at %d:%d does not fit GPU instance %s on %s'
                                     % (ci.profile, ci.start, ci.size, gi.profile, model.key))

    def mismatch(self, gpu):
        """Why the live ``gpu`` (a GpuState) differs from this entry; None when it matches."""
        if not self.mig_enabled:
            return 'MIG mode is enabled, the checkpoint has it disabled' if gpu.mig_current else None
        if not gpu.mig_current:
            return 'MIG mode is disabled, the checkpoint has it enabled with %s' % self.describe()
        if gpu.model is None:
            return 'GPU model %s (PCI id 0x%08X) is not in the catalog of this gpufleet.mig version' % (gpu.name, gpu.pci_device_id)
        steps = steps_to(canonical_gpu(gpu, _catalog.model_by_key(gpu.model)), self.layout)
        if steps:
            return ('its %d GPU instance(s) differ from the checkpoint\'s %s (%d step(s) away)'
                    % (len(gpu.gpu_instances), self.describe(), len(steps)))
        return None


def _field(data, key, kinds, where):
    value = data.get(key) if isinstance(data, dict) else None
    # bool is an int in Python; a placement of `true` is corrupt, not slice 1.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise CheckpointError('%s: %r must be %s' % (where, key, ' or '.join(k.__name__ for k in kinds)))
    return value


def _parse_gpu(entry, position):
    where = 'gpus[%d]' % position
    if not isinstance(entry, dict):
        raise CheckpointError('%s is not an object' % where)
    uuid = _field(entry, 'uuid', (str,), where)
    mig_enabled = _field(entry, 'mig_enabled', (bool,), where)
    layout = []
    for gi_pos, gi in enumerate(_field(entry, 'gpu_instances', (list,), where)):
        gi_where = '%s.gpu_instances[%d]' % (where, gi_pos)
        compute = tuple(
            ComputeInstance(_field(ci, 'profile', (str,), '%s.compute_instances[%d]' % (gi_where, ci_pos)),
                            _field(ci, 'start', (int,), '%s.compute_instances[%d]' % (gi_where, ci_pos)),
                            _field(ci, 'size', (int,), '%s.compute_instances[%d]' % (gi_where, ci_pos)))
            for ci_pos, ci in enumerate(_field(gi, 'compute_instances', (list,), gi_where)))
        layout.append(GpuInstance(_field(gi, 'profile', (str,), gi_where), _field(gi, 'start', (int,), gi_where),
                                  _field(gi, 'size', (int,), gi_where), compute))
    if layout and not mig_enabled:
        raise CheckpointError('%s (%s) has GPU instances but mig_enabled is false' % (where, uuid))
    index = entry.get('index')
    return GpuCheckpoint(uuid, index if isinstance(index, int) and not isinstance(index, bool) else None,
                         entry.get('model'), entry.get('pci_bus_id'), mig_enabled, tuple(layout))


def load_checkpoint(path):
    """Read and check the checkpoint; return ``(driver_version, [GpuCheckpoint])``. Raises CheckpointError."""
    try:
        with open(path) as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        raise CheckpointError('cannot read the checkpoint %s: %s. It is written by gpufleet.mig.mig_layout after a layout is '
                              'applied; apply the layout again to create it' % (path, exc.strerror or exc)) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CheckpointError('the checkpoint %s is not valid JSON (%s); apply the layout again with gpufleet.mig.mig_layout '
                              'to rewrite it' % (path, exc)) from None
    if not isinstance(data, dict) or data.get('version') != CHECKPOINT_VERSION:
        raise CheckpointError('the checkpoint %s is not a %s checkpoint (version %r)'
                              % (path, CHECKPOINT_VERSION, data.get('version') if isinstance(data, dict) else None))
    try:
        entries = _field(data, 'gpus', (list,), 'checkpoint')
        gpus = [_parse_gpu(entry, position) for position, entry in enumerate(entries)]
    except CheckpointError as exc:
        raise CheckpointError('the checkpoint %s is invalid: %s' % (path, exc)) from None
    seen = set()
    for gpu in gpus:
        if gpu.uuid in seen:
            raise CheckpointError('the checkpoint %s is invalid: GPU %s appears twice' % (path, gpu.uuid))
        seen.add(gpu.uuid)
    return data.get('driver_version'), gpus


def checkpoint_mismatches(gpus, checkpointed):
    """Compare live GPUs (GpuState, matched by UUID) with the checkpoint; one line per checkpointed GPU that differs.

    Checkpointed GPUs that are not among ``gpus`` are reported as not on the node: pass every GPU of the node.
    """
    present = dict((gpu.uuid, gpu) for gpu in gpus)
    problems = []
    for saved in checkpointed:
        gpu = present.get(saved.uuid)
        if gpu is None:
            problems.append('GPU %s (index %s in the checkpoint) is not on the node' % (saved.uuid, saved.index))
            continue
        why = saved.mismatch(gpu)
        if why:
            problems.append('GPU %d (%s): %s' % (gpu.index, gpu.uuid, why))
    return problems
