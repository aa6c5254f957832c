# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The checkpoint of a node's MIG layout: written by mig_layout after a change, read by the boot-time restore.

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
from ansible_collections.gpufleet.mig.plugins.module_utils._apply import canonical_gpu

__all__ = (
    'CHECKPOINT_VERSION',
    'DEFAULT_CHECKPOINT',
    'checkpoint_content',
    'checkpoint_stale',
    'write_checkpoint',
)

CHECKPOINT_VERSION = 'gpufleet.mig/checkpoint/v1'
DEFAULT_CHECKPOINT = '/var/lib/gpufleet-mig/checkpoint.json'


def checkpoint_content(node):
    """The checkpoint text for a NodeState (stable: the same layout gives the same text)."""
    gpus = []
    for gpu in node.gpus:
        if not gpu.mig_capable:
            continue
        model = _catalog.find_model(pci_device_id=gpu.pci_device_id, name=gpu.name)
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
    return json.dumps({'version': CHECKPOINT_VERSION, 'driver_version': node.driver_version, 'gpus': gpus},
                      indent=2, sort_keys=True) + '\n'


def _current(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def checkpoint_stale(node, path):
    """Whether the checkpoint at ``path`` is missing or records another layout than ``node``'s (write_checkpoint would write)."""
    return _current(path) != checkpoint_content(node)


def write_checkpoint(node, path):
    """Write the checkpoint atomically when its content differs; return whether it was written (OSError on failure)."""
    content = checkpoint_content(node)
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
