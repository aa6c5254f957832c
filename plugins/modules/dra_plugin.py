#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dra_plugin
short_description: Make NVIDIA's DRA driver publish a node's MIG devices after a layout change
version_added: 0.2.0
description:
  - On a node whose GPUs are handed to Kubernetes by NVIDIA's DRA driver (C(gpu.nvidia.com)) with static MIG, computes the
    devices the driver's kubelet plugin publishes for O(gpus) - a whole GPU C(gpu-<minor>) where MIG is off, one device
    C(gpu-<minor>-mig-<profile without dots>-<GPU instance profile id>-<placement start>) per MIG device - and compares
    them, by name and so by placement, with the devices the node's ResourceSlices of driver C(gpu.nvidia.com) list.
  - The plugin reads the GPUs only when it starts. When the slices do not list exactly the expected devices, the module
    deletes the node's plugin pod (its DaemonSet starts a new one) and waits until they do.
  - Refuses, before any change, a node whose plugin runs the C(DynamicMIG) feature gate (the driver then creates and
    destroys MIG devices itself and destroys those it did not create), a MIG-enabled GPU without MIG devices, for which
    the driver publishes nothing (stranded), and a GPU instance split into smaller compute instances, on which the
    plugin does not start. ResourceSlices of other drivers are ignored; a slice of C(gpu.nvidia.com) on the node in a
    pool not named after the node is an error.
  - Reports the ResourceClaims allocated on the node's devices and the pods they are reserved for.
  - With O(nodes), in check mode only, reads many nodes at once for a preflight (the role P(gpufleet.mig.mig_rollout#role)
    does) - which of them NVIDIA's DRA driver serves (a node with a kubelet plugin pod of O(daemonset), unless its
    C(allocator) says otherwise) and, for those, what O(node) would find with the node's planned layouts. Nothing is
    restarted.
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
    details:
      - Reads the slices and says whether the plugin would be restarted and which devices differ.
  diff_mode:
    support: full
    details:
      - Shows the device names the node's slices list before and the expected ones after.
  idempotent:
    support: full
