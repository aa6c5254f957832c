# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Which Kubernetes extended resources the NVIDIA device plugin advertises for a node's GPUs under a MIG strategy.

Pure functions over plain data, so that playbooks can feed them ``gpu_info`` facts (``node.gpus``) or planned
layouts directly. A GPU entry is a mapping with at least:

* ``mig_capable`` (bool);
* ``layout``: None for a GPU without MIG, else the layout shape of ``_gpustate.layout_of``
  (``{'mig-enabled': bool, 'mig-devices': {name: count}, 'placements': [...]}``);
* optionally ``index`` (int), used in messages; the position in the list otherwise.

Only the *current* MIG mode counts (``layout['mig-enabled']``); a pending mode change does not. Each count in
``layout['mig-devices']`` is one MIG device: a key that is a GPU-instance profile (``3g.20gb``) is a GPU instance
with one full-size compute instance, a key that is a compute-instance profile (``1c.3g.20gb``) is one compute
instance of a split GPU instance (see ``_gpustate``).

Source: project reference ``k8s.md`` section 1.5 (device plugin v0.20.0, ``internal/rm/rm.go``,
``internal/rm/device_map.go``), marked there [code] unless noted below. Facts this module relies on that the
reference marks, or that are inferred here rather than read, carry an ``[inferred]`` or ``[uncertain]`` comment.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.gpufleet.mig.plugins.module_utils._catalog import parse_profile_name

__all__ = (
    'with_planned_layouts',
    'GPU_RESOURCE',
    'MIG_RESOURCE_PREFIX',
    'STRATEGIES',
    'StrategyError',
    'expected_resources',
    'mig_resource_name',
    'strategy_problems',
    'strategy_warnings',
)

STRATEGIES = ('none', 'single', 'mixed')

GPU_RESOURCE = 'nvidia.com/gpu'
MIG_RESOURCE_PREFIX = 'nvidia.com/mig-'

# The device plugin's own error texts (k8s.md 1.5, [code]); kept verbatim at the start of each problem so that they can
# be matched against the plugin's log.
_NO_MIG_DEVICES = 'device %d has no MIG devices configured'
_MORE_THAN_ONE_TYPE = 'more than one MIG device type present on node'
_SAME_MIG_ENABLED = 'all devices on the node must be configured with the same migEnabled value'
# Under ``mixed`` the plugin registers resource patterns only for C == G profiles (``internal/rm/rm.go:140-146``) and
# refuses to start on the first MIG device that matches none (``internal/rm/device_map.go:144-150``).
_NO_PATTERN = "MIG profile '%s' does not match any resource patterns"


class StrategyError(ValueError):
    """The device plugin would fail to start under this strategy, so it advertises nothing; ``problems`` says why."""

    def __init__(self, strategy, problems):
        self.strategy = strategy
        self.problems = tuple(problems)
        super().__init__('the NVIDIA device plugin would fail to start with MIG strategy %s, so it would advertise no resources: %s'
                         % (strategy, '; '.join(self.problems)))


class _Gpu:
    """The facts of one GPU entry that matter here, after validation."""

    def __init__(self, index, mig_enabled, devices):
        self.index = index
        self.mig_enabled = mig_enabled
        self.devices = devices      # {name: count > 0}, in input order


def _type_name(value):
    return type(value).__name__


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_strategy(strategy):
    if strategy not in STRATEGIES:
        raise ValueError('unknown MIG strategy %r; valid strategies: %s' % (strategy, ', '.join(STRATEGIES)))
    return strategy


