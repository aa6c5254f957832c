#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dra_info
short_description: Read what NVIDIA's DRA driver publishes and allocates on a set of nodes
version_added: 0.2.0
description:
  - For each node of O(nodes), reads what NVIDIA's DRA driver (C(gpu.nvidia.com)) shows of it, namely the device names its
    ResourceSlices list, whether its pool is complete, the driver's kubelet plugin pods on it (and whether they run the
    C(DynamicMIG) feature gate), and the ResourceClaims allocated on its devices with the pods they are reserved for.
  - A whole fleet costs three list requests, whatever its size - the ResourceSlices of driver C(gpu.nvidia.com) (field
    selector C(spec.driver)), the kubelet plugin's pods in its namespace and, when some node uses the driver, every
    ResourceClaim (the API cannot select claims by allocation) - so the report playbook runs it once per cluster.
  - A node with neither a kubelet plugin pod nor a slice of C(gpu.nvidia.com) is no DRA node (null in RV(nodes)). A
    cluster that does not serve C(resource.k8s.io/v1) has none (RV(served) false).
  - Compare the device names with what the driver would publish for the GPUs as read with M(gpufleet.mig.dra_plugin)
    (check mode) for one node; the report playbook draws both side by side for every node (M(gpufleet.mig.fleet_report)).
  - Runs where the Kubernetes client and credentials are, usually the controller (C(delegate_to=localhost)).
author:
  - gpufleet.mig contributors (@gpufleet)
extends_documentation_fragment:
  - gpufleet.mig.attributes
  - gpufleet.mig.attributes.INFO_MODULE
  - gpufleet.mig.attributes.ACTIONGROUP_K8S
  - gpufleet.mig.k8s_auth
options:
  nodes:
    description:
      - The Kubernetes nodes to read. Nodes of the cluster that are not listed are left out of RV(nodes).
    type: list
    elements: str
    required: true
  namespace:
    description:
      - Namespace of the DRA kubelet plugin (the Helm release's namespace).
    type: str
    default: dra-driver-nvidia-gpu
  daemonset:
    description:
      - The DaemonSet of the kubelet plugin (the chart's C(<name>-kubelet-plugin)); only pods it owns count.
    type: str
    default: dra-driver-nvidia-gpu-kubelet-plugin
  selector:
    description:
      - Label selector of the kubelet plugin pods (the chart's selector labels).
    type: str
    default: dra-driver-nvidia-gpu-component=kubelet-plugin
seealso:
  - module: gpufleet.mig.dra_plugin
  - module: gpufleet.mig.fleet_report
"""

EXAMPLES = r"""
---
- name: Read the DRA devices of every node of the play, once
  gpufleet.mig.dra_info:
    nodes: "{{ ansible_play_hosts }}"
  delegate_to: localhost
  run_once: true
  register: dra

- name: Show the devices of a node
  ansible.builtin.debug:
    msg: "{{ dra.nodes['gpu-node-1'].published if dra.nodes['gpu-node-1'] else 'not a DRA node' }}"
  run_once: true
"""

RETURN = r"""
served:
  description: Whether the cluster serves C(resource.k8s.io/v1); when not, every node is null in RV(nodes).
  returned: success
  type: bool
nodes:
  description:
    - Each node of O(nodes) by name, null when it is no DRA node (neither a kubelet plugin pod nor a slice of
      C(gpu.nvidia.com)).
  returned: success
  type: dict
  contains:
    published:
      description: The device names the node's ResourceSlices of C(gpu.nvidia.com) list (the pool's newest generation), sorted.
      type: list
      elements: str
      sample: [gpu-0, gpu-1-mig-1g5gb-19-0, gpu-1-mig-3g20gb-9-4]
    complete:
      description: Whether all the slices of the pool's newest generation are there (the scheduler's rule).
      type: bool
    shared_counters:
      description: Whether a slice shares counters or a device consumes them, which only dynamic MIG publishes.
      type: bool
    dynamic_mig:
      description: Why gpufleet.mig refuses the node, when its kubelet plugin runs the C(DynamicMIG) feature gate; else null.
      type: str
    plugin_pods:
      description: The kubelet plugin's pods on the node, each with its C(name) and C(state) (a waiting reason such as
        C(CrashLoopBackOff), else the phase).
      type: list
      elements: dict
    claims:
      description: The ResourceClaims allocated on the node's devices, with the devices they hold and the pods they are reserved for.
      type: list
      elements: dict
      sample:
        - namespace: ml
          name: trainer-0-gpu-x7k2p
          devices: [gpu-0]
          reserved_for: [{resource: pods, name: trainer-0, uid: 9f0c1d52-5e0b-4d2e-8b0e-8a7d2c0d3f11}]
    problems:
      description: What could not be read, such as a slice in a pool not named after the node, or a feature gate set from a
        ConfigMap.
      type: list
      elements: str
"""

from ansible_collections.gpufleet.mig.plugins.module_utils._dra import DRIVER
from ansible_collections.gpufleet.mig.plugins.module_utils._dra_report import cluster_nodes
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import KubeError, name_problem
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s_module import KubeModule


def run(module, kube):
    params = module.params
    nodes = list(dict.fromkeys(params['nodes']))
    try:
        slices = kube.driver_resource_slices(DRIVER)
    except KubeError as exc:
        # A cluster before Kubernetes 1.34 (or with the API group off) has no ResourceSlice at all: no DRA node.
        if exc.status != 404:
            raise
        return dict(changed=False, served=False, nodes=dict((node, None) for node in nodes))
    pods = kube.pods(params['namespace'], params['selector'])
    readings = cluster_nodes(nodes, slices, [], pods, params['daemonset'])
    # Every claim of the cluster in one list, and only when a node of the fleet uses the driver.
    if any(readings.values()):
        readings = cluster_nodes(nodes, slices, kube.resource_claims(), pods, params['daemonset'])
    return dict(changed=False, served=True, nodes=readings)


def main():
    module = KubeModule(
        argument_spec=dict(
            nodes=dict(type='list', elements='str', required=True),
            namespace=dict(type='str', default='dra-driver-nvidia-gpu'),
            daemonset=dict(type='str', default='dra-driver-nvidia-gpu-kubelet-plugin'),
            selector=dict(type='str', default='dra-driver-nvidia-gpu-component=kubelet-plugin'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    problems = [name_problem('nodes[%d]' % number, node) for number, node in enumerate(params['nodes'])]
    problems += [name_problem('namespace', params['namespace'], 'label'), name_problem('daemonset', params['daemonset']),
                 not params['selector'].strip() and 'selector must not be empty (it would select every pod of the namespace)']
    module.fail_problems([p for p in problems if p])
    with module.failing_on_errors():
        result = run(module, module.kube)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
