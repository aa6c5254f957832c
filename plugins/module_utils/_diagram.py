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
    'gpu_slots',
    'layout_diagram',
    'model_cell_width',
    'slot_changes',
    'slot_diagram',
    'slot_segments',
    'slots_text',
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
    items = _checked(memory_slices, instances)
    needed = max([MIN_CELL_WIDTH if width is None else width] + [_needed(*item) for item in items])
    cells = []
    slot = 0
    for start, size, profile in items:
        cells.extend([free * needed] * (start - slot))
        cells.append(_label(start, size, profile).ljust(size * needed + size - 1))
        slot = start + size
    cells.extend([free * needed] * (memory_slices - slot))
    return '[%s]' % '|'.join(cells)


def slot_segments(memory_slices, instances):
    """The cells of ``slot_diagram`` as data: ``[{'start', 'size', 'profile', 'id'}]`` in slice order, covering every slice.

    A free slice is its own segment with ``profile`` None. ``id`` is the instance's ``id`` when it has one (gpu_info
    entries and ``_gpustate.GpuInstance`` do), else None. Checked as ``slot_diagram`` checks (ValueError).
    """
    if not _is_int(memory_slices) or memory_slices < 1:
        raise ValueError('memory_slices must be a positive integer, got %r' % (memory_slices,))
    ids = {}
    for instance in instances if isinstance(instances, (list, tuple)) else ():
        start = _field(instance, 'start')
        ident = instance.get('id') if isinstance(instance, Mapping) else getattr(instance, 'id', None)
        ids[start] = ident if _is_int(ident) else None
    items = _checked(memory_slices, instances)
    segments, slot = [], 0
    for start, size, profile in items:
        segments.extend({'start': free, 'size': 1, 'profile': None, 'id': None} for free in range(slot, start))
        segments.append({'start': start, 'size': size, 'profile': profile, 'id': ids.get(start)})
        slot = start + size
    segments.extend({'start': free, 'size': 1, 'profile': None, 'id': None} for free in range(slot, memory_slices))
    return segments


def _checked(memory_slices, instances):
    """``_normalise``, then refuse instances outside the GPU or overlapping one another."""
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
    return items


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
        model = find_model(name=gpu['name'], memory_total_mib=gpu.get('memory_total_mib'))
    return model if model is not None and model.mig_capable else None


def _instances_of(gpu, model, layout=None):
    """The GPU's instances from gpu_info ``gpu_instances``, or else from ``layout.placements`` with catalog sizes.

    With ``layout`` (a layout-spec dict), its placements instead of the GPU's own instances.
    """
    if layout is None:
        if gpu.get('gpu_instances') is not None:
            return gpu['gpu_instances']
        layout = gpu.get('layout') or {}
    placements = layout.get('placements') or []
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


def _busy(gpu):
    """``{gpu instance id: [pid, ...]}`` from gpu_info ``processes``."""
    busy = {}
    for process in gpu.get('processes') or ():
        if isinstance(process, Mapping) and _is_int(process.get('gpu_instance_id')):
            busy.setdefault(process['gpu_instance_id'], []).append(process.get('pid'))
    return busy


