#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: node_drain
short_description: Cordon a Kubernetes node and evict its GPU workloads, respecting disruption budgets
version_added: 0.1.0
description:
  - With O(state=drain), cordons the node, then evicts the pods that use GPU resources (C(nvidia.com/gpu*) or
    C(nvidia.com/mig-*) requests or limits, or a ResourceClaim allocated devices of NVIDIA's DRA driver
    C(gpu.nvidia.com) in the node's pool), or every pod with O(gpu_only=false), through the Eviction API, so
    PodDisruptionBudgets are respected. DaemonSet pods, static (mirror) pods and finished pods are never evicted.
  - The ResourceClaims are listed (all of them, once) only when a pod on the node that requests no GPU resource uses a
    claim; claims of other drivers make no pod a GPU pod.
  - Evicts all pods at once and retries an eviction that a budget refuses (HTTP 429) every O(retry_delay) seconds until
    O(timeout), as C(kubectl drain) does; then waits until every evicted pod is gone.
  - When the drain does not finish, fails with each pod that blocked and why; the node stays cordoned and carries the
    reason in the annotation C(gpufleet.mig/drain-failed).
  - Records the cordon it makes in the annotation C(gpufleet.mig/cordoned). O(state=uncordon) lifts only such a cordon;
    a cordon an administrator made stays unless O(force=true).
  - Sets O(labels) and O(annotations) in the same write as the cordon or the uncordon, so the node is never seen cordoned
    without them, nor carrying them with the cordon not yet lifted. When there is no cordon to make or to lift, they are
    still set (a write of them alone).
  - With O(gpus) (the GPUs that change) and O(pod_resources) (which pod holds which GPU, read on the node by
    M(gpufleet.mig.pod_resources)), evicts only the pods on those GPUs; pods whose devices are all on other GPUs keep
    running. This covers pods holding devices of NVIDIA's DRA driver too, which M(gpufleet.mig.pod_resources) places by
    the minor number in the device's name. A pod the kubelet's answer does not place on known GPUs is evicted, as before.
    When the kubelet's pod-resources API could not be read, or it lists a DRA device that names no GPU
    (its C(unmapped_dra_devices)), falls back to evicting every GPU pod and says why in
    RV(fallback).
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
      - Lists exactly which pods would be evicted and which are left alone, and why, and the labels and annotations that
        would be set.
  diff_mode:
    support: full
    details:
      - Shows the node's schedulability, the pods evicted, and the labels and annotations this task manages, before and
        after.
  idempotent:
    support: full
options:
  node:
    description:
      - The node's name.
    type: str
    required: true
  state:
    description:
      - V(drain) cordons and evicts; V(cordon) only cordons; V(uncordon) lifts the cordon this collection made.
    type: str
    choices: [drain, cordon, uncordon]
    default: drain
  gpu_only:
    description:
      - Evict only pods that use GPU resources. With V(false) every pod is evicted, as C(kubectl drain) does.
    type: bool
    default: true
  gpus:
    description:
      - Indexes of the GPUs that change (layout or MIG mode). With O(state=drain), only the pods holding a device on one of
        them are evicted, by O(pod_resources); every pod O(gpu_only) selects when O(pod_resources) is unavailable.
      - Omitted, every pod that O(gpu_only) selects is evicted.
    type: list
    elements: int
  pod_resources:
    description:
      - The result of M(gpufleet.mig.pod_resources) on the node, with O(gpus) given to it; used with O(gpus).
      - Only C(available), C(reason), C(pod_gpus) and C(unmapped_dra_devices) are read. Omitted, not available, or
        with DRA devices it could not map to GPUs, the drain falls back to evicting every pod O(gpu_only) selects, and
        RV(fallback) says why.
    type: dict
  timeout:
    description:
      - Seconds to keep retrying refused evictions and waiting for evicted pods to go.
    type: int
    default: 600
  retry_delay:
    description:
      - Seconds between attempts to evict a pod that a disruption budget protects (at least 1).
    type: float
    default: 5
  grace_period:
    description:
      - Termination grace period in seconds for the evicted pods; their own when omitted.
    type: int
  force:
    description:
      - With O(state=uncordon), also lift a cordon that this collection did not make.
    type: bool
    default: false
  labels:
    description:
      - Labels to set (string values) or remove (null values) in the same write as the cordon (O(state=drain) or
        O(state=cordon)) or the uncordon (O(state=uncordon)). Other labels are left alone.
      - Checked against Kubernetes' rules before any request, as M(gpufleet.mig.node_labels) checks them.
    type: dict
    default: {}
  annotations:
    description:
      - Annotations to set (string values) or remove (null values), in the same write as O(labels).
      - The annotations C(gpufleet.mig/cordoned) and C(gpufleet.mig/drain-failed) belong to this module and cannot be
        given.
    type: dict
    default: {}
seealso:
  - module: gpufleet.mig.node_labels
"""

EXAMPLES = r"""
---
- name: Drain the GPU work off a node, waiting up to 15 minutes for its budgets
  gpufleet.mig.node_drain:
    node: gpu-node-07
    timeout: 900
  delegate_to: localhost

- name: Show what a drain would evict
  gpufleet.mig.node_drain:
    node: gpu-node-07
  check_mode: true
  delegate_to: localhost
  register: plan

- name: Put the node back into service (only if we cordoned it)
  gpufleet.mig.node_drain:
    node: gpu-node-07
    state: uncordon
  delegate_to: localhost

- name: Drain, marking the reconfiguration as pending in the same write as the cordon
  gpufleet.mig.node_drain:
    node: gpu-node-07
    labels:
      nvidia.com/mig.config.state: pending
  delegate_to: localhost

- name: Record success and lift the cordon in one write
  gpufleet.mig.node_drain:
    node: gpu-node-07
    state: uncordon
    labels:
      nvidia.com/mig.config: all-balanced
      nvidia.com/mig.config.state: success
    annotations:
      gpufleet.mig/failure-reason: null
  delegate_to: localhost
"""

RETURN = r"""
evicted:
  description: The pods evicted (or that would be, in check mode), as C(namespace/name).
  returned: success with O(state=drain)
  type: list
  elements: str
  sample: [research/train-7f9c4, research/notebook-2]
skipped_pods:
  description:
    - Pods left on the node, with the reason.
    - Not called C(skipped), which Ansible takes for its own flag of a skipped task.
  returned: with O(state=drain)
  type: dict
  sample: {gpu-operator/nvidia-device-plugin-daemonset-x2k4q: DaemonSet pod (its controller would recreate it at once)}
blocked:
  description: Pods that kept the drain from finishing, with the reason.
  returned: failure of O(state=drain)
  type: dict
  sample:
    research/train-7f9c4: >-
      eviction still refused when the timeout of 600s ran out (HTTP 429):
      Cannot evict pod as it would violate the pod's disruption budget.
fallback:
  description:
    - With O(gpus), why the drain evicted every pod O(gpu_only) selects instead of only those on O(gpus) (the kubelet's
      pod-resources API could not be read, or a DRA device in its answer names no GPU); null when it evicted only those.
  returned: with O(state=drain) and O(gpus)
  type: str
  sample: the kubelet pod-resources socket /var/lib/kubelet/pod-resources/kubelet.sock does not exist
cordoned:
  description: Whether the node is cordoned after the task.
  returned: success
  type: bool
admin_cordon:
  description: With O(state=uncordon), true when the node stays cordoned because an administrator cordoned it.
  returned: with O(state=uncordon)
  type: bool
labels:
  description: The labels named in O(labels), after the task (as they would be, in check mode); removed ones are absent.
  returned: success
  type: dict
  sample: {nvidia.com/mig.config.state: pending}
annotations:
  description: The annotations named in O(annotations), after the task (as they would be, in check mode); removed ones are absent.
  returned: success
  type: dict
"""

import math

from ansible_collections.gpufleet.mig.plugins.module_utils._drain import (
    CORDON_ANNOTATION, DRAIN_FAILED_ANNOTATION, DrainError, Drainer, pods_on_gpus)
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import metadata_problems, name_problem
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s_module import KubeModule


def _names(pods):
    return ['%s/%s' % (pod['metadata']['namespace'], pod['metadata']['name']) for pod in pods]


def _managed(node, field, keys):
    """The entries of the node's ``field`` (labels or annotations) named in ``keys``, as they are on ``node``."""
    items = node['metadata'].get(field) or {}
    return dict((key, items[key]) for key in sorted(keys) if key in items)


def _pod_gpus(module):
    """(pod 'ns/name' -> GPU indexes, None) for a GPU-precise drain, or (None, why not) to drain every GPU pod."""
    params = module.params
    if params['gpus'] is None:
        return None, None
    if any(index < 0 for index in params['gpus']):
        module.fail_json(msg='gpus must be GPU indexes (0 or more), got %s' % params['gpus'])
    try:
        return pods_on_gpus(params['pod_resources'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))


def main():
    module = KubeModule(
        argument_spec=dict(
            node=dict(type='str', required=True),
            state=dict(type='str', choices=['drain', 'cordon', 'uncordon'], default='drain'),
            gpu_only=dict(type='bool', default=True),
            timeout=dict(type='int', default=600),
            retry_delay=dict(type='float', default=5),
            grace_period=dict(type='int'),
            force=dict(type='bool', default=False),
            labels=dict(type='dict', default={}),
            annotations=dict(type='dict', default={}),
            gpus=dict(type='list', elements='int'),
            pod_resources=dict(type='dict'),
        ),
        supports_check_mode=True,
        # A drain that did not finish leaves the node cordoned.
        errors={DrainError: lambda exc: {'blocked': exc.blocked, 'evicted': list(exc.evicted), 'cordoned': True}},
    )
    params = module.params
    labels, annotations = params['labels'], params['annotations']
    problems = [p for p in [name_problem('node', params['node'])] if p] + metadata_problems(labels, annotations)
    # The module's own record of its cordon and of a failed drain: set by hand they would lift or keep the wrong cordon.
    problems += ['annotation %s: node_drain manages it itself; leave it out of annotations' % key
                 for key in (CORDON_ANNOTATION, DRAIN_FAILED_ANNOTATION) if key in annotations]
    module.fail_problems(problems)
    for name, minimum in (('timeout', 0), ('retry_delay', 1), ('grace_period', 0)):
        if params[name] is not None and params[name] < minimum:
            module.fail_json(msg='%s must be at least %s, got %s' % (name, minimum, params[name]))
    # Ansible's float type accepts 'nan' and 'inf', which compare as not below the minimum; time.sleep refuses both.
    if not math.isfinite(params['retry_delay']):
        module.fail_json(msg='retry_delay must be a finite number of seconds, at least 1, got %s' % params['retry_delay'])

    pod_gpus, fallback = _pod_gpus(module)
    result = {} if params['gpus'] is None or params['state'] != 'drain' else {'fallback': fallback}
    # A drain that did not finish says all the same whether it was GPU-precise.
    with module.failing_on_errors(**result):
        drainer = Drainer(module.kube, params['node'], timeout=params['timeout'], retry_delay=params['retry_delay'],
                          grace_period=params['grace_period'], labels=labels, annotations=annotations,
                          gpus=None if pod_gpus is None else params['gpus'], pod_gpus=pod_gpus)
        before = module.kube.read_node(params['node'])
        if params['state'] == 'uncordon':
            changed, admin, after = drainer.uncordon(force=params['force'], check_mode=module.check_mode)
            result.update(changed=changed, admin_cordon=admin)
        elif params['state'] == 'cordon' or module.check_mode:
            changed, after = drainer.cordon(check_mode=module.check_mode)
            result.update(changed=changed)
            if params['state'] == 'drain':
                to_evict, skipped = drainer.plan(params['gpu_only'])
                result.update(changed=changed or bool(to_evict), evicted=_names(to_evict), skipped_pods=skipped)
        else:
            changed, evicted, skipped, after = drainer.drain(params['gpu_only'])
            result.update(changed=changed or bool(evicted), evicted=evicted, skipped_pods=skipped)

    result.update(cordoned=bool(after['spec'].get('unschedulable')), labels=_managed(after, 'labels', labels),
                  annotations=_managed(after, 'annotations', annotations))
    if module._diff:
        result['diff'] = {'before': {'unschedulable': bool(before['spec'].get('unschedulable'))},
                          'after': {'unschedulable': result['cordoned'], 'evicted': result.get('evicted', [])}}
        for field, keys in (('labels', labels), ('annotations', annotations)):
            if keys:
                result['diff']['before'][field] = _managed(before, field, keys)
                result['diff']['after'][field] = result[field]
    module.exit_json(**result)


if __name__ == '__main__':
    main()
