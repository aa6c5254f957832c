# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""One-line slot diagrams of a GPU's MIG instances, for reports, ``--diff`` output and logs.

A diagram has one cell per memory slice, all of the same width, inside brackets. Cells are separated by ``|``;
an instance spans its cells and the separators between them, and is labelled ``<start>:<profile>`` (one slice) or
``<first>-<last>:<profile>``, padded with spaces. A free slice is a cell filled with the ``free`` character.
The A100-40GB layout 1g.5gb@0, 1g.5gb@1, 2g.10gb@2, 3g.20gb@4 with slice 1 free instead reads, at width 9::

    [0:1g.5gb |.........|2-3:2g.10gb        |4-7:3g.20gb                            ]

Cell ``i`` always starts at column ``1 + i * (width + 1)``, so two diagrams drawn with the same width (as
``layout_diagram`` does for one GPU model) line up slice by slice, and a change shows as a local difference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ansible_collections.gpufleet.mig.plugins.module_utils._catalog import UnknownModelError, find_model, model_by_key

__all__ = (
    'DEFAULT_MEMORY_SLICES',
    'MIN_CELL_WIDTH',
    'cell_width',
    'layout_diagram',
    'model_cell_width',
    'slot_diagram',
)

MIN_CELL_WIDTH = 9              # fits '6:1g.10gb'
DEFAULT_MEMORY_SLICES = 8       # assumed for a MIG GPU the catalog does not know (every catalogued MIG GPU but A30)
_RESERVED = '[]| '


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _field(instance, name):
    if isinstance(instance, Mapping):
        if name in instance:
            return instance[name]
        placement = instance.get('placement')
        if name != 'profile' and isinstance(placement, Mapping) and name in placement:
            return placement[name]
        raise ValueError('MIG instance %r has no %s; expected profile, start and size (or placement.start and placement.size)'
                         % (dict(instance), name))
    if hasattr(instance, name):
        return getattr(instance, name)
    raise ValueError('MIG instance %r has no %s; expected a dict or an object with profile, start and size' % (instance, name))


def _normalise(instances):
    """``[(start, size, profile)]`` sorted by start, with types checked."""
    if isinstance(instances, (str, bytes, Mapping)) or not hasattr(instances, '__iter__'):
        raise ValueError('expected a list of MIG instances, got %s' % type(instances).__name__)
    result = []
    for instance in instances:
        profile, start, size = _field(instance, 'profile'), _field(instance, 'start'), _field(instance, 'size')
        if not isinstance(profile, str) or not profile:
            raise ValueError('MIG instance profile must be a non-empty string, got %r' % (profile,))
        if not _is_int(start) or not _is_int(size) or start < 0 or size < 1:
            raise ValueError('MIG instance %s needs an integer start >= 0 and size >= 1, got start %r, size %r' % (profile, start, size))
        result.append((start, size, profile))
    return sorted(result)


def _label(start, size, profile):
    if size == 1:
        return '%d:%s' % (start, profile)
    return '%d-%d:%s' % (start, start + size - 1, profile)


def _needed(start, size, profile):
    """The cell width at which this instance's label fits its span."""
    return int(math.ceil((len(_label(start, size, profile)) - (size - 1)) / float(size)))


def cell_width(*instance_lists):
    """The narrowest cell width (at least MIN_CELL_WIDTH) that fits every label of all the given instance lists.

    Draw a before and an after diagram with ``cell_width(before, after)`` to make them line up.
    """
    width = MIN_CELL_WIDTH
    for instances in instance_lists:
        for start, size, profile in _normalise(instances):
            width = max(width, _needed(start, size, profile))
    return width


def model_cell_width(model):
    """The cell width that fits every profile of a catalog GPU model at every start, so all its diagrams line up."""
    width = MIN_CELL_WIDTH
    for profile in model.gi_profiles:
        for start in profile.starts:
            width = max(width, _needed(start, profile.memory_slices, profile.name))
    return width