def _parse_gpu(position, entry):
    what = 'GPU entry %d' % position
    if not isinstance(entry, Mapping):
        raise ValueError('%s must be a dict with mig_capable and layout (a GPU of gpu_info node.gpus), got %s %r'
                         % (what, _type_name(entry), entry))
    index = entry.get('index', position)
    if not _is_int(index) or index < 0:
        raise ValueError('%s: index must be a non-negative integer, got %r' % (what, index))
    what = 'GPU %d' % index
    for key in ('mig_capable', 'layout'):
        if key not in entry:
            raise ValueError('%s has no %r key; a GPU entry needs mig_capable (bool) and layout (dict or null)' % (what, key))
    mig_capable = entry['mig_capable']
    if not isinstance(mig_capable, bool):
        raise ValueError('%s: mig_capable must be true or false, got %r' % (what, mig_capable))
    layout = entry['layout']
    if layout is None:
        return _Gpu(index, False, {})
    if not isinstance(layout, Mapping):
        raise ValueError('%s: layout must be a dict with mig-enabled and mig-devices, or null, got %s %r' % (what, _type_name(layout), layout))
    enabled = layout.get('mig-enabled')
    if not isinstance(enabled, bool):
        raise ValueError('%s: layout mig-enabled must be true or false, got %r' % (what, enabled))
    if enabled and not mig_capable:
        raise ValueError('%s: layout says mig-enabled but the GPU is not MIG capable' % what)
    raw = layout.get('mig-devices')
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ValueError('%s: layout mig-devices must be a dict of MIG profile name to count, got %s %r' % (what, _type_name(raw), raw))
    devices = {}
    for name, count in raw.items():
        if not isinstance(name, str):
            raise ValueError('%s: MIG device name %r in mig-devices is not a string' % (what, name))
        try:
            parse_profile_name(name)
        except ValueError as exc:
            raise ValueError('%s: %s' % (what, exc)) from exc
        if not _is_int(count) or count < 0:
            raise ValueError('%s: count of MIG device %s must be a non-negative integer, got %r' % (what, name, count))
        if count:
            devices[name] = count
    if devices and not enabled:
        raise ValueError('%s: layout has mig-devices (%s) but mig-enabled is false' % (what, ', '.join(sorted(devices))))
    return _Gpu(index, enabled, devices)


def _parse_gpus(gpus):
    if isinstance(gpus, (str, bytes, Mapping)) or not hasattr(gpus, '__iter__'):
        hint = ' (pass the list node.gpus, not the node)' if isinstance(gpus, Mapping) and 'gpus' in gpus else ''
        raise ValueError('expected a list of GPU entries (gpu_info node.gpus), got %s%s' % (_type_name(gpus), hint))
    parsed = [_parse_gpu(position, entry) for position, entry in enumerate(gpus)]
    seen = set()
    for gpu in parsed:
        if gpu.index in seen:
            raise ValueError('GPU index %d appears more than once' % gpu.index)
        seen.add(gpu.index)
    return parsed


def _full_profile(name):
    """The GI profile name when ``name`` is a full-size MIG device (C == G), else None (a split compute instance)."""
    parsed = parse_profile_name(name)
    if parsed['compute_slices'] in (None, parsed['gpu_slices']):
        return name.split('.', 1)[1] if parsed['compute_slices'] is not None else name
    return None


def mig_resource_name(profile):
    """The resource the ``mixed`` strategy advertises for a full-size MIG device, e.g. ``nvidia.com/mig-1g.10gb.me``.

    ``'mig-' + profile`` with ``+`` replaced by ``.`` (k8s.md 1.5, [code]). Returns None for a compute-instance profile
    with fewer compute slices than its GPU instance (``1c.3g.20gb``): the plugin registers only C == G profiles.
    ValueError for a name that is not a MIG profile name.
    """
    full = _full_profile(profile)
    if full is None:
        return None
    # [uncertain] Only '+' is replaced (k8s.md 1.5). A '-me' profile keeps its '-', which is valid in a resource name;
    # a profile with several attributes ('+me,gfx') would keep a ',' that Kubernetes refuses. Neither is seen in the
    # catalog's profiles, and how the plugin names them has not been read.
    return MIG_RESOURCE_PREFIX + full.replace('+', '.')


def _add(resources, name, count):
    if count:
        resources[name] = resources.get(name, 0) + count


def _gpus_text(indices):
    indices = sorted(indices)
    return '%s %s' % ('GPU' if len(indices) == 1 else 'GPUs', ', '.join(str(i) for i in indices))


