#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: device_plugin_config
short_description: Manage NVIDIA device plugin configs, select one for a node, and wait for its MIG resources
version_added: 0.1.0
description:
  - Writes named configs into the device plugin's ConfigMap, after checking each strictly against the plugin's C(version=v1)
    schema - the plugin itself silently ignores unknown or misplaced keys. Other configs in the ConfigMap are left alone.
  - With O(node), selects O(config_name) for that node with the label C(nvidia.com/device-plugin.config), checks that
    the config's MIG strategy suits the node's layout, restarts the plugin pod on the node when needed (the plugin only
    enumerates MIG devices when it starts), and waits until the node advertises exactly the resources the layout gives
    under that strategy.
  - A strategy the plugin would crash-loop on is refused before anything changes, naming the GPUs and profiles -
    C(single) needs one MIG profile on every MIG-enabled GPU; C(mixed) has resources only for whole compute instances, so
    a GPU instance split into smaller ones (C(1c.3g.20gb)) stops the plugin. See
    P(gpufleet.mig.mig_strategy_problems#filter).
  - On a timeout it fails, naming the resources that are wrong, missing or stale and the plugin pod's state.
  - With O(nodes), in check mode, checks many nodes in one run - one ConfigMap read and one read of each node - as a
    preflight of a whole fleet does.
  - Runs where the Kubernetes client and credentials are, usually the controller (C(delegate_to=localhost)).
author:
  - gpufleet.mig contributors (@gpufleet)
extends_documentation_fragment:
  - gpufleet.mig.attributes
  - gpufleet.mig.attributes.ACTIONGROUP_K8S
  - gpufleet.mig.k8s_auth
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Shows the managed ConfigMap keys, the node's config label and its GPU resources before and after.
  idempotent:
    support: full
options:
  namespace:
    description:
      - Namespace of the ConfigMap and of the device plugin pods.
    type: str
    default: gpu-operator
  configmap:
    description:
      - Name of the ConfigMap that holds the named configs (the Helm chart's C(config.name)).
    type: str
    required: true
  configs:
    description:
      - Named configs to write, as mappings or YAML text. Keys not listed here are left as they are.
    type: dict
    default: {}
  node:
    description:
      - The node whose plugin config to select and whose resources to wait for.
    type: str
  config_name:
    description:
      - The config to select for O(node); it must exist in O(configs) or already in the ConfigMap.
    type: str
  gpus:
    description:
      - The node's GPUs, as the RV(gpufleet.mig.gpu_info#module:node.gpus) list of M(gpufleet.mig.gpu_info) (entries
        need C(index), C(mig_capable) and C(layout)), from which the expected resources are computed.
      - Required with O(node) unless O(wait=false).
    type: list
    elements: dict
  planned_layouts:
    description:
      - The layouts M(gpufleet.mig.mig_layout) will apply, as its RV(gpufleet.mig.mig_layout#module:gpus) list (for example
        from a check-mode run); they replace the current layouts of O(gpus) when the expected resources are computed, so
        a strategy can be checked before the layout changes.
    type: list
    elements: dict
  nodes:
    description:
      - Several nodes to check at once, each a mapping with the keys C(node) and C(config_name) (required), C(gpus) and
        C(planned_layouts), which mean what the options of the same names mean for one node.
      - Read-only - only in check mode (C(check_mode=true)); to change nodes, give each its own task with O(node).
      - Every node is checked; each one's findings are in RV(nodes), and the module fails, naming each node's problem,
        when any node has one.
      - Mutually exclusive with O(node).
    type: list
    elements: dict
  dra:
    description:
      - With O(nodes), also find out which nodes NVIDIA's DRA driver (C(gpu.nvidia.com)) serves and check those as
        M(gpufleet.mig.dra_plugin) does with its O(gpufleet.mig.dra_plugin#module:nodes) - their ResourceSlices against
        the devices of their planned layouts - instead of their device plugin, in the same run (one list of the DRA
        kubelet plugin pods for all nodes). Each node may then also have the key C(allocator) - V(auto) (the default) takes a
        node where a kubelet plugin pod of O(dra.daemonset) runs for a DRA node, V(device-plugin) and V(dra) say which.
      - The preflight of the role P(gpufleet.mig.mig_rollout#role) checks a cluster with one run of this.
    type: dict
    suboptions:
      namespace:
        description: Namespace of the DRA driver's kubelet plugin pods.
        type: str
        default: dra-driver-nvidia-gpu
      daemonset:
        description: Name of the DaemonSet of the DRA driver's kubelet plugin.
        type: str
        default: dra-driver-nvidia-gpu-kubelet-plugin
      selector:
        description: Label selector of the kubelet plugin pods.
        type: str
        default: dra-driver-nvidia-gpu-component=kubelet-plugin
  plugin_selector:
    description:
      - Label selector of the device plugin pods.
    type: str
    default: app=nvidia-device-plugin-daemonset
  restart:
    description:
      - V(auto) restarts the plugin pod on the node when its config label or config changed, or when the node does not
        advertise the expected resources; V(always) and V(never) do what they say.
    type: str
    choices: [auto, always, never]
    default: auto
  wait:
    description:
      - Wait until the node advertises exactly the expected resources.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the resources.
    type: int
    default: 300
seealso:
  - module: gpufleet.mig.gpu_info
  - module: gpufleet.mig.mig_layout
"""

EXAMPLES = r"""
---
- name: Read the node's GPUs
  gpufleet.mig.gpu_info:
  become: true
  register: gpus

- name: Use the mixed strategy on this node and wait for its MIG resources
  gpufleet.mig.device_plugin_config:
    configmap: nvidia-device-plugin-configs
    configs:
      mig-mixed:
        version: v1
        flags:
          migStrategy: mixed
    node: "{{ inventory_hostname }}"
    config_name: mig-mixed
    gpus: "{{ gpus.node.gpus }}"
  delegate_to: localhost

- name: Say what each node's device plugin check needs
  ansible.builtin.set_fact:
    plugin_check:
      node: "{{ inventory_hostname }}"
      config_name: mig-mixed
      gpus: "{{ gpus.node.gpus }}"

- name: Check a fleet in one task - would any node's plugin restart, or refuse its config?
  gpufleet.mig.device_plugin_config:
    configmap: nvidia-device-plugin-configs
    nodes: >-
      {{ ansible_play_hosts | map('extract', hostvars, 'plugin_check') | list }}
  check_mode: true
  run_once: true
  delegate_to: localhost
  register: fleet
"""

RETURN = r"""
expected:
  description: The GPU resources the node should advertise.
  returned: with O(node)
  type: dict
  sample: {nvidia.com/mig-1g.5gb: 4, nvidia.com/mig-3g.20gb: 2}
advertised:
  description: The node's GPU resources (allocatable) at the end.
  returned: with O(node)
  type: dict
restarted:
  description: Whether the plugin pod on the node was restarted.
  returned: with O(node)
  type: bool
written:
  description: Config names written to the ConfigMap (or that would be, in check mode).
  returned: always
  type: list
  elements: str
labels:
  description: The node's labels as read (after the config label was set, outside check mode), so that one task gives a
    playbook both the plugin's state and the node's.
  returned: with O(node)
  type: dict
annotations:
  description: The node's annotations as read.
  returned: with O(node)
  type: dict
unschedulable:
  description: Whether the node is cordoned.
  returned: with O(node)
  type: bool
nodes:
  description:
    - With O(nodes), each node's findings by node name - RV(expected), RV(advertised), RV(restarted), RV(labels),
      RV(annotations) and RV(unschedulable) as for one node, or C(failed=true) and C(msg) saying what is wrong with it.
    - With O(dra), each node also has C(allocator) - V(device-plugin), or V(dra) for a node NVIDIA's DRA driver serves,
      whose entry is then what M(gpufleet.mig.dra_plugin)'s RV(gpufleet.mig.dra_plugin#module:nodes) has for it.
  returned: with O(nodes)
  type: dict
  sample:
    gpu-node-7:
      expected: {nvidia.com/mig-3g.40gb: 16}
      advertised: {nvidia.com/mig-3g.40gb: 16}
      restarted: false
      labels: {nvidia.com/mig.config: all-3g.40gb}
      annotations: {}
      unschedulable: false
"""

import traceback

from ansible_collections.gpufleet.mig.plugins.module_utils._dra_check import DRA_DEFAULTS, check_nodes as check_dra_nodes, options_problems, specs_problems
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import (
    KubeError, config_key_problem, label_value_problem, metadata_patch, name_problem, pod_state)
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s_module import KubeModule
from ansible_collections.gpufleet.mig.plugins.module_utils._module import Library
from ansible_collections.gpufleet.mig.plugins.module_utils._plugin_config import config_problems, load_config, mig_strategy, resource_differences
from ansible_collections.gpufleet.mig.plugins.module_utils._resources import expected_resources, strategy_problems, with_planned_layouts
from ansible_collections.gpufleet.mig.plugins.module_utils._wait import POLL_INTERVAL, Waiter, WaitTimeout

CONFIG_LABEL = 'nvidia.com/device-plugin.config'
NODE_KEYS = ('node', 'config_name', 'gpus', 'planned_layouts', 'allocator')

try:
    import yaml
except ImportError:
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    YAML_IMPORT_ERROR = None


def _gpu_resources(node):
    allocatable = (node.get('status') or {}).get('allocatable') or {}
    return dict((key, value) for key, value in allocatable.items() if key.startswith(('nvidia.com/gpu', 'nvidia.com/mig-')))


class PluginConfig(object):
    """Validate, write configs, select for the node, restart, wait."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        # What was done so far, which a failure reports too.
        self.result = module.failure = {'changed': False, 'written': []}

    def validate(self):
        """Every problem with the arguments, before any request: names, configs, and the shape of gpus and planned_layouts."""
        params = self.params
        problems = [p for p in (name_problem('namespace', params['namespace'], 'label'), name_problem('configmap', params['configmap']),
                                params['node'] is not None and name_problem('node', params['node']),
                                params['node'] and params['config_name'] and label_value_problem('config_name', params['config_name']),
                                params['timeout'] < 0 and 'timeout must be at least 0, got %d' % params['timeout']) if p]
        configs = {}
        for name, value in sorted(self.params['configs'].items()):
            problem = config_key_problem('configs', name)
            if problem:
                problems.append(problem)
                continue
            try:
                config = load_config(value)
            except ValueError as exc:
                problems.append('config %s: %s' % (name, exc))
                continue
            problems.extend('config %s: %s' % (name, problem) for problem in config_problems(config))
            configs[name] = config
        problems.extend(self.nodes_problems())
        self.dra_devices = None
        if self.params['dra'] is not None:
            problems.extend('dra.%s' % problem for problem in options_problems(self.params['dra']))
            if self.params['nodes'] is None:
                problems.append('dra is for nodes: with node, the node is a device plugin node (use gpufleet.mig.dra_plugin for a DRA node)')
            elif not [p for p in problems if p.startswith('nodes[')]:
                self.dra_devices, found = specs_problems(self.params['nodes'], first=1)
                problems.extend(found)
        if self.params['node'] and not self.params['config_name']:
            problems.append('config_name is required with node')
        if self.params['node'] and self.params['wait'] and self.params['gpus'] is None:
            problems.append("gpus (gpu_info's node.gpus of the node) is required with node unless wait is false")
        problems.extend(_layout_problems('', params['gpus'], params['planned_layouts']))
        self.module.fail_problems(problems)
        return configs

    def nodes_problems(self):
        """The problems with O(nodes): its use, each entry's keys and values, the same node twice."""
        nodes = self.params['nodes']
        if nodes is None:
            return []
        problems = []
        if not self.module.check_mode:
            problems.append('nodes only checks (it needs check mode); to change nodes, give each its own task with node')
        seen = set()
        for number, entry in enumerate(nodes, 1):
            where = 'nodes[%d]' % number
            unknown = sorted(set(entry) - set(NODE_KEYS))
            if unknown:
                problems.append('%s: unknown keys %s (valid: %s)' % (where, ', '.join(map(str, unknown)), ', '.join(NODE_KEYS)))
            node, config_name = entry.get('node'), entry.get('config_name')
            problem = name_problem('%s.node' % where, node) if isinstance(node, str) else '%s.node must be a node name, got %r' % (where, node)
            if problem:
                problems.append(problem)
            elif node in seen:
                problems.append('%s: node %s is listed twice' % (where, node))
            seen.add(node)
            if 'allocator' in entry and self.params['dra'] is None:
                problems.append('%s.allocator needs the option dra' % where)
            problem = (label_value_problem('%s.config_name' % where, config_name) if isinstance(config_name, str) and config_name
                       else '%s.config_name must be a config name, got %r' % (where, config_name))
            if problem:
                problems.append(problem)
            shapes = [key for key in ('gpus', 'planned_layouts') if entry.get(key) is not None
                      and not (isinstance(entry[key], list) and all(isinstance(item, dict) for item in entry[key]))]
            problems.extend('%s.%s must be a list of mappings, got %s' % (where, key, _short(entry[key])) for key in shapes)
            problems.extend(_layout_problems(where + '.', *(None if key in shapes else entry.get(key) for key in ('gpus', 'planned_layouts'))))
        return problems

    def run(self, kube):
        configs = self.validate()
        nodes = self.params['nodes']
        dra = None
        if nodes is not None and self.params['dra'] is not None:
            dra = check_dra_nodes(kube, self.params['dra'], nodes, self.dra_devices)
            nodes = [spec for spec in nodes if dra[0][spec['node']]['allocator'] != 'dra']
            if not nodes:
                # No node for the device plugin: its ConfigMap is not this run's business.
                self.finish_nodes({}, [], dra)
                return self.result
        namespace, name = self.params['namespace'], self.params['configmap']
        existing = kube.read_config_map(namespace, name)
        data = (existing or {}).get('data') or {}
        to_write = dict((key, yaml.safe_dump(config, default_flow_style=False, sort_keys=True)) for key, config in configs.items()
                        if key not in data or _parsed(data[key]) != config)
        self.result['written'] = sorted(to_write)
        if self.module._diff:
            self.result['diff'] = {'before': {'configmap': dict((k, data.get(k)) for k in sorted(configs))},
                                   'after': {'configmap': dict((k, data.get(k)) for k in sorted(configs))}}
            self.result['diff']['after']['configmap'].update(to_write)

        expected = None
        if self.params['node']:
            try:
                expected = self.expected(self.params, configs, data)
            except NodeProblem as exc:
                self.module.fail_json(msg=str(exc), **exc.extra)
        elif nodes is not None:
            if to_write:
                self.result['changed'] = True
            self.finish_nodes(*self.check_nodes(kube, nodes, configs, data, to_write), dra=dra)
            return self.result

        if to_write:
            self.result['changed'] = True
            if not self.module.check_mode:
                kube.write_config_map_data(namespace, name, to_write, existing)
        if self.params['node']:
            self.select_and_wait(kube, expected, self.params['config_name'] in to_write)
        return self.result

    def expected(self, spec, configs, data):
        """The resources ``spec`` (O(node), O(config_name), O(gpus), O(planned_layouts)) should advertise; NodeProblem if none can."""
        selected = configs.get(spec['config_name'])
        if selected is None and spec['config_name'] in data:
            selected = _parsed(data[spec['config_name']])
        if selected is None:
            raise NodeProblem('config %s is neither in configs nor in configmap %s/%s (it has: %s)'
                              % (spec['config_name'], self.params['namespace'], self.params['configmap'], ', '.join(sorted(data)) or 'nothing'))
        strategy = mig_strategy(selected)
        gpus = spec.get('gpus')
        if gpus is not None and spec.get('planned_layouts'):
            gpus = with_planned_layouts(gpus, spec['planned_layouts'])
        problems = strategy_problems(gpus, strategy) if gpus is not None else []
        if problems:
            raise NodeProblem('the device plugin would not start on %s with config %s (migStrategy %s): %s'
                              % (spec['node'], spec['config_name'], strategy, '; '.join(problems)), problems=problems)
        try:
            return None if gpus is None else expected_resources(gpus, strategy)
        except ValueError as exc:
            raise NodeProblem('gpus: %s' % exc)

    def check_nodes(self, kube, specs, configs, data, to_write):
        """What each node's task with O(node) would find in check mode: ``({node: findings}, [failure, ...])``."""
        found, failed = {}, []
        broken = None
        for spec in specs:
            try:
                if broken is not None:
                    # The API failed for something other than this node: the nodes not read yet are not tried one by one.
                    raise NodeProblem('not read: %s' % broken)
                expected = self.expected(spec, configs, data)
                node = kube.read_node(spec['node'])
            except (NodeProblem, KubeError) as exc:
                if isinstance(exc, KubeError) and exc.status != 404:
                    broken = exc
                found[spec['node']] = dict(failed=True, msg=str(exc), **getattr(exc, 'extra', {}))
                failed.append('%s: %s' % (spec['node'], exc))
                continue
            label_changed = _label_patch(node, spec['config_name']) is not None
            result = self.node_result(node, label_changed, expected, spec['config_name'] in to_write)
            self.result['changed'] = self.result['changed'] or label_changed or result['restarted']
            found[spec['node']] = result
        return found, failed

    def finish_nodes(self, found, failed, dra=None):
        """O(nodes)' result from the device plugin nodes' findings and failures, and with O(dra) the DRA check's
        (``({node: entry}, [failure, ...])``); fail naming every node with a problem."""
        if dra is not None:
            served = dict((node, entry) for node, entry in dra[0].items() if entry['allocator'] == 'dra')
            for entry in found.values():
                entry['allocator'] = 'device-plugin'
            found, failed = dict(found, **served), dra[1] + failed
            self.result['changed'] = self.result['changed'] or any(entry.get('restarted') for entry in served.values())
        self.result['nodes'] = found
        if failed:
            self.module.fail_json(msg='%d of %d nodes: %s' % (len(failed), len(found), '; '.join(failed)))

    def node_result(self, node, label_changed, expected, config_changed):
        """What a node read shows: whether its plugin must restart (config label, config or resources differ), its labels and state."""
        wrong, stale = resource_differences(_gpu_resources(node), expected) if expected is not None else ({}, [])
        restart = {'always': True, 'never': False}.get(self.params['restart'], label_changed or config_changed or bool(wrong or stale))
        return dict(restarted=restart, expected=expected, advertised=_gpu_resources(node),
                    labels=dict(node['metadata'].get('labels') or {}), annotations=dict(node['metadata'].get('annotations') or {}),
                    unschedulable=bool((node.get('spec') or {}).get('unschedulable')))

    def select_and_wait(self, kube, expected, config_changed):
        node_name = self.params['node']
        wanted = self.params['config_name']
        before, after, label_changed = self.module.update_node(node_name, lambda current: _label_patch(current, wanted))
        # The node as read: check mode does not set the label (RETURN's labels), as O(nodes) reports each node.
        node = before if self.module.check_mode else after
        found = self.node_result(node, label_changed, expected, config_changed)
        restart = found['restarted']
        self.result.update(changed=self.result['changed'] or label_changed or restart, **found)
        if self.module._diff:
            self.result.setdefault('diff', {'before': {}, 'after': {}})
            self.result['diff']['before'].update(label=(node['metadata'].get('labels') or {}).get(CONFIG_LABEL) if not label_changed else None,
                                                 resources=_gpu_resources(node))
            self.result['diff']['after'].update(label=wanted, resources=expected if expected is not None else _gpu_resources(node))
        if self.module.check_mode:
            return
        old_uids = set()
        if restart:
            for pod in kube.pods(self.params['namespace'], self.params['plugin_selector'], node_name):
                old_uids.add(pod['metadata']['uid'])
                kube.delete_pod(self.params['namespace'], pod['metadata']['name'])
        if self.params['wait'] and expected is not None:
            self.wait(kube, expected, old_uids)

    def wait(self, kube, expected, old_uids):
        node_name, namespace, selector = self.params['node'], self.params['namespace'], self.params['plugin_selector']

        def observe():
            node = kube.read_node(node_name)
            pods = [p for p in kube.pods(namespace, selector, node_name) if p['metadata']['uid'] not in old_uids]
            self.result['advertised'] = _gpu_resources(node)
            return pods, resource_differences(_gpu_resources(node), expected)

        def advertised_as_planned(observed):
            pods, (wrong, stale) = observed
            return pods and not wrong and not stale

        def message(observed):
            pods, (wrong, stale) = observed
            parts = ['%s is %s, expected %s' % (key, have, want) for key, (have, want) in sorted(wrong.items())]
            parts += ['%s is still advertised' % key for key in stale]
            plugin = ', '.join('%s (%s)' % (p['metadata']['name'], pod_state(p)) for p in pods) or 'no new plugin pod on the node'
            return ('node %s does not advertise the expected GPU resources after %ss: %s; device plugin: %s'
                    % (node_name, self.params['timeout'], '; '.join(parts) or 'no plugin pod has started', plugin))

        try:
            Waiter(self.params['timeout']).until(observe, advertised_as_planned, POLL_INTERVAL, message)
        except WaitTimeout as exc:
            wrong, stale = exc.last[1]
            self.module.fail_json(msg=str(exc), wrong=dict((k, {'advertised': h, 'expected': w}) for k, (h, w) in wrong.items()), stale=stale)


class NodeProblem(Exception):
    """Something wrong with one node's config or GPUs (not with the request): the node fails, others go on."""

    def __init__(self, msg, **extra):
        super(NodeProblem, self).__init__(msg)
        self.extra = extra


def _layout_problems(prefix, gpus, planned):
    """Malformed ``gpus`` or ``planned_layouts`` of one node, found by the parsing run() does later, before any request."""
    try:
        gpus = with_planned_layouts(gpus or [], planned)
    except ValueError as exc:
        return ['%splanned_layouts: %s' % (prefix, exc)]
    try:
        expected_resources(gpus, 'none')
    except ValueError as exc:
        return ['%sgpus: %s' % (prefix, exc)]
    return []


def _label_patch(node, wanted):
    """The merge patch that selects config ``wanted`` for ``node``, or None when it is selected already."""
    metadata = metadata_patch(node['metadata'], {CONFIG_LABEL: wanted}, None)
    return {'metadata': metadata} if metadata else None


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


def _parsed(text):
    try:
        return load_config(text)
    except ValueError:
        return None


def main():
    module = KubeModule(
        argument_spec=dict(
            namespace=dict(type='str', default='gpu-operator'),
            configmap=dict(type='str', required=True),
            configs=dict(type='dict', default={}),
            node=dict(type='str'),
            config_name=dict(type='str'),
            gpus=dict(type='list', elements='dict'),
            planned_layouts=dict(type='list', elements='dict'),
            nodes=dict(type='list', elements='dict'),
            dra=dict(type='dict', options=dict(
                namespace=dict(type='str', default=DRA_DEFAULTS['namespace']),
                daemonset=dict(type='str', default=DRA_DEFAULTS['daemonset']),
                selector=dict(type='str', default=DRA_DEFAULTS['selector']),
            )),
            plugin_selector=dict(type='str', default='app=nvidia-device-plugin-daemonset'),
            restart=dict(type='str', choices=['auto', 'always', 'never'], default='auto'),
            wait=dict(type='bool', default=True),
            timeout=dict(type='int', default=300),
        ),
        mutually_exclusive=[('node', 'nodes')],
        supports_check_mode=True,
        # A config or a node's GPUs that cannot be used.
        errors={ValueError: lambda exc: {}},
    )
    module.require(Library('PyYAML', YAML_IMPORT_ERROR))
    worker = PluginConfig(module)
    with module.failing_on_errors():
        result = worker.run(module.kube)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
