# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Strict validation of NVIDIA device plugin config files (``version: v1``), and what a node must advertise.

The plugin itself ignores unknown or misplaced keys silently (k8s.md 1.2: a ``renameByDefault`` put
under ``flags`` does nothing, k8s-device-plugin#1433), so a typo changes nothing and nobody notices.
Here every key is checked against the v1 schema (k8s.md 1.1) and every problem is named with its
path and what would be valid, before anything is written.
"""

from __future__ import annotations

import json

from ansible_collections.gpufleet.mig.plugins.module_utils._resources import GPU_RESOURCE, MIG_RESOURCE_PREFIX

__all__ = (
    'config_problems',
    'load_config',
    'mig_strategy',
    'resource_differences',
)

_BOOL, _STR, _INT = 'bool', 'str', 'int'
_STR_OR_LIST = 'str-or-list'
_DEVICES = 'devices'

# The v1 schema: key -> type, or a nested dict. (k8s.md 1.1, api/config/v1/*.go)
_REPLICATED = {'renameByDefault': _BOOL, 'failRequestsGreaterThanOne': _BOOL, 'resources': 'replicated-list'}
_SCHEMA = {
    'version': _STR,
    'flags': {
        'migStrategy': _STR, 'failOnInitError': _BOOL, 'nvidiaDriverRoot': _STR, 'nvidiaDevRoot': _STR, 'mpsRoot': _STR,
        'gdrcopyEnabled': _BOOL, 'gdsEnabled': _BOOL, 'mofedEnabled': _BOOL, 'useNodeFeatureAPI': _BOOL,
        'deviceDiscoveryStrategy': _STR,
        'plugin': {'passDeviceSpecs': _BOOL, 'deviceListStrategy': _STR_OR_LIST, 'deviceIDStrategy': _STR,
                   'cdiAnnotationPrefix': _STR, 'nvidiaCTKPath': _STR, 'containerDriverRoot': _STR,
                   'sharedDevicesAllocationPolicy': _STR},
        'gfd': {'oneshot': _BOOL, 'noTimestamp': _BOOL, 'sleepInterval': _STR, 'outputFile': _STR, 'machineTypeFile': _STR},
    },
    'resources': {'gpus': 'pattern-list', 'mig': 'pattern-list'},
    'sharing': {'timeSlicing': _REPLICATED, 'mps': _REPLICATED},
    'imex': {'channelIDs': 'int-list', 'required': _BOOL},
}
_CHOICES = {
    'flags.migStrategy': ('none', 'single', 'mixed'),
    'flags.deviceDiscoveryStrategy': ('auto', 'nvml', 'tegra'),
    'flags.plugin.deviceListStrategy': ('envvar', 'volume-mounts', 'cdi-annotations', 'cdi-cri'),
    'flags.plugin.deviceIDStrategy': ('uuid', 'index'),
    'flags.plugin.sharedDevicesAllocationPolicy': ('distributed', 'packed'),
}


def load_config(value):
    """A config given as a dict, or as YAML/JSON text; ValueError naming the problem otherwise."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise ValueError('a device plugin config must be a mapping or YAML text, not %s' % type(value).__name__)
    # Both parsers recurse once per nesting level, so deep nesting ends in RecursionError rather than a parse error.
    try:
        try:
            data = json.loads(value)
        except ValueError:
            data = _load_yaml(value)
    except RecursionError:
        raise ValueError('the config is nested too deeply to read; a device plugin config is a mapping a few levels deep') from None
    # JSON text such as '0' or '[]' parses too, and is no more a config than the same YAML.
    if not isinstance(data, dict):
        raise ValueError('a device plugin config must be a mapping at the top level')
    return data


def _load_yaml(text):
    try:
        import yaml
    except ImportError:
        raise ValueError('the config is not JSON, and PyYAML is not installed to read it as YAML') from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError('the config is not valid YAML: %s' % exc) from None


def _is(value, kind):
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def _walk(data, schema, path, problems):
    for key, value in sorted(data.items(), key=lambda item: str(item[0])):
        where = '%s.%s' % (path, key) if path else str(key)
        if key not in schema:
            problems.append('%s: unknown key; valid keys%s: %s' % (where, ' under %s' % path if path else '', ', '.join(sorted(schema))))
            continue
        kind = schema[key]
        if isinstance(kind, dict):
            if not isinstance(value, dict):
                problems.append('%s: must be a mapping' % where)
            else:
                _walk(value, kind, where, problems)
                if kind is _REPLICATED and 'resources' not in value:
                    problems.append('%s.resources: no resources specified; give a list of {name, replicas}' % where)
        elif kind == _STR_OR_LIST:
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, str) for v in values):
                problems.append('%s: must be a string or a list of strings' % where)
            else:
                for item in values:
                    _choice(where, item, problems)
        elif kind == 'replicated-list':
            _replicated(where, value, problems)
        elif kind == 'pattern-list':
            _patterns(where, value, problems)
        elif kind == 'int-list':
            if not isinstance(value, list) or value not in ([], [0]):
                problems.append('%s: must be [] or [0], got %r' % (where, value))
        elif not _is(value, kind):
            problems.append('%s: %r must be %s' % (where, value, {_BOOL: 'a boolean (true/false)', _STR: 'a string', _INT: 'an integer'}[kind]))
        else:
            _choice(where, value, problems)


