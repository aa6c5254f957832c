#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: allocator_switch
short_description: Move a node's GPUs between NVIDIA's device plugin and NVIDIA's DRA driver
version_added: 0.2.0
description:
  - Hands a node's GPUs to Kubernetes through NVIDIA's DRA driver (C(gpu.nvidia.com)) instead of NVIDIA's device plugin,
    or back, by switching the node labels the two plugins' DaemonSets select nodes on (O(device_plugin_label),
    O(dra_label)), and waits until the move is complete.
  - To V(dra), complete means no device plugin pod on the node and no C(nvidia.com/*) resource advertised (so the node
    never offers a resource name both ways), a running DRA kubelet plugin pod, and the node's ResourceSlices listing
    exactly the devices NVIDIA's driver publishes for O(gpus) (as M(gpufleet.mig.dra_plugin) computes them).
  - To V(device-plugin), complete means no DRA kubelet plugin pod on the node, no device left in the node's pool of
    C(gpu.nvidia.com) (the kubelet deletes a stopped plugin's slices after a delay) and a running device plugin pod.
    Which resources the device plugin advertises depends on its MIG strategy; wait for them with
    M(gpufleet.mig.device_plugin_config).
  - Before any change, to V(dra), requires for every MIG profile of O(gpus) a DeviceClass whose C(extendedResourceName)
    is C(nvidia.com/mig-<profile>) and whose selector picks exactly that profile's MIG devices of C(gpu.nvidia.com)
    (KEP-5004, so that pods requesting C(nvidia.com/mig-<profile>) stay schedulable on the node); with
    O(create_device_classes) missing ones are created, wrong ones are never changed.
  - Refuses, before any change, a node with ResourceSlices of another driver, a DRA kubelet plugin running the
    C(DynamicMIG) feature gate, and GPUs NVIDIA's DRA driver would publish nothing for (a MIG-enabled GPU without MIG
    devices) or would not start on.
  - Does not cordon or drain; the playbook C(gpufleet.mig.migrate_allocator) does that around it.
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
      - Checks everything a run refuses and says whether the labels would change, the DeviceClasses that would be
        created and what is not finished yet.
  diff_mode:
    support: full
    details:
      - Shows the deploy labels before and after.
  idempotent:
    support: full
options:
  node:
    description:
      - The Kubernetes node to move.
    type: str
    required: true
  to:
    description:
      - The plugin that is to hand out the node's GPUs, V(dra) or V(device-plugin); anything else is refused before any
        request.
    type: str
    required: true
  gpus:
    description:
      - The node's GPUs as M(gpufleet.mig.gpu_info) returns them (RV(gpufleet.mig.gpu_info#module:node.gpus)); their MIG
        profiles name the DeviceClasses needed and their devices the ResourceSlices waited for.
    type: list
    elements: dict
    required: true
  create_device_classes:
    description:
      - Create the missing DeviceClasses (one per MIG profile, named C(mig-<profile>.nvidia.com)) when moving to V(dra).
    type: bool
    default: false
  device_plugin_label:
    description: The node label the device plugin's DaemonSet selects nodes on (C("true") runs it, C("false") not).
    type: str
    default: nvidia.com/gpu.deploy.device-plugin
  dra_label:
    description: The node label the DRA kubelet plugin's DaemonSet selects nodes on (C("true") runs it, C("false") not).
    type: str
    default: nvidia.com/gpu.deploy.dra-driver
  dra_namespace:
    description: Namespace of the DRA kubelet plugin.
    type: str
    default: dra-driver-nvidia-gpu
  dra_daemonset:
    description: The DaemonSet of the DRA kubelet plugin.
    type: str
    default: dra-driver-nvidia-gpu-kubelet-plugin
  dra_selector:
    description: Label selector of the DRA kubelet plugin pods.
    type: str
    default: dra-driver-nvidia-gpu-component=kubelet-plugin
  device_plugin_namespace:
    description: Namespace of the device plugin pods.
    type: str
    default: gpu-operator
  device_plugin_selector:
    description: Label selector of the device plugin pods.
    type: str
    default: app=nvidia-device-plugin-daemonset
  timeout:
    description: Seconds to wait for the move to complete after the labels changed.
    type: int
    default: 300
notes:
  - The node should be cordoned and its GPU pods drained first; the playbook C(gpufleet.mig.migrate_allocator) does it.
  - "[uncertain] The deploy labels are the GPU Operator's; a chart install of the DRA driver selects the nodes it runs on
    with C(kubeletPlugin.nodeSelector), which must then name O(dra_label)."
seealso:
  - module: gpufleet.mig.dra_plugin
  - module: gpufleet.mig.device_plugin_config
  - module: gpufleet.mig.node_drain
"""

EXAMPLES = r"""
---
- name: Read the GPUs
  gpufleet.mig.gpu_info:
  become: true
  register: gpus

- name: Hand the node's GPUs to NVIDIA's DRA driver, creating the per-profile DeviceClasses
  gpufleet.mig.allocator_switch:
    node: "{{ inventory_hostname }}"
    to: dra
    gpus: "{{ gpus.node.gpus }}"
    create_device_classes: true
  delegate_to: localhost
"""

RETURN = r"""
labels:
  description: The deploy labels of the node as they are at the end (in check mode, as they would be).
  returned: success
  type: dict
  sample: {nvidia.com/gpu.deploy.device-plugin: "false", nvidia.com/gpu.deploy.dra-driver: "true"}
relabelled:
  description: Whether the deploy labels were changed (in check mode, whether they would be).
  returned: success
  type: bool
device_classes_created:
  description: The DeviceClasses created (in check mode, that would be created).
  returned: success
  type: list
  elements: str
  sample: [mig-1g.5gb.nvidia.com]
expected:
  description: To V(dra), the device names the node's ResourceSlices must list; [] to V(device-plugin).
  returned: success
  type: list
  elements: str
  sample: [gpu-0-mig-1g5gb-19-0, gpu-0-mig-3g20gb-9-4]
unfinished:
  description: What kept the move from being complete when the node was read first ([] when it was).
  returned: success
  type: list
  elements: str
node_labels:
  description: All the node's labels as read first (the playbook finds a node a failed move left with them).
  returned: success
  type: dict
node_annotations:
  description: All the node's annotations as read first.
  returned: success
  type: dict
resume:
  description:
    - Why an earlier move left the node for this run to finish (it failed, or stopped between the cordon and the
      uncordon), or null. The playbook then finishes the node even when its plugins switched already.
  returned: success
  type: str
"""

from ansible_collections.gpufleet.mig.plugins.module_utils._allocator import (
    ALLOCATORS, advertised_gpu_resources, check_device_classes, device_class, left_by_a_move, mig_profiles, other_driver_problem,
    target_labels, unfinished)
from ansible_collections.gpufleet.mig.plugins.module_utils._dra import (
    SHARED_COUNTERS, DraError, dynamic_mig_reason, expected_devices, plugin_pods, published_devices)
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import metadata_problems, name_problem
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s_module import KubeModule
from ansible_collections.gpufleet.mig.plugins.module_utils._wait import POLL_INTERVAL, Waiter, WaitTimeout


def _validate(module):
    """Every problem with the arguments and the GPUs, before any request; the expected devices."""
    params = module.params
    problems = [p for p in (name_problem('node', params['node']), name_problem('dra_namespace', params['dra_namespace'], 'label'),
                            name_problem('device_plugin_namespace', params['device_plugin_namespace'], 'label'),
                            name_problem('dra_daemonset', params['dra_daemonset'])) if p]
    if params['to'] not in ALLOCATORS:
        problems.append('to: %r is not an allocator gpufleet.mig can move a node to (valid: %s)' % (params['to'], ', '.join(ALLOCATORS)))
    problems.extend(metadata_problems({params['device_plugin_label']: 'true', params['dra_label']: 'true'}, {}))
    if params['device_plugin_label'] == params['dra_label']:
        problems.append('device_plugin_label and dra_label are both %r: each plugin needs a label of its own' % params['dra_label'])
    for option in ('dra_selector', 'device_plugin_selector'):
        if not params[option].strip():
            problems.append('%s must not be empty (it would select every pod)' % option)
    if params['timeout'] < 0:
        problems.append('timeout must be at least 0, got %d' % params['timeout'])
    expected = []
    if params['to'] == 'dra':
        try:
            expected = expected_devices(params['gpus'])
        except DraError as exc:
            problems.extend(exc.problems)
    module.fail_problems(problems)
    return expected


def _pods(kube, namespace, selector, node, daemonset=None):
    pods = kube.pods(namespace, selector, node)
    if daemonset:
        pods = plugin_pods(pods, daemonset)
    return pods


def _summary(pods):
    return [{'name': p['metadata']['name'], 'running': (p.get('status') or {}).get('phase') == 'Running'
             and not p['metadata'].get('deletionTimestamp'), 'state': (p.get('status') or {}).get('phase')} for p in pods]


def observe(kube, params):
    """The node, its plugin pods (raw DRA pods too, for the DynamicMIG check), what it advertises and publishes."""
    node = params['node']
    dra = _pods(kube, params['dra_namespace'], params['dra_selector'], node, params['dra_daemonset'])
    slices = kube.resource_slices(node)
    read = kube.read_node(node)
    return {'node': read, 'dra': dra, 'slices': slices,
            'state': {'dra_pods': _summary(dra),
                      'device_plugin_pods': _summary(_pods(kube, params['device_plugin_namespace'], params['device_plugin_selector'], node)),
                      'advertised': advertised_gpu_resources(read),
                      'published': published_devices(node, slices)}}


def refusal(node, seen):
    """Why the node is refused as it is now (another driver's slices, dynamic MIG), or None."""
    return other_driver_problem(node, seen['slices']) or dynamic_mig_reason(node, seen['dra']) or (
        seen['state']['published']['dynamic'] and 'node %s: %s' % (node, SHARED_COUNTERS))


def run(module, kube, expected):
    params = module.params
    node, to = params['node'], params['to']
    wanted = target_labels(to, params['device_plugin_label'], params['dra_label'])
    seen = observe(kube, params)
    module.fail_problems([p for p in [refusal(node, seen)] if p])
    create = []
    if to == 'dra':
        profiles = mig_profiles(params['gpus'])
        missing, problems = check_device_classes(profiles, kube.device_classes())
        if missing and not params['create_device_classes']:
            problems.append('no DeviceClass maps %s: pods requesting it would not be schedulable on node %s once NVIDIA\'s DRA '
                            'driver serves it (KEP-5004 extendedResourceName); create one per profile whose selector picks '
                            'that profile\'s MIG devices, or set create_device_classes' % (', '.join('nvidia.com/mig-%s' % p for p in missing), node))
        module.fail_problems(problems)
        create = [device_class(profile) for profile in missing]
    labels = dict(seen['node']['metadata'].get('labels') or {})
    before = dict((key, labels.get(key)) for key in wanted)
    relabel = before != wanted
    left = unfinished(to, seen['state'], expected)
    result = dict(changed=bool(relabel or create), relabelled=relabel, labels=wanted, expected=expected, unfinished=left,
                  device_classes_created=[item['metadata']['name'] for item in create], node_labels=labels,
                  node_annotations=dict(seen['node']['metadata'].get('annotations') or {}))
    result['resume'] = left_by_a_move(labels, result['node_annotations'])
    if module._diff:
        result['diff'] = {'before': {'labels': before}, 'after': {'labels': wanted}}
    module.failure = dict(result, changed=False, relabelled=False, device_classes_created=[])
    if module.check_mode:
        return result
    for item in create:
        kube.create_device_class(item)
        module.failure['device_classes_created'].append(item['metadata']['name'])
        module.failure['changed'] = True
    if relabel:
        def change(current):
            labels = dict((key, value) for key, value in wanted.items() if (current['metadata'].get('labels') or {}).get(key) != value)
            return {'metadata': {'labels': labels}} if labels else None

        module.update_node(node, change)
        module.failure.update(changed=True, relabelled=True)
    if not left and not relabel:
        return result

    def poll():
        now = observe(kube, params)
        problem = refusal(node, now)
        if problem:
            module.fail_json(msg=problem)
        return now

    def message(now):
        return ('node %s is not handed to %s alone %ss after its labels changed: %s'
                % (node, 'NVIDIA\'s DRA driver' if to == 'dra' else 'NVIDIA\'s device plugin', params['timeout'],
                   '; '.join(unfinished(to, now['state'], expected))))

    try:
        Waiter(params['timeout']).until(poll, lambda now: not unfinished(to, now['state'], expected), POLL_INTERVAL, message)
    except WaitTimeout as exc:
        module.fail_json(msg=str(exc), unfinished=unfinished(to, exc.last['state'], expected))
    return result


def main():
    module = KubeModule(
        argument_spec=dict(
            node=dict(type='str', required=True),
            to=dict(type='str', required=True),
            gpus=dict(type='list', elements='dict', required=True),
            create_device_classes=dict(type='bool', default=False),
            device_plugin_label=dict(type='str', default='nvidia.com/gpu.deploy.device-plugin'),
            dra_label=dict(type='str', default='nvidia.com/gpu.deploy.dra-driver'),
            dra_namespace=dict(type='str', default='dra-driver-nvidia-gpu'),
            dra_daemonset=dict(type='str', default='dra-driver-nvidia-gpu-kubelet-plugin'),
            dra_selector=dict(type='str', default='dra-driver-nvidia-gpu-component=kubelet-plugin'),
            device_plugin_namespace=dict(type='str', default='gpu-operator'),
            device_plugin_selector=dict(type='str', default='app=nvidia-device-plugin-daemonset'),
            timeout=dict(type='int', default=300),
        ),
        supports_check_mode=True,
        errors={DraError: lambda exc: {'problems': exc.problems}},
    )
    expected = _validate(module)
    with module.failing_on_errors():
        result = run(module, module.kube, expected)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