def _single_problems(parsed):
    problems = []
    mig_gpus = [gpu for gpu in parsed if gpu.mig_enabled]
    if not mig_gpus:
        return problems     # no MIG-enabled GPU: single behaves like none
    for gpu in mig_gpus:
        if not gpu.devices:
            problems.append('%s: GPU %d has MIG enabled but no MIG devices, and the single strategy needs at least one on every '
                            'MIG-enabled GPU' % (_NO_MIG_DEVICES % gpu.index, gpu.index))
    where = {}
    for gpu in mig_gpus:
        for name in gpu.devices:
            where.setdefault(name, []).append(gpu.index)
    # The plugin compares the attributes of the MIG devices (memory, GI and CI slices, engines; device_map.go,
    # assertAllMigDevicesAreValid). [inferred] Two names are taken to be two types and one name one type: the name is
    # derived from those attributes. A full-size CI and a CI of a split GI differ ('3g.20gb' vs '1c.3g.20gb').
    if len(where) > 1:
        problems.append('%s: %s; the single strategy needs one MIG profile on every MIG-enabled GPU'
                        % (_MORE_THAN_ONE_TYPE, ', '.join('%s on %s' % (name, _gpus_text(where[name])) for name in sorted(where))))
    full = [gpu.index for gpu in parsed if not gpu.mig_enabled]
    if where and full:
        with_devices = sorted(set(i for indices in where.values() for i in indices))
        problems.append('%s: %s with MIG disabled and %s with MIG devices; the single strategy cannot advertise full GPUs and MIG '
                        'devices on one node' % (_SAME_MIG_ENABLED, _gpus_text(full), _gpus_text(with_devices)))
    return problems


def _mixed_problems(parsed):
    problems = []
    single_fits = not _single_problems(parsed)    # only asked when a GPU has split GPU instances, so MIG is on
    for gpu in parsed:
        split = sorted(name for name in gpu.devices if _full_profile(name) is None)
        if not split:
            continue
        whole = sorted(set(name.split('.', 1)[1] for name in split))
        problems.append('%s: GPU %d has compute instances of split GPU instances (%s), and the mixed strategy has resources only for '
                        'whole compute instances; give each of these GPU instances one whole compute instance (%s), or use the single '
                        'strategy%s'
                        % (_NO_PATTERN % split[0], gpu.index, ', '.join('%d x %s' % (gpu.devices[name], name) for name in split),
                           ', '.join(whole),
                           ', which fits this node (each MIG device becomes one %s)' % GPU_RESOURCE if single_fits
                           else ' with one MIG profile on every MIG-enabled GPU'))
    return problems


def strategy_problems(gpus, strategy):
    """Why the device plugin would fail to start (and crash-loop) with this MIG strategy on these GPUs; [] when it starts.

    Any of these makes plugin start-up fail regardless of ``failOnInitError`` (k8s.md 1.5, [code]). Each problem starts
    with the plugin's own message; the plugin stops at the first, all are returned.

    * ``single``: every MIG-enabled GPU needs at least one MIG device; all MIG devices must be of one type; GPUs with
      MIG disabled and MIG devices cannot be mixed (in that order, empty GPUs by index first). A node without
      MIG-enabled GPUs behaves as under ``none``.
    * ``mixed``: no compute instance of a split GPU instance (``1c.3g.20gb``): resources exist only for C == G profiles,
      and the plugin refuses a MIG device that matches none (one problem per GPU that has such devices).
    * ``none``: nothing.

    What the plugin accepts but does not advertise is not a problem; see ``strategy_warnings``.
    ValueError for an unknown strategy or malformed GPU entries.
    """
    _check_strategy(strategy)
    return _problems(_parse_gpus(gpus), strategy)


def _problems(parsed, strategy):
    if strategy == 'single':
        return _single_problems(parsed)
    if strategy == 'mixed':
        return _mixed_problems(parsed)
    return []


def strategy_warnings(gpus, strategy):
    """What the plugin accepts under this strategy but leaves unadvertised or advertises unusably; [] when nothing.

    * ``none``: a MIG-enabled GPU is advertised as one whole ``nvidia.com/gpu``; its MIG devices are not advertised.
    * ``mixed``: a MIG-enabled GPU without MIG devices (the plugin logs ``device <i> has no MIG devices configured`` and
      goes on, k8s.md 1.5 [code]).
    * ``single``: nothing beyond ``strategy_problems``.
    ValueError for an unknown strategy or malformed GPU entries.
    """
    _check_strategy(strategy)
    parsed = _parse_gpus(gpus)
    warnings = []
    for gpu in parsed:
        if not gpu.mig_enabled:
            continue
        if strategy == 'none':
            warnings.append('GPU %d has MIG enabled; the none strategy advertises it as one whole %s and does not advertise its MIG '
                            'devices' % (gpu.index, GPU_RESOURCE))
        elif strategy == 'mixed':
            if not gpu.devices:
                warnings.append('%s: GPU %d has MIG enabled but no MIG devices, so the mixed strategy advertises nothing for it'
                                % (_NO_MIG_DEVICES % gpu.index, gpu.index))
    return warnings


