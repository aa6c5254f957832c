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
      - The Kubernetes node.
    type: str
    required: true
  gpus:
    description:
      - The node's GPUs as they are after the layout change, as the RV(gpufleet.mig.gpu_info#module:node.gpus) list of
        M(gpufleet.mig.gpu_info) (entries need C(index), C(minor_number), C(mig_mode) and C(gpu_instances)).
    type: list
    elements: dict
    required: true
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
expected:
  description: The device names NVIDIA's DRA driver publishes for O(gpus), sorted.
  returned: success
  type: list
  elements: str
  sample: [gpu-0-mig-1g5gb-19-0, gpu-0-mig-3g20gb-9-4, gpu-1]
published:
  description: The device names the node's ResourceSlices of driver C(gpu.nvidia.com) list at the end (in check mode, as read).
  returned: success
  type: list
  elements: str
missing:
  description: Expected devices the slices did not list when read first.
  returned: success
  type: list
  elements: str
unexpected:
  description: Devices the slices listed when read first that are not expected.
  returned: success
  type: list
  elements: str
restarted:
  description: Whether the node's kubelet plugin pod was restarted (in check mode, whether it would be).
  returned: success
  type: bool
pods:
  description: The kubelet plugin pods on the node that were found (before any restart).
  returned: success
  type: list
  elements: str
claims:
  description:
    - ResourceClaims allocated on devices of the node's pool, with the devices they hold and the pods they are reserved
      for. A claim that holds a device not in RV(expected) is also named in a warning.
  returned: success
  type: list
  elements: dict
  sample:
    - namespace: ml
      name: trainer-0-gpu-x7k2p
      devices: [gpu-0-mig-1g5gb-19-0]
      reserved_for: [{resource: pods, name: trainer-0, uid: 9f0c1d52-5e0b-4d2e-8b0e-8a7d2c0d3f11}]
"""

from ansible_collections.gpufleet.mig.plugins.module_utils._dra import (
    DraError, claims_on_pool, dynamic_mig_reason, expected_devices, plugin_pods, published_devices)
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import name_problem
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s_module import KubeModule
from ansible_collections.gpufleet.mig.plugins.module_utils._wait import POLL_INTERVAL, Waiter, WaitTimeout


def _validate(module):
    """Every problem with the arguments and the GPUs, before any request; the expected device names."""
    params = module.params
    problems = [p for p in (name_problem('node', params['node']), name_problem('namespace', params['namespace'], 'label'),
                            name_problem('daemonset', params['daemonset']),
                            not params['selector'].strip() and 'selector must not be empty (it would select every pod)',
                            params['timeout'] < 0 and 'timeout must be at least 0, got %d' % params['timeout']) if p]
    try:
        expected = expected_devices(params['gpus'])
    except DraError as exc:
        problems.extend(exc.problems)
        expected = None
    module.fail_problems(problems)
    return expected


def _pod_state(pod):
    for status in (pod.get('status') or {}).get('containerStatuses') or []:
        waiting = (status.get('state') or {}).get('waiting')
        if waiting:
            return '%s: %s' % (waiting.get('reason'), waiting.get('message') or '')
    return (pod.get('status') or {}).get('phase') or 'unknown'


def run(module, kube, expected):
    params = module.params
    node, namespace = params['node'], params['namespace']
    pods = plugin_pods(kube.pods(namespace, params['selector'], node), params['daemonset'])
    if not pods:
        module.fail_json(msg='no pod of DaemonSet %s/%s (selector %s) runs on node %s: is the node handed to Kubernetes by '
                             'NVIDIA\'s DRA driver? (see the options namespace, daemonset and selector)'
                             % (namespace, params['daemonset'], params['selector'], node))
    reason = dynamic_mig_reason(node, pods)
    if reason:
        module.fail_json(msg=reason, pods=[p['metadata']['name'] for p in pods])
    published = published_devices(node, kube.resource_slices(node))
    if published['dynamic']:
        module.fail_json(msg='node %s: its ResourceSlices of driver gpu.nvidia.com share counters, which only dynamic MIG '
                             'publishes; gpufleet.mig manages static MIG only' % node)
    missing = sorted(set(expected) - set(published['devices']))
    unexpected = sorted(set(published['devices']) - set(expected))
    restart = bool(missing or unexpected or not published['complete'])
    result = dict(changed=restart, restarted=restart, expected=expected, published=published['devices'], missing=missing,
                  unexpected=unexpected, pods=[p['metadata']['name'] for p in pods])
    module.failure = dict(result, changed=False, restarted=False)
    claims = claims_on_pool(kube.resource_claims(), node)
    result['claims'] = claims
    for claim in claims:
        gone = [device for device in claim['devices'] if device not in expected]
        if gone:
            module.warn('ResourceClaim %s/%s holds device(s) %s of node %s, which the node no longer has'
                        % (claim['namespace'], claim['name'], ', '.join(gone), node))
    if module._diff:
        result['diff'] = {'before': {'devices': published['devices']}, 'after': {'devices': expected}}
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
        plugin = ', '.join('%s (%s)' % (p['metadata']['name'], _pod_state(p)) for p in new) or 'no new plugin pod on the node'
        return ('node %s: its ResourceSlices of driver gpu.nvidia.com do not list the expected devices %ss after the DRA kubelet '
                'plugin was restarted: missing %s; not expected %s%s; plugin: %s'
                % (node, params['timeout'], ', '.join(sorted(set(expected) - set(now['devices']))) or 'none',
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
            node=dict(type='str', required=True),
            gpus=dict(type='list', elements='dict', required=True),
            namespace=dict(type='str', default='dra-driver-nvidia-gpu'),
            daemonset=dict(type='str', default='dra-driver-nvidia-gpu-kubelet-plugin'),
            selector=dict(type='str', default='dra-driver-nvidia-gpu-component=kubelet-plugin'),
            timeout=dict(type='int', default=300),
        ),
        supports_check_mode=True,
        # Slices in the wrong pool, feature gates that cannot be read.
        errors={DraError: lambda exc: {'problems': exc.problems}},
    )
    expected = _validate(module)
    with module.failing_on_errors():
        result = run(module, module.kube, expected)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