def _choice(where, value, problems):
    choices = _CHOICES.get(where)
    if choices and value not in choices:
        problems.append('%s: %r is not valid; valid values: %s' % (where, value, ', '.join(choices)))


def _replicated(where, value, problems):
    if not isinstance(value, list) or not value:
        problems.append('%s: no resources specified; give a list of {name, replicas}' % where)
        return
    for position, item in enumerate(value):
        at = '%s[%d]' % (where, position)
        if not isinstance(item, dict):
            problems.append('%s: must be a mapping with name and replicas' % at)
            continue
        # YAML keys need not be strings, and mixed types do not sort.
        for key in sorted((k for k in item if k not in ('name', 'replicas', 'rename', 'devices')), key=str):
            problems.append('%s.%s: unknown key; valid keys: devices, name, rename, replicas' % (at, key))
        name = item.get('name')
        if name is None or name == '':
            problems.append('%s.name: no resource name specified; give the resource to share, e.g. nvidia.com/gpu' % at)
        elif not isinstance(name, str):
            problems.append('%s.name: %r must be a string, a resource name such as nvidia.com/gpu' % (at, name))
        replicas = item.get('replicas')
        if replicas is None:
            problems.append('%s.replicas: no replicas specified; give an integer >= 2' % at)
        elif not _is(replicas, _INT) or replicas < 2:
            problems.append('%s.replicas: %r must be an integer >= 2' % (at, replicas))
        if 'rename' in item and not isinstance(item['rename'], str):
            problems.append('%s.rename: %r must be a string, a resource name' % (at, item['rename']))
        if 'devices' in item and not _devices_ok(item['devices']):
            problems.append("%s.devices: %r must be 'all', a positive integer, or a list of GPU indices, MIG indices ('0:1') or UUIDs"
                            % (at, item['devices']))


def _devices_ok(value):
    # The plugin's ReplicatedDevices (k8s.md 1.1): "all", a positive count, or a list of indices and UUIDs.
    if isinstance(value, str):
        return value == 'all'
    if _is(value, _INT):
        return value > 0
    return isinstance(value, list) and all((_is(v, _INT) and v >= 0) or (isinstance(v, str) and v) for v in value)


def _patterns(where, value, problems):
    if not isinstance(value, list):
        problems.append('%s: must be a list of {pattern, name}' % where)
        return
    for position, item in enumerate(value):
        if not isinstance(item, dict) or not item.get('pattern') or not item.get('name'):
            problems.append("%s[%d]: resources must have a 'pattern' and a 'name' field set" % (where, position))
            continue
        for key in sorted((k for k in item if k not in ('pattern', 'name')), key=str):
            problems.append('%s[%d].%s: unknown key; valid keys: name, pattern' % (where, position, key))
        for key in ('pattern', 'name'):
            # The plugin unmarshals both into strings; any other type fails its start-up.
            if not isinstance(item[key], str):
                problems.append('%s[%d].%s: %r must be a string' % (where, position, key, item[key]))


def config_problems(config):
    """Every problem with a device plugin v1 config (a dict), each naming its path and what is valid."""
    if not isinstance(config, dict):
        return ['the config must be a mapping']
    problems = []
    version = config.get('version', 'v1')
    if version not in ('v1', ''):
        problems.append('version: unknown version %r; valid: v1' % (version,))
    _walk(config, _SCHEMA, '', problems)
    sharing = config.get('sharing') if isinstance(config.get('sharing'), dict) else {}
    strategy = mig_strategy(config)
    if strategy == 'mixed' and sharing.get('mps'):
        problems.append('sharing.mps: MPS sharing is not supported with migStrategy mixed')
    return problems


def mig_strategy(config):
    """The config's MIG strategy (the plugin's default is none)."""
    flags = config.get('flags') if isinstance(config.get('flags'), dict) else {}
    return flags.get('migStrategy') or 'none'


def resource_differences(advertised, expected):
    """Compare a node's GPU resources with what is expected.

    ``advertised``: the node's status.allocatable (or capacity); ``expected``: resource -> count.
    Returns (wrong, stale): ``wrong`` maps a resource to (advertised, expected) where they differ;
    ``stale`` lists GPU resources advertised with a non-zero count that are not expected.  A stale
    resource at "0" is how the kubelet leaves a name that disappeared (k8s.md 1.6), so it is fine.
    """
    gpu = dict((key, int(value)) for key, value in (advertised or {}).items()
               if key == GPU_RESOURCE or key.startswith(GPU_RESOURCE + '.') or key.startswith(MIG_RESOURCE_PREFIX))
    wrong = {}
    for resource, count in sorted(expected.items()):
        if gpu.get(resource, 0) != count:
            wrong[resource] = (gpu.get(resource, 0), count)
    stale = sorted(key for key, value in gpu.items() if key not in expected and value)
    return wrong, stale
