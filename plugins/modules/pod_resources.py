#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pod_resources
short_description: Read which pod holds which GPU or MIG device from the kubelet's pod-resources API
version_added: 0.2.0
description:
  - Calls C(List) of the kubelet's pod-resources API (C(v1.PodResourcesLister), gRPC over the kubelet's unix socket) on
    the GPU node and returns, per pod, the device ids it holds per resource name.
  - With O(gpus) (the GPUs as M(gpufleet.mig.gpu_info) returns them in C(node.gpus)), also maps each pod to the indexes
    of the GPUs it holds. NVIDIA's device plugin gives the kubelet a GPU's UUID for a full GPU and a MIG device's UUID
    for a MIG device, whatever its C(deviceIDStrategy), with C(::N) appended for a shared replica.
  - Devices that pods hold through ResourceClaims (Dynamic Resource Allocation) are returned in RV(dynamic_resources),
    as the kubelet lists them (by default from Kubernetes 1.34). With O(gpus), a device of NVIDIA's DRA driver
    (C(gpu.nvidia.com)) is mapped to its GPU by the minor number its name starts with (C(gpu-<minor>) for a whole GPU,
    C(gpu-<minor>-mig-<profile>-<GI profile id>-<placement start>) for a MIG device) and the GPUs' C(minor_number).
    A name that does not parse, or a minor number no GPU has, is listed in RV(unmapped_dra_devices), and
    M(gpufleet.mig.node_drain) then drains every GPU pod of the node. Devices of other drivers are no GPUs.
  - Never fails because the API cannot be read (no socket, kubelet not answering, grpcio or protobuf missing); it
    returns RV(available=false) with the RV(reason), so that a caller such as M(gpufleet.mig.node_drain) falls back to
    draining every GPU pod of the node.
  - Reading the socket needs root on most nodes (the kubelet's folder is root's); run it with C(become=true).
author:
  - gpufleet.mig contributors (@gpufleet)
requirements:
  - grpcio and protobuf for the Python interpreter that runs the module on the node (without them RV(available=false)).
  - A kubelet that serves the pod-resources API (on by default since Kubernetes 1.15, feature gate C(KubeletPodResources)).
extends_documentation_fragment:
  - gpufleet.mig.attributes
  - gpufleet.mig.attributes.INFO_MODULE
options:
  socket:
    description:
      - The kubelet's pod-resources socket; another path only for a kubelet with another C(--root-dir).
    type: path
    default: /var/lib/kubelet/pod-resources/kubelet.sock
  timeout:
    description:
      - Seconds to wait for the kubelet's answer.
    type: float
    default: 10
  gpus:
    description:
      - The node's GPUs as M(gpufleet.mig.gpu_info) returns them (C(node.gpus)); each needs C(index), C(uuid) and
        C(gpu_instances) with the C(uuid) of each compute instance, and C(minor_number) to place DRA devices. Without
        them RV(pod_gpus) is not returned.
    type: list
    elements: dict
seealso:
  - module: gpufleet.mig.node_drain
  - module: gpufleet.mig.gpu_info
"""

EXAMPLES = r"""
---
- name: Read the GPUs
  gpufleet.mig.gpu_info:
    set_facts: false
  become: true
  register: gpus

- name: Read which pod holds which GPU
  gpufleet.mig.pod_resources:
    gpus: "{{ gpus.node.gpus }}"
  become: true
  register: pod_resources

- name: Evict only the pods on GPU 3, which changes
  gpufleet.mig.node_drain:
    node: "{{ inventory_hostname }}"
    gpus: [3]
    pod_resources: "{{ pod_resources }}"
  delegate_to: localhost
"""

RETURN = r"""
available:
  description: Whether the kubelet answered.
  returned: always
  type: bool
reason:
  description: Why the API could not be read; null when it could.
  returned: always
  type: str
  sample: the kubelet pod-resources socket /var/lib/kubelet/pod-resources/kubelet.sock does not exist
socket:
  description: The socket read.
  returned: always
  type: str
pods:
  description: Per pod (C(namespace/name)) the device ids it holds, per resource name; pods without devices have C({}).
  returned: when RV(available)
  type: dict
  sample: {research/train-0: {nvidia.com/mig-3g.40gb: [MIG-1f4ee9b2-8e5c-5a39-9c53-2b4d2c1e2a11]}}
dynamic_resources:
  description:
    - Per pod that holds devices through ResourceClaims, each device once, with its claim (C(namespace/name)), driver,
      pool and device name. Pods without such devices are left out.
  returned: when RV(available)
  type: dict
  sample: {research/train-0: [{claim: research/train-0-gpu-x7k2p, driver: gpu.nvidia.com, pool: gpu-node-07,
                               device: gpu-3-mig-3g40gb-9-4}]}
pod_gpus:
  description:
    - Per pod that holds C(nvidia.com/*) devices or devices of NVIDIA's DRA driver (C(gpu.nvidia.com)), the indexes of
      the GPUs they are on.
    - A pod holding a device that matches none of O(gpus) is left out (see RV(unknown_devices)); a drain treats it as
      on every GPU.
  returned: when RV(available) and O(gpus) is given
  type: dict
  sample: {research/train-0: [3]}
unknown_devices:
  description:
    - Per pod, its C(nvidia.com/*) device ids and C(gpu.nvidia.com) DRA devices (as C(driver/pool/device)) that match no
      GPU of O(gpus).
  returned: when RV(available) and O(gpus) is given
  type: dict
  sample: {}
unmapped_dra_devices:
  description:
    - Why each DRA device of C(gpu.nvidia.com) in RV(unknown_devices) names no GPU of O(gpus), one sentence each (its
      name does not start with a minor number, or no GPU has that minor number). When any is listed,
      M(gpufleet.mig.node_drain) does not trust the mapping and evicts every GPU pod of the node.
  returned: when RV(available) and O(gpus) is given
  type: list
  elements: str
  sample: []
"""

import math

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.mig.plugins.module_utils._podresources import (
    DEFAULT_SOCKET,
    PodResourcesUnavailable,
    list_pod_resources,
    pods_to_gpus,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            socket=dict(type='path', default=DEFAULT_SOCKET),
            timeout=dict(type='float', default=10),
            gpus=dict(type='list', elements='dict'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not math.isfinite(params['timeout']) or params['timeout'] <= 0:
        module.fail_json(msg='timeout must be a positive number of seconds, got %s' % params['timeout'])
    for gpu in params['gpus'] or []:
        if not isinstance(gpu.get('index'), int) or not gpu.get('uuid'):
            module.fail_json(msg='each of gpus needs an integer index and a uuid, as gpu_info returns them; got %r' % (gpu,))
        minor = gpu.get('minor_number')
        if minor is not None and (not isinstance(minor, int) or isinstance(minor, bool) or minor < 0):
            module.fail_json(msg='gpus: GPU %s: minor_number must be the device minor number (an integer of at least 0), as '
                                 'gpu_info returns it, got %r' % (gpu['index'], minor))
    result = dict(changed=False, socket=params['socket'])
    try:
        pods, claims = list_pod_resources(params['socket'], params['timeout'])
    except PodResourcesUnavailable as exc:
        module.exit_json(available=False, reason=str(exc), **result)
    result.update(available=True, reason=None, pods=pods, dynamic_resources=claims)
    if params['gpus'] is not None:
        result['pod_gpus'], result['unknown_devices'], result['unmapped_dra_devices'] = pods_to_gpus(pods, params['gpus'], claims=claims)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