def slot_diagram(memory_slices, instances, free='.', width=None):
    """A one-line diagram of ``instances`` on a GPU with ``memory_slices`` memory slices.

    ``instances`` holds dicts ``{'profile', 'start', 'size'}``, gpu_info ``gpu_instances`` entries
    (``{'profile', 'placement': {'start', 'size'}}``) or objects with ``profile``, ``start`` and ``size`` attributes
    (``_gpustate.GpuInstance``); start and size are in memory slices. ``free`` is the character that fills a free
    slice. ``width`` is the cell width in characters; by default the narrowest that fits the labels (at least
    MIN_CELL_WIDTH). A wider label raises the width of every cell rather than being cut.

    ValueError for instances that overlap or lie outside the GPU (corrupt input), and for bad arguments.
    """
    if not _is_int(memory_slices) or memory_slices < 1:
        raise ValueError('memory_slices must be a positive integer, got %r' % (memory_slices,))
    if not isinstance(free, str) or len(free) != 1 or free in _RESERVED:
        raise ValueError('free must be one character other than %s, got %r' % (', '.join(repr(c) for c in _RESERVED), free))
    if width is not None and (not _is_int(width) or width < 1):
        raise ValueError('width must be a positive integer, got %r' % (width,))
    items = _normalise(instances)
    previous = None
    for item in items:
        start, size, profile = item
        if start + size > memory_slices:
            raise ValueError('MIG instance %s at slices %s lies outside the GPU\'s %d memory slices (0-%d)'
                             % (profile, _label(start, size, profile).split(':', 1)[0], memory_slices, memory_slices - 1))
        if previous is not None and start < previous[0] + previous[1]:
            raise ValueError('MIG instances %s and %s overlap' % (_label(*previous), _label(*item)))
        previous = item
    needed = max([MIN_CELL_WIDTH if width is None else width] + [_needed(*item) for item in items])
    cells = []
    slot = 0
    for start, size, profile in items:
        cells.extend([free * needed] * (start - slot))
        cells.append(_label(start, size, profile).ljust(size * needed + size - 1))
        slot = start + size
    cells.extend([free * needed] * (memory_slices - slot))
    return '[%s]' % '|'.join(cells)


def _title(gpu):
    index = gpu.get('index')
    label = gpu.get('model') or gpu.get('name') or 'unknown GPU'
    return 'GPU %s %s' % ('?' if index is None else index, label)


def _catalog_model(gpu):
    model = None
    if gpu.get('model'):
        try:
            model = model_by_key(gpu['model'])
        except UnknownModelError:
            model = None
    if model is None and gpu.get('name'):
        model = find_model(name=gpu['name'])
    return model if model is not None and model.mig_capable else None


def _instances_of(gpu, model):
    """The GPU's instances from gpu_info ``gpu_instances``, or else from ``layout.placements`` with catalog sizes."""
    if gpu.get('gpu_instances') is not None:
        return gpu['gpu_instances']
    placements = (gpu.get('layout') or {}).get('placements') or []
    if placements and model is None:
        raise ValueError('GPU %s: the sizes of layout placements need a GPU model the catalog knows (model %r); '
                         'pass gpu_instances with placement sizes' % (gpu.get('index'), gpu.get('model')))
    instances = []
    for placement in placements:
        if not isinstance(placement, Mapping) or 'profile' not in placement or 'start' not in placement:
            raise ValueError('GPU %s: layout placement %r needs profile and start' % (gpu.get('index'), placement))
        try:
            size = model.profile(placement['profile']).memory_slices
        except LookupError as exc:
            raise ValueError('GPU %s: %s' % (gpu.get('index'), exc)) from exc
        instances.append({'profile': placement['profile'], 'start': placement['start'], 'size': size})
    return instances


def layout_diagram(gpu, free='.', width=None):
    """A titled one-line diagram of a gpu_info GPU entry (an element of ``node.gpus``).

    ``GPU 0 A100-SXM4-40GB [0:1g.5gb |...]``; ``GPU 3 L40S (no MIG)`` for a GPU that is not MIG capable;
    ``GPU 1 A100-SXM4-40GB (MIG disabled)`` when MIG is off (``layout['mig-enabled']``, the current mode). A pending
    MIG mode change is appended as ``; MIG <on|off> after reset``. The number of memory slices and the cell width come
    from the catalog model (``model``, else the NVML ``name``), so all diagrams of one model line up; for a model the
    catalog does not know, 8 slices are assumed and the line ends with ``(unknown model: 8 memory slices assumed)``.
    Instances come from ``gpu_instances``, or from ``layout.placements`` (sizes from the catalog) when that key is absent.

    ValueError for an entry that is not a dict, and as ``slot_diagram``.
    """
    if not isinstance(gpu, Mapping):
        raise ValueError('expected a GPU entry (an element of gpu_info node.gpus), got %s' % type(gpu).__name__)
    title = _title(gpu)
    if not gpu.get('mig_capable'):
        return '%s (no MIG)' % title
    mode = gpu.get('mig_mode') or {}
    pending = ''
    if mode.get('pending') is not None and mode.get('pending') != mode.get('current'):
        pending = '; MIG %s after reset' % ('on' if mode['pending'] else 'off')
    layout = gpu.get('layout') or {}
    enabled = layout.get('mig-enabled', mode.get('current'))
    if not enabled:
        return '%s (MIG disabled%s)' % (title, pending)
    model = _catalog_model(gpu)
    instances = _instances_of(gpu, model)
    if model is None:
        slices, note = DEFAULT_MEMORY_SLICES, ' (unknown model: %d memory slices assumed)' % DEFAULT_MEMORY_SLICES
        width = width if width is not None else cell_width(instances)
    else:
        slices, note = model.memory_slices, ''
        width = width if width is not None else model_cell_width(model)
    if pending:
        note += ' (%s)' % pending[2:]
    return '%s %s%s' % (title, slot_diagram(slices, instances, free=free, width=width), note)
