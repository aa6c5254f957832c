# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The layout spec: mig-parted ``version: v1`` config files and inline layouts, parsed and checked, and the layout types.

:func:`parse_mig_parted_config` reads a mig-parted file with exactly mig-parted's rules (mig.md 1.1, 1.2), but refuses
unknown keys in an entry (mig-parted silently ignores them) and names what is valid. :func:`parse_inline_layout` reads the
same entry structure from inventory variables, plus two extensions that only exist there: ``placements`` (explicit GPU
instances, optionally pinned, with their compute instances) and ``device-selector`` (a JMESPath expression over
gpu_info's GPU dicts). In an inline layout ``devices`` may be omitted and then means ``all``, so that the ``layout``
gpu_info exports for a GPU can be fed back unchanged. Each collects every problem before it raises one
:class:`LayoutError`.

Normalised entries always carry the six keys ``devices`` (``'all'`` or a tuple of ints), ``device-filter`` (tuple of
upper-case ``0xDDDDVVVV[:0xSSSSVVVV]`` strings, empty for none), ``mig-enabled``, ``mig-devices`` (dict, zero counts
dropped), ``placements`` (None, or a tuple of ``{'profile', 'start', 'compute_instances'}``) and ``device-selector``
(None or the expression). Normalised entries parse again unchanged.

What the entries give each GPU of a node, checked against its catalog model, is ``_gpu_targets``'s; the types of that
result, :class:`GpuLayout` of :class:`InstanceSpec`, are here because the fleet planner builds them too.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing as t

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog

__all__ = (
    'GpuLayout',
    'InstanceSpec',
    'LayoutError',
    'load_jmespath',
    'parse_inline_layout',
    'parse_mig_parted_config',
)

_TOP_KEYS = ('version', 'mig-configs')
_ENTRY_KEYS = ('devices', 'device-filter', 'mig-enabled', 'mig-devices')
_INLINE_KEYS = _ENTRY_KEYS + ('placements', 'device-selector')
_PLACEMENT_KEYS = ('profile', 'start', 'compute_instances')
_FILTER_RE = re.compile(r'^0[xX][0-9a-fA-F]{8}(?::0[xX][0-9a-fA-F]{8})?$')
_FILTER_FORM = "'0xDDDDVVVV' (device id then vendor 10DE, e.g. '0x20B010DE') optionally followed by ':0xSSSSVVVV' (subsystem)"


class LayoutError(ValueError):
    """A layout cannot be used; ``problems`` holds every problem found, ``str()`` joins them."""

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = (problems,)
        self.problems = tuple(problems)
        super(LayoutError, self).__init__('; '.join(self.problems))


def _profile_key(name):
    try:
        return -_catalog.parse_profile_name(name)['gpu_slices']
    except ValueError:
        return 0


@dataclasses.dataclass(frozen=True)
class InstanceSpec:
    """One target GPU instance: canonical GI profile, its compute instances, and an optional pinned start."""

    profile: str
    compute: t.Tuple[str, ...]
    start: t.Optional[int] = None

    @property
    def order(self):
        """The canonical order of instances in a layout: pinned by start first, then G descending, name."""
        return (self.start is None, self.start or 0, _profile_key(self.profile), self.profile, self.compute)


@dataclasses.dataclass(frozen=True)
class GpuLayout:
    """The target layout of one GPU; ``instances`` are kept sorted (pinned by start first, then G descending, name)."""

    mig_enabled: bool
    instances: t.Tuple[InstanceSpec, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, 'instances', tuple(sorted(self.instances, key=lambda spec: spec.order)))

    def to_dict(self):
        """The ``_gpustate.layout_of`` shape; ``start`` is None for unpinned instances."""
        devices = {}
        placements = []
        for spec in self.instances:
            for name in spec.compute:
                devices[name] = devices.get(name, 0) + 1
            placements.append({'profile': spec.profile, 'start': spec.start, 'compute_instances': list(spec.compute)})
        return {'mig-enabled': self.mig_enabled, 'mig-devices': devices, 'placements': placements}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _load(data):
    if not isinstance(data, (str, bytes)):
        return data
    if isinstance(data, bytes):
        data = data.decode('utf-8')
    # Both parsers recurse once per nesting level, so deep nesting ends in RecursionError rather than a parse error.
    too_deep = LayoutError('the config is nested too deeply to read; a mig-parted config is a mapping of version and mig-configs, '
                           'with entries a few levels down')
    try:
        return json.loads(data)
    except ValueError:
        pass
    except RecursionError:
        raise too_deep from None
    try:
        import yaml
    except ImportError:
        raise LayoutError('the config is not JSON, and reading YAML needs the Python package PyYAML, which is not installed; '
                          'pass the config as parsed data or as JSON') from None
    try:
        return yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise LayoutError('the config is neither valid JSON nor valid YAML: %s' % exc) from None
    except RecursionError:
        raise too_deep from None


def load_jmespath():
    """The jmespath module, which device-selector needs; LayoutError naming the package when it is not installed."""
    try:
        import jmespath
    except ImportError:
        raise LayoutError('device-selector needs the Python package jmespath, which is not installed on this host '
                          '(pip install jmespath)') from None
    return jmespath


def _parse_devices(value, where, problems, inline):
    if value is None and inline:
        return 'all'
    if value == 'all':
        return 'all'
    if _is_int(value):
        problems.append('%s.devices: %r is invalid; write [%d] (a list of GPU indices) or all (see mig-parted#44)' % (where, value, value))
        return None
    if isinstance(value, str):
        problems.append("%s.devices: %r is invalid: the only string allowed is 'all'; otherwise give a list of GPU indices such as [0, 1]"
                        % (where, value))
        return None
    if not isinstance(value, (list, tuple)):
        problems.append("%s.devices: %r is invalid: expected 'all' or a list of GPU indices such as [0, 1]" % (where, value))
        return None
    bad = [v for v in value if not _is_int(v) or v < 0]
    if bad:
        verb = 'is' if len(bad) == 1 else 'are'
        problems.append('%s.devices: %s %s not a GPU index (a non-negative integer)' % (where, ', '.join(repr(b) for b in bad), verb))
        return None
    return tuple(sorted(set(value)))


def _parse_filter(value, where, problems):
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        problems.append('%s.device-filter: %r is invalid: expected a string or a list of strings, each %s' % (where, value, _FILTER_FORM))
        return ()
    result = []
    for item in items:
        if not isinstance(item, str) or not _FILTER_RE.match(item.strip()):
            problems.append('%s.device-filter: %r is invalid: expected %s' % (where, item, _FILTER_FORM))
            continue
        text = item.strip()
        result.append(':'.join('0x' + part[2:].upper() for part in text.split(':')))
    return tuple(result)


def _check_name(name, where, problems):
    try:
        _catalog.parse_profile_name(name)
    except ValueError as exc:
        problems.append('%s: %s' % (where, exc))
        return False
    return True


def _parse_mig_devices(value, enabled, where, problems):
    if value is None:
        if enabled is True:
            problems.append("%s.mig-devices: required when mig-enabled is true (use {} for MIG on without instances)" % where)
        return {}
    if not isinstance(value, dict):
        problems.append('%s.mig-devices: %r is invalid: expected a mapping of profile name to count' % (where, value))
        return {}
    if enabled is False:
        if value:
            problems.append("%s.mig-devices: MIG devices included when 'mig-enabled' is false; remove mig-devices or set mig-enabled: true" % where)
        return {}
    result = {}
    for name, count in value.items():
        ok = _check_name(name, '%s.mig-devices' % where, problems)
        if not _is_int(count) or count < 0:
            problems.append('%s.mig-devices[%r]: count %r is invalid: expected an integer >= 0' % (where, name, count))
            continue
        if ok and count:
            result[name] = count
    if value and not result and all(_is_int(c) and c == 0 for c in value.values()):
        problems.append('%s.mig-devices: all counts are zero; give at least one count > 0, or use {} for MIG on without instances' % where)
    return result


def _parse_placements(value, enabled, where, problems):
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        problems.append('%s.placements: %r is invalid: expected a list of {profile, start, compute_instances}' % (where, value))
        return None
    if enabled is False and value:
        problems.append("%s.placements: GPU instances given while 'mig-enabled' is false" % where)
        return None
    result = []
    for number, item in enumerate(value):
        here = '%s.placements[%d]' % (where, number)
        if not isinstance(item, dict):
            problems.append('%s: %r is invalid: expected a mapping with keys %s' % (here, item, ', '.join(_PLACEMENT_KEYS)))
            continue
        unknown = sorted(str(k) for k in item if k not in _PLACEMENT_KEYS)
        if unknown:
            problems.append('%s: unknown key%s %s; valid keys: %s' % (here, 's' if len(unknown) > 1 else '', ', '.join(unknown), ', '.join(_PLACEMENT_KEYS)))
        profile = item.get('profile')
        if profile is None:
            problems.append('%s.profile: required' % here)
            continue
        if not _check_name(profile, '%s.profile' % here, problems):
            continue
        start = item.get('start')
        if start is not None and (not _is_int(start) or start < 0):
            problems.append('%s.start: %r is invalid: expected a memory-slice index (integer >= 0) or none' % (here, start))
            continue
        computes = item.get('compute_instances')
        if computes is None:
            computes = [profile]
        if not isinstance(computes, (list, tuple)):
            problems.append('%s.compute_instances: %r is invalid: expected a list of compute-instance profile names' % (here, computes))
            continue
        checked = [_check_name(c, '%s.compute_instances' % here, problems) for c in computes]   # report every bad name
        if False in checked:
            continue
        result.append({'profile': profile, 'start': start, 'compute_instances': tuple(computes)})
    return tuple(result)


def _placement_devices(placements):
    """mig-devices counts implied by placements (a full-size CI counts as its GI profile, like _gpustate.layout_of)."""
    devices = {}
    for placement in placements:
        for name in placement['compute_instances']:
            parsed = _catalog.parse_profile_name(name)
            if parsed['compute_slices'] is not None and parsed['compute_slices'] == parsed['gpu_slices']:
                name = name.split('.', 1)[1]
            devices[name] = devices.get(name, 0) + 1
    return devices


def _parse_entry(entry, where, problems, inline):
    if not isinstance(entry, dict):
        problems.append('%s: %r is invalid: expected a mapping with keys %s' % (where, entry, ', '.join(_INLINE_KEYS if inline else _ENTRY_KEYS)))
        return None
    valid = _INLINE_KEYS if inline else _ENTRY_KEYS
    unknown = sorted(str(k) for k in entry if k not in valid)
    if unknown:
        extra = ''
        if not inline and any(k in ('placements', 'device-selector') for k in unknown):
            extra = ' (placements and device-selector are gpufleet.mig extensions, only allowed in inline layouts)'
        problems.append('%s: unknown key%s %s%s; valid keys: %s' % (where, 's' if len(unknown) > 1 else '', ', '.join(unknown), extra, ', '.join(valid)))
    before = len(problems)
    devices = None
    if 'devices' not in entry and not inline:
        problems.append("%s.devices: required ('all' or a list of GPU indices)" % where)
    else:
        devices = _parse_devices(entry.get('devices'), where, problems, inline)
    filters = _parse_filter(entry.get('device-filter'), where, problems)
    enabled = entry.get('mig-enabled')
    if not isinstance(enabled, bool):
        if 'mig-enabled' not in entry:
            problems.append('%s.mig-enabled: required (true or false)' % where)
        else:
            problems.append('%s.mig-enabled: %r is invalid: expected true or false' % (where, enabled))
        enabled = None
    placements = _parse_placements(entry.get('placements'), enabled, where, problems) if inline else None
    raw_devices = entry.get('mig-devices')
    if placements is not None and raw_devices is None:
        mig_devices = _placement_devices(placements)
    else:
        mig_devices = _parse_mig_devices(raw_devices, enabled, where, problems)
        if placements is not None and len(problems) == before:
            implied = _placement_devices(placements)
            if implied != mig_devices:
                problems.append('%s: mig-devices %s does not agree with placements, which give %s; give one of them, or make them agree'
                                % (where, _counts(mig_devices), _counts(implied)))
    selector = entry.get('device-selector') if inline else None
    if selector is not None:
        if not isinstance(selector, str) or not selector.strip():
            problems.append('%s.device-selector: %r is invalid: expected a JMESPath expression' % (where, selector))
        else:
            try:
                jmespath = load_jmespath()
            except LayoutError as exc:
                problems.append('%s.device-selector: %s' % (where, exc))
            else:
                try:
                    jmespath.compile(selector)
                except jmespath.exceptions.JMESPathError as exc:
                    problems.append('%s.device-selector: %r is not a valid JMESPath expression: %s' % (where, selector, exc))
                except RecursionError:
                    # jmespath's parser recurses once per nesting level.
                    problems.append('%s.device-selector: the JMESPath expression is nested too deeply to compile; write a flatter '
                                    'expression' % where)
    if len(problems) != before:
        return None
    return {
        'devices': devices,
        'device-filter': filters,
        'mig-enabled': enabled,
        'mig-devices': mig_devices,
        'placements': placements,
        'device-selector': selector,
    }


def _counts(devices):
    return '{%s}' % ', '.join('%s: %d' % item for item in sorted(devices.items())) if devices else '{}'


def parse_mig_parted_config(data, label=None):
    """Parse a mig-parted ``version: v1`` config (dict, JSON or YAML text) and return the selected label's entries, normalised.

    ``label`` is required when the file has more than one label and auto-selected when it has exactly one.
    Raises LayoutError listing every problem.
    """
    data = _load(data)
    if not isinstance(data, dict):
        raise LayoutError('the config must be a mapping with keys version and mig-configs, not %r' % (type(data).__name__,))
    problems = []
    unknown = sorted(str(k) for k in data if k not in _TOP_KEYS)
    if unknown:
        problems.append('unexpected field%s %s at the top level; valid keys: version, mig-configs' % ('s' if len(unknown) > 1 else '', ', '.join(unknown)))
    if 'version' not in data:
        problems.append("version: required; set version: v1")
    elif data['version'] != 'v1':
        problems.append("version: unknown version %r; only v1 is supported" % (data['version'],))
    configs = data.get('mig-configs')
    if configs is None:
        problems.append('mig-configs: required (a mapping of label to a list of entries)')
    elif not isinstance(configs, dict):
        problems.append('mig-configs: %r is invalid: expected a mapping of label to a list of entries' % (configs,))
        configs = None
    elif not configs:
        problems.append('mig-configs: at least one label is required')
    if problems or not configs:
        raise LayoutError(problems)
    labels = sorted(str(k) for k in configs)
    if label is None:
        if len(configs) > 1:
            raise LayoutError('the config has %d labels; select one of: %s' % (len(configs), ', '.join(labels)))
        label = next(iter(configs))
    elif label not in configs:
        raise LayoutError('label %r is not in the config; labels: %s' % (label, ', '.join(labels)))
    for name, entries in configs.items():
        if not isinstance(entries, list) or not entries:
            problems.append('mig-configs.%s: expected a non-empty list of entries' % name)
    if problems:
        raise LayoutError(problems)
    result = []
    for number, entry in enumerate(configs[label]):
        parsed = _parse_entry(entry, 'mig-configs.%s[%d]' % (label, number), problems, inline=False)
        if parsed is not None:
            result.append(parsed)
    if problems:
        raise LayoutError(problems)
    return tuple(result)


def parse_inline_layout(entries):
    """Parse an inline layout (a list of entries, or one entry), with the placements and device-selector extensions.

    Returns the entries normalised (see the module docstring); raises LayoutError listing every problem.
    """
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, (list, tuple)) or not entries:
        raise LayoutError('the layout must be a non-empty list of entries (or one entry), not %r' % (entries,))
    problems = []
    result = []
    for number, entry in enumerate(entries):
        parsed = _parse_entry(entry, 'layout[%d]' % number, problems, inline=True)
        if parsed is not None:
            result.append(parsed)
    if problems:
        raise LayoutError(problems)
    return tuple(result)
