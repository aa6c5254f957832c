# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the NVIDIA device plugin advertises, written from /work/shared/reference/k8s.md
sections 1.1-1.6 (deliberately independent of the collection's own resource logic).

``advertise(node_state, strategy)`` takes the JSON of ``simnode show STATE --json`` and
returns the extended resources the plugin registers with the kubelet, or raises
PluginError with the message the real plugin exits with."""

from __future__ import absolute_import, division, print_function

import json
import re
import subprocess

import yaml

STRATEGIES = ('none', 'single', 'mixed')
GPU = 'nvidia.com/gpu'


class PluginError(Exception):
    """The plugin process exits with this message (the pod goes to CrashLoopBackOff)."""


def parse_config(text):
    """Return flags.migStrategy of a device plugin v1 config file, or None when the file
    does not set it.  Parsing is lenient like sigs.k8s.io/yaml + encoding/json: unknown keys
    anywhere are ignored (section 1.2); type errors and bad values are fatal."""
    try:
        data = yaml.safe_load(text) if text else None
    except yaml.YAMLError as exc:
        raise PluginError('unable to load config: unable to parse config file: %s' % str(exc).replace('\n', ' ')) from exc
    if data is None:
        return None
    if not isinstance(data, dict):
        raise PluginError('unable to load config: unable to parse config file: unmarshal error: '
                          'json: cannot unmarshal %s into Go value of type v1.Config' % type(data).__name__)
    version = data.get('version')
    if version not in (None, '', 'v1'):
        raise PluginError('unable to load config: unable to parse config file: unknown version: %s' % version)
    flags = data.get('flags')
    if flags is None:
        return None
    if not isinstance(flags, dict):
        raise PluginError('unable to load config: unable to parse config file: unmarshal error: '
                          'json: cannot unmarshal %s into Go struct field Config.flags of type v1.Flags' % type(flags).__name__)
    strategy = flags.get('migStrategy')
    if strategy is None:
        return None
    if not isinstance(strategy, str):
        raise PluginError('unable to load config: unable to parse config file: unmarshal error: json: cannot unmarshal '
                          '%s into Go struct field CommandLineFlags.flags.migStrategy of type string' % type(strategy).__name__)
    return strategy


def check_strategy(strategy):
    if strategy not in STRATEGIES:
        raise PluginError('unable to validate flags: unknown MIG strategy: %s' % strategy)
    return strategy


def read_node(simnode, state_path):
    """``simnode show STATE --json`` as a dict (raises PluginError when it fails)."""
    try:
        proc = subprocess.run([simnode, 'show', state_path, '--json'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, check=False)
    except OSError as exc:
        raise PluginError('failed to initialize NVML: cannot run %s: %s' % (simnode, exc)) from exc
    if proc.returncode != 0:
        raise PluginError('failed to initialize NVML: %s' % (proc.stderr.strip() or 'simnode failed'))
    return json.loads(proc.stdout)


def _gi_slices(profile):
    match = re.match(r'^(\d+)g\.', profile or '')
    return int(match.group(1)) if match else None


def mig_devices(gpu):
    """MIG devices of a GPU: one per compute instance, as (gi_profile, ci_profile, full)."""
    devices = []
    for gi in gpu.get('gpu_instances') or []:
        slices = _gi_slices(gi.get('profile'))
        for ci in gi.get('compute_instances') or []:
            devices.append((gi.get('profile'), ci.get('profile'), ci.get('size') == slices))
    return devices


def advertise(node_state, strategy, fail_on_init_error=True):
    """The resources (name -> count) the plugin registers for one node (section 1.5)."""
    if not node_state.get('driver_loaded', True):
        if fail_on_init_error:
            raise PluginError('failed to initialize NVML: Driver Not Loaded')
        return {}
    gpus = node_state.get('gpus') or []
    if not gpus:
        if fail_on_init_error:
            raise PluginError('failed to initialize NVML: Driver Not Loaded')
        return {}
    mig_enabled = [g for g in gpus if g.get('mig_capable') and g.get('mig_mode_current') == 1]
    plain = [g for g in gpus if g not in mig_enabled]
    if strategy == 'none' or (strategy == 'single' and not mig_enabled):
        return {GPU: len(gpus)}
    if strategy == 'single':
        devices = []
        for gpu in mig_enabled:
            found = mig_devices(gpu)
            if not found:
                raise PluginError('error starting plugins: invalid MIG configuration: device %d has no MIG devices configured' % gpu['index'])
            devices.extend(found)
        if len(set((d[0], d[1]) for d in devices)) > 1:
            raise PluginError('error starting plugins: invalid MIG configuration: more than one MIG device type present on node')
        if plain:
            raise PluginError('error starting plugins: error building device map: '
                              'all devices on the node must be configured with the same migEnabled value')
        return {GPU: len(devices)}
    # mixed: resource patterns exist only for profiles with C == G (rm.go AddDefaultResourcesToConfig), and the first MIG
    # device, in GPU then GI then CI order, whose profile matches none stops the plugin (device_map.go buildMigDeviceMap).
    resources = {}
    if plain:
        resources[GPU] = len(plain)
    for gpu in mig_enabled:
        for gi_profile, ci_profile, full in mig_devices(gpu):
            if not full:
                raise PluginError('error starting plugins: error getting plugins: unable to create plugins: failed to construct '
                                  'resource managers: error building device map: error building device map from config.resources: '
                                  "error building MIG device map: MIG profile '%s' does not match any resource patterns" % ci_profile)
            name = 'nvidia.com/mig-' + gi_profile.replace('+', '.')
            resources[name] = resources.get(name, 0) + 1
    return resources


def is_plugin_resource(name):
    return name == GPU or name.startswith('nvidia.com/mig-')


def apply_to_node(node, resources):
    """Set capacity and allocatable as the kubelet does after the plugin registers: the
    advertised counts, and "0" for plugin resources that are no longer advertised
    (k8s-device-plugin #214/#240: stale names stay on the node with 0)."""
    status = node.setdefault('status', {})
    for field in ('capacity', 'allocatable'):
        current = status.setdefault(field, {})
        for name in list(current):
            if is_plugin_resource(name) and name not in resources:
                current[name] = '0'
        for name, count in resources.items():
            current[name] = str(count)