def expected_resources(gpus, strategy):
    """The extended resources, with exact counts, that the device plugin advertises for these GPUs under ``strategy``.

    Returns ``{resource name: count}`` without zero entries, e.g. ``{'nvidia.com/gpu': 2, 'nvidia.com/mig-1g.5gb': 4}``
    (k8s.md 1.5, [code]):

    * ``none``: every GPU, MIG-enabled or not, is one ``nvidia.com/gpu``; MIG devices are not advertised.
    * ``single``: with no MIG-enabled GPU, as ``none``. Otherwise each MIG device is one ``nvidia.com/gpu`` (and GPUs
      with MIG disabled are not allowed).
    * ``mixed``: each GPU with MIG disabled is one ``nvidia.com/gpu``; each full-size MIG device is one
      ``nvidia.com/mig-<profile>`` (``+`` becomes ``.``). MIG-enabled GPUs without MIG devices add nothing (see
      ``strategy_warnings``).

    When ``strategy_problems`` reports anything (under ``single``, or a split GPU instance under ``mixed``), the plugin
    does not start, so it advertises nothing new, and StrategyError (a ValueError) is raised with those problems.
    ValueError for an unknown strategy or malformed GPU entries.
    """
    _check_strategy(strategy)
    parsed = _parse_gpus(gpus)
    resources = {}
    mig_gpus = [gpu for gpu in parsed if gpu.mig_enabled]
    problems = _problems(parsed, strategy)
    if problems:
        raise StrategyError(strategy, problems)
    if strategy == 'none' or (strategy == 'single' and not mig_gpus):
        _add(resources, GPU_RESOURCE, len(parsed))
    elif strategy == 'single':
        # single maps every MIG device to nvidia.com/gpu (resource pattern '*', rm.go AddDefaultResourcesToConfig), a
        # compute instance of a split GPU instance included (device_map.go buildMigDeviceMap).
        _add(resources, GPU_RESOURCE, sum(sum(gpu.devices.values()) for gpu in mig_gpus))
    else:
        _add(resources, GPU_RESOURCE, len(parsed) - len(mig_gpus))
        for gpu in mig_gpus:
            for name, count in gpu.devices.items():
                _add(resources, mig_resource_name(name), count)
    return dict(sorted(resources.items()))


def with_planned_layouts(gpus, planned):
    """``gpus`` (gpu_info entries) with the layouts that mig_layout plans (its ``gpus`` return) in place of the current ones.

    A planned GPU gets the planned instances and the MIG mode the layout wants; others are unchanged.
    """
    by_index = {}
    for position, entry in enumerate(planned or ()):
        # Entries come from module arguments: refuse what is not a mig_layout result instead of failing on a key.
        if (not isinstance(entry, Mapping) or not _is_int(entry.get('index')) or not isinstance(entry.get('mig_enabled'), bool)
                or (entry['mig_enabled'] and not isinstance(entry.get('after'), Mapping))):
            raise ValueError('planned_layouts entry %d must be a GPU result of mig_layout (index, mig_enabled and, when enabled, '
                             'after), got %r' % (position, entry))
        by_index[entry['index']] = entry
    result = []
    for gpu in gpus:
        index = gpu.get('index') if isinstance(gpu, Mapping) else None
        plan = by_index.get(index) if _is_int(index) else None     # a malformed entry is left for _parse_gpus to name
        if plan is not None:
            layout = dict(plan['after']) if plan.get('mig_enabled') else {'mig-devices': {}, 'placements': []}
            layout['mig-enabled'] = bool(plan.get('mig_enabled'))
            gpu = dict(gpu, layout=layout)
        result.append(gpu)
    return result