def gpu_slots(gpu, layout=None):
    """A gpu_info GPU entry's slot diagram as data, for pages that draw it (and for ``layout_diagram``).

    ``{'index', 'title', 'mig', 'pending', 'slices', 'assumed', 'segments', 'cell_width'}``: ``mig`` is ``none`` (no MIG),
    ``off`` or ``on``; ``pending`` the MIG mode after the next reset when it differs from the current one, else None;
    ``slices`` the memory slices (from the catalog; 8 and ``assumed`` True for a model it does not know; None without
    MIG); ``segments`` as ``slot_segments`` (empty unless MIG is on), each with ``busy``, the ids of the processes on
    that GPU instance, and ``change`` None (``slot_changes`` sets it); ``cell_width`` the text cell width that lines up all diagrams of the model.

    With ``layout`` (a layout-spec dict such as mig_layout's planned ``after``), the GPU as that layout would leave it,
    instead of as it is: its ``mig-enabled`` and ``placements`` (sizes from the catalog), no pending mode, nothing busy.
    Drawing a GPU's current and target slots from one entry is how a before/after comparison lines up.

    ValueError for an entry that is not a dict, and as ``slot_diagram``.
    """
    if not isinstance(gpu, Mapping):
        raise ValueError('expected a GPU entry (an element of gpu_info node.gpus), got %s' % type(gpu).__name__)
    if layout is not None and not isinstance(layout, Mapping):
        raise ValueError('GPU %s: expected a layout dict (mig-enabled, placements), got %s' % (gpu.get('index'), type(layout).__name__))
    slots = {'index': gpu.get('index'), 'title': _title(gpu), 'mig': 'none', 'pending': None, 'slices': None,
             'assumed': False, 'segments': [], 'cell_width': MIN_CELL_WIDTH}
    if not gpu.get('mig_capable'):
        return slots
    mode = gpu.get('mig_mode') or {}
    if layout is None:
        if mode.get('pending') is not None and mode.get('pending') != mode.get('current'):
            slots['pending'] = bool(mode['pending'])
        enabled = (gpu.get('layout') or {}).get('mig-enabled', mode.get('current'))
    else:
        enabled = layout.get('mig-enabled', True)
    model = _catalog_model(gpu)
    slots['slices'] = model.memory_slices if model is not None else DEFAULT_MEMORY_SLICES
    slots['assumed'] = model is None
    slots['mig'] = 'on' if enabled else 'off'
    if not enabled:
        return slots
    instances = _instances_of(gpu, model, layout)
    slots['cell_width'] = model_cell_width(model) if model is not None else cell_width(instances)
    busy = {} if layout is not None else _busy(gpu)
    slots['segments'] = [dict(segment, busy=busy.get(segment['id'], []) if segment['profile'] else [], change=None)
                         for segment in slot_segments(slots['slices'], instances)]
    return slots


def slots_text(slots, free='.', width=None):
    """The one-line text of ``gpu_slots`` data, as ``layout_diagram`` describes it."""
    title = slots['title']
    if slots['mig'] == 'none':
        return '%s (no MIG)' % title
    pending = '' if slots['pending'] is None else '; MIG %s after reset' % ('on' if slots['pending'] else 'off')
    if slots['mig'] == 'off':
        return '%s (MIG disabled%s)' % (title, pending)
    instances = [segment for segment in slots['segments'] if segment['profile'] is not None]
    note = ' (unknown model: %d memory slices assumed)' % slots['slices'] if slots['assumed'] else ''
    if pending:
        note += ' (%s)' % pending[2:]
    line = slot_diagram(slots['slices'], instances, free=free, width=slots['cell_width'] if width is None else width)
    return '%s %s%s' % (title, line, note)


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
    return slots_text(gpu_slots(gpu), free=free, width=width)


def slot_changes(current, target):
    """Mark what changes between two ``gpu_slots`` of one GPU: ``(current, target)`` copies whose instance segments
    carry ``change``: ``keep`` when the same profile sits at the same start in both, else ``destroy`` (in current) or
    ``create`` (in target). Free segments carry None. Both sides being off, or the same, marks nothing as changed."""
    def key(segment):
        return (segment['start'], segment['size'], segment['profile'])

    current_keys = set(key(s) for s in current['segments'] if s['profile'] is not None)
    target_keys = set(key(s) for s in target['segments'] if s['profile'] is not None)

    def marked(slots, others, change):
        segments = [dict(s, change=None if s['profile'] is None else ('keep' if key(s) in others else change)) for s in slots['segments']]
        return dict(slots, segments=segments)

    return marked(current, target_keys, 'destroy'), marked(target, current_keys, 'create')