options:
  node:
    description:
      - The Kubernetes node whose plugin is restarted when its slices do not list the expected devices.
      - One of O(node) and O(nodes) is required.
    type: str
  gpus:
    description:
      - The node's GPUs as they are after the layout change, as the RV(gpufleet.mig.gpu_info#module:node.gpus) list of
        M(gpufleet.mig.gpu_info) (entries need C(index), C(minor_number), C(mig_mode) and C(gpu_instances)).
      - Required with O(node).
    type: list
    elements: dict
  planned_layouts:
    description:
      - The RV(gpufleet.mig.mig_layout#module:gpus) of a check-mode M(gpufleet.mig.mig_layout) run; the expected devices
        are then those of O(gpus) with these layouts applied, so that a preflight knows them before the change.
    type: list
    elements: dict
  nodes:
    description:
      - Many nodes at once, in check mode only (a preflight) - each node's allocator and, for the nodes NVIDIA's DRA driver
        serves, what O(node) would find. The plugin pods are listed once for all nodes.
    type: list
    elements: dict
    suboptions:
      node:
        description: The Kubernetes node.
        type: str
        required: true
      allocator:
        description:
          - V(auto) takes the DRA driver where a kubelet plugin pod of O(daemonset) runs on the node and the device plugin
            elsewhere; V(dra) and V(device-plugin) say which. A node said to be V(dra) without a plugin pod fails.
          - Valid values are V(auto), V(device-plugin) and V(dra); anything else is refused before any request.
        type: str
        default: auto
      gpus:
        description: The node's GPUs as M(gpufleet.mig.gpu_info) returns them (RV(gpufleet.mig.gpu_info#module:node.gpus)).
        type: list
        elements: dict
        required: true
      planned_layouts:
        description: As O(planned_layouts), for this node.
        type: list
        elements: dict
  namespace:
    description:
      - Namespace of the DRA kubelet plugin (the Helm release's namespace).
    type: str
    default: dra-driver-nvidia-gpu
  daemonset:
    description:
      - The DaemonSet of the kubelet plugin (the chart's C(<name>-kubelet-plugin)); only pods it owns are restarted.
    type: str
    default: dra-driver-nvidia-gpu-kubelet-plugin
  selector:
    description:
      - Label selector of the kubelet plugin pods (the chart's selector labels).
    type: str
    default: dra-driver-nvidia-gpu-component=kubelet-plugin
  timeout:
    description:
      - Seconds to wait for the node's slices to list the expected devices after the restart.
    type: int
    default: 300
notes:
  - Device names carry the MIG profile as NVIDIA's go-nvlib names it from the profile's memory; gpufleet.mig uses the name
    the driver reports, which agree on the boards the catalog knows.
seealso:
  - module: gpufleet.mig.gpu_info
  - module: gpufleet.mig.mig_layout
  - module: gpufleet.mig.device_plugin_config
"""

EXAMPLES = r"""
---
- name: Apply the layout
  gpufleet.mig.mig_layout:
    config_file: /etc/nvidia-mig-manager/config.yaml
    selected: all-1g.10gb
  become: true

- name: Read the GPUs as they are now
  gpufleet.mig.gpu_info:
  become: true
  register: gpus

- name: Restart the node's DRA kubelet plugin if its slices are stale, and wait for the new MIG devices
  gpufleet.mig.dra_plugin:
    node: "{{ inventory_hostname }}"
    gpus: "{{ gpus.node.gpus }}"
  delegate_to: localhost
  register: dra
"""

RETURN = r"""
allocator:
  description: V(dra) (with O(node)).
  returned: success, with O(node)
  type: str
labels:
  description: The node's labels as read.
  returned: success, with O(node)
  type: dict
annotations:
  description: The node's annotations as read.
  returned: success, with O(node)
  type: dict
nodes:
  description:
    - With O(nodes), per node name, its C(allocator) (V(dra) or V(device-plugin)) and, for a DRA node, what O(node) would
      return (C(restarted), C(expected), C(published), C(missing), C(unexpected), C(pods), C(claims), C(labels),
      C(annotations)); a DRA node that is refused has C(failed) and C(msg) instead, and the module fails naming it.
  returned: with O(nodes)
  type: dict
  sample:
    sim-a100: {allocator: dra, restarted: false, expected: [gpu-0-mig-7g40gb-0-0], published: [gpu-0-mig-7g40gb-0-0],
               missing: [], unexpected: [], pods: [dra-driver-nvidia-gpu-kubelet-plugin-x2k9c], claims: [], labels: {},
               annotations: {}}
    sim-a30: {allocator: device-plugin, pods: []}
expected:
  description: The device names NVIDIA's DRA driver publishes for O(gpus), sorted.
  returned: success, with O(node)
  type: list
  elements: str
  sample: [gpu-0-mig-1g5gb-19-0, gpu-0-mig-3g20gb-9-4, gpu-1]
published:
  description: The device names the node's ResourceSlices of driver C(gpu.nvidia.com) list at the end (in check mode, as read).
  returned: success, with O(node)
  type: list
  elements: str
missing:
  description: Expected devices the slices did not list when read first.
  returned: success, with O(node)
  type: list
  elements: str
unexpected:
  description: Devices the slices listed when read first that are not expected.
  returned: success, with O(node)
  type: list
  elements: str
restarted:
  description: Whether the node's kubelet plugin pod was restarted (in check mode, whether it would be).
  returned: success, with O(node)
  type: bool
pods:
  description: The kubelet plugin pods on the node that were found (before any restart).
  returned: success, with O(node)
  type: list
  elements: str
claims:
  description:
    - ResourceClaims allocated on devices of the node's pool, with the devices they hold and the pods they are reserved
      for. A claim that holds a device not in RV(expected) is also named in a warning.
  returned: success, with O(node)
  type: list
  elements: dict
  sample:
    - namespace: ml
      name: trainer-0-gpu-x7k2p
      devices: [gpu-0-mig-1g5gb-19-0]
      reserved_for: [{resource: pods, name: trainer-0, uid: 9f0c1d52-5e0b-4d2e-8b0e-8a7d2c0d3f11}]
"""

from ansible_collections.gpufleet.mig.plugins.module_utils._dra import DRIVER, DraError, plugin_pods, published_devices
from ansible_collections.gpufleet.mig.plugins.module_utils._dra_check import (
    DRA_DEFAULTS, NodeProblem, check_nodes, inspect, no_plugin, options_problems, planned_devices, specs_problems)
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import name_problem, pod_state
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s_module import KubeModule
from ansible_collections.gpufleet.mig.plugins.module_utils._wait import POLL_INTERVAL, Waiter, WaitTimeout


def _validate(module):
    """Every problem with the arguments and the GPUs, before any request; the expected device names per node."""
    params = module.params
    problems = options_problems(params) + [p for p in [params['timeout'] < 0 and 'timeout must be at least 0, got %d' % params['timeout']] if p]
    devices = {}
    if params['nodes'] is None:
        problems.extend(p for p in [name_problem('node', params['node'])] if p)
        devices[params['node']], found = planned_devices('', params)
        problems.extend(found)
    elif not module.check_mode:
        problems.append('nodes is the preflight\'s read of many nodes: run it in check mode (to restart a node\'s plugin, '
                        'give node and gpus)')
    else:
        devices, found = specs_problems(params['nodes'])
        problems.extend(found)
    module.fail_problems(problems)
    return devices


def _check_nodes(module, kube, devices):
    """O(nodes): each node's allocator and, for a DRA node, what O(node) would find; fail naming every failed node."""
    found, failed = check_nodes(kube, module.params, module.params['nodes'], devices)
    result = dict(changed=any(entry.get('restarted') for entry in found.values()), nodes=found)
    if failed:
        module.fail_json(msg='%d of %d nodes: %s' % (len(failed), len(found), '; '.join(failed)), **result)
    return result


def run(module, kube, expected):
    params = module.params
    node, namespace = params['node'], params['namespace']
    pods = plugin_pods(kube.pods(namespace, params['selector'], node), params['daemonset'])
    try:
        if not pods:
            raise NodeProblem(no_plugin(kube, params, node))
        result = inspect(kube, node, expected, pods, kube.resource_claims())
    except NodeProblem as exc:
        module.fail_json(msg=str(exc), pods=[p['metadata']['name'] for p in pods])
    restart = result['restarted']
    result['changed'] = restart
    module.failure = dict(result, changed=False, restarted=False)
    for claim in result['claims']:
        gone = [device for device in claim['devices'] if device not in expected]
        if gone:
            module.warn('ResourceClaim %s/%s holds device(s) %s of node %s, which the node no longer has'
                        % (claim['namespace'], claim['name'], ', '.join(gone), node))
    if module._diff:
        result['diff'] = {'before': {'devices': result['published']}, 'after': {'devices': expected}}
    if not restart or module.check_mode:
        return result
    old = set(p['metadata']['uid'] for p in pods)
    for pod in pods:
        kube.delete_pod(namespace, pod['metadata']['name'])
    module.failure['restarted'] = module.failure['changed'] = True

    def observe():
        new = [p for p in plugin_pods(kube.pods(namespace, params['selector'], node), params['daemonset']) if p['metadata']['uid'] not in old]
        return new, published_devices(node, kube.resource_slices(node))

    def done(observed):
        new, now = observed
        return new and now['complete'] and now['devices'] == expected

    def message(observed):
        new, now = observed
        plugin = ', '.join('%s (%s)' % (p['metadata']['name'], pod_state(p)) for p in new) or 'no new plugin pod on the node'
        return ('node %s: its ResourceSlices of driver %s do not list the expected devices %ss after the DRA kubelet '
                'plugin was restarted: missing %s; not expected %s%s; plugin: %s'
                % (node, DRIVER, params['timeout'], ', '.join(sorted(set(expected) - set(now['devices']))) or 'none',
                   ', '.join(sorted(set(now['devices']) - set(expected))) or 'none',
                   '' if now['complete'] else ' (the pool is incomplete)', plugin))

    try:
        new, now = Waiter(params['timeout']).until(observe, done, POLL_INTERVAL, message)
    except WaitTimeout as exc:
        module.fail_json(msg=str(exc), published=exc.last[1]['devices'])
    result['published'] = now['devices']
    return result


def main():
    module = KubeModule(
        argument_spec=dict(
            node=dict(type='str'),
            gpus=dict(type='list', elements='dict'),
            planned_layouts=dict(type='list', elements='dict'),
            nodes=dict(type='list', elements='dict', options=dict(
                node=dict(type='str', required=True),
                allocator=dict(type='str', default='auto'),
                gpus=dict(type='list', elements='dict', required=True),
                planned_layouts=dict(type='list', elements='dict'),
            )),
            namespace=dict(type='str', default=DRA_DEFAULTS['namespace']),
            daemonset=dict(type='str', default=DRA_DEFAULTS['daemonset']),
            selector=dict(type='str', default=DRA_DEFAULTS['selector']),
            timeout=dict(type='int', default=300),
        ),
        required_one_of=[('node', 'nodes')],
        mutually_exclusive=[('node', 'nodes'), ('gpus', 'nodes'), ('planned_layouts', 'nodes')],
        required_together=[('node', 'gpus')],
        supports_check_mode=True,
        # Slices in the wrong pool, feature gates that cannot be read.
        errors={DraError: lambda exc: {'problems': exc.problems}},
    )
    devices = _validate(module)
    with module.failing_on_errors():
        if module.params['nodes'] is not None:
            result = _check_nodes(module, module.kube, devices)
        else:
            result = run(module, module.kube, devices[module.params['node']])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
