#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: capacity_check
short_description: Refuse a rollout that would leave the cluster without room for its GPU workloads
version_added: 0.2.0
description:
  - Before a rollout changes anything, reads every Node, Pod and ResourceQuota of the cluster and asks whether, with the
    nodes in O(changes) offering their new GPU resources, the cluster still runs its GPU workloads.
  - Per GPU resource (C(nvidia.com/gpu), C(nvidia.com/mig-*)) it compares what the cluster offers after the change with
    what the pods that keep running or come back request, and with what ResourceQuotas grant
    (C(requests.nvidia.com/...)). A quota is a ceiling, not a promise; the part of it the cluster could honour before
    the change counts as promised, so a quota that was already out of reach never refuses a change.
  - Every pod the drains would evict and a controller recreates (a ReplicaSet's, a Job's, a StatefulSet's) must fit
    somewhere after the change, on a node that offers its GPU resources and that its C(nodeSelector), required node
    affinity and tolerations allow (taints, and cordons other than the rollout's own). Like the scheduler it places
    greedily, biggest pods first, each on the node it fills best. An evicted pod without a controller is listed, not
    placed; nobody recreates it.
  - A change with C(gpus), whose node O(pod_resources) covers, is drained GPU-precisely, as M(gpufleet.mig.node_drain) does it - only the
    pods on those GPUs count as evicted; the others keep their devices on the node (RV(spared)). Without the kubelet's
    answer, every GPU pod of the node counts as evicted and RV(fallback) says why.
  - Only GPU resources are counted. Node labels are taken as they are now.
  - A pod whose ResourceClaim holds devices of NVIDIA's DRA driver (C(gpu.nvidia.com)) on a drained node counts as
    evicted, as M(gpufleet.mig.node_drain) evicts it (the ResourceClaims are read when a drained node's pods use any).
    What DRA nodes offer is not counted, so such a pod is listed in RV(evicted) but neither placed nor stranded.
  - When something would be stranded it fails, listing the pods and resources, unless O(allow_capacity_loss) is set;
    then it succeeds with the same findings and a warning.
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
      - It only reads; check mode runs it as it is.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  changes:
    description:
      - The nodes the rollout drains and changes, each with the GPU resources it offers after the change (what its device
        plugin will advertise, for example the RV(gpufleet.mig.device_plugin_config#module:expected) of a check-mode run).
    type: list
    elements: dict
    required: true
    suboptions:
      node:
        description:
          - The Kubernetes node's name.
        type: str
        required: true
      resources:
        description:
          - Its GPU resources after the change, by name, with their counts. Resources it does not list, it does not offer.
        type: dict
        required: true
      gpus:
        description:
          - The indexes of its GPUs that change, for a GPU-precise drain (the rollout's C(mig_rollout_drain_precise)).
          - Omitted, every pod the drain selects counts as evicted.
        type: list
        elements: int
  pod_resources:
    description:
      - Per node name, which pod holds which GPU - the result of M(gpufleet.mig.pod_resources) run on the node with its
        GPUs, as M(gpufleet.mig.node_drain) takes it. Used for the changes with O(changes[].gpus); for a node it does not
        cover, or whose result is skipped or not available, every GPU pod of the node counts as evicted.
    type: dict
    default: {}
  drain_gpu_only:
    description:
      - Whether the drain evicts only the pods that use GPUs (the rollout's C(mig_rollout_drain_gpu_only)). Pods that use
        no GPU need no GPU capacity to come back; they only count as evicted.
    type: bool
    default: true
  allow_capacity_loss:
    description:
      - Succeed even when pods or quotas would be stranded, with a warning, for a change made on purpose.
    type: bool
    default: false
seealso:
  - module: gpufleet.mig.device_plugin_config
    description: Computes the resources each node advertises after its change.
  - name: Resource quotas for extended resources (Kubernetes documentation)
    description: Why only C(requests.)-prefixed quota items exist for GPU resources.
    link: https://kubernetes.io/docs/concepts/policy/resource-quotas/
"""

EXAMPLES = r"""
---
- name: Refuse a change that would strand the cluster's GPU pods
  gpufleet.mig.capacity_check:
    changes:
      - node: gpu-node-1
        resources:
          nvidia.com/mig-3g.40gb: 16
  delegate_to: localhost

- name: The same, with a drain that evicts only the pods on GPU 3, which changes
  gpufleet.mig.capacity_check:
    changes:
      - node: gpu-node-1
        gpus: [3]
        resources:
          nvidia.com/mig-3g.40gb: 15
          nvidia.com/mig-1g.10gb: 7
    # Registered by gpufleet.mig.pod_resources on gpu-node-1, run with the GPUs gpu_info read.
    pod_resources:
      gpu-node-1: "{{ hostvars['gpu-node-1'].pod_owners }}"
  delegate_to: localhost
"""

RETURN = r"""
resources:
  description: Per GPU resource, what the cluster offers before and after the change, what the pods that keep running or
    come back request (C(used)) and what ResourceQuotas grant (C(quota)).
  returned: always
  type: dict
  sample: {"nvidia.com/mig-1g.10gb": {"before": 14, "after": 7, "used": 3, "quota": 0}}
evicted:
  description: The pods the drains of O(changes) would evict, as C(namespace/name).
  returned: always
  type: list
  elements: str
spared:
  description: The GPU pods of drained nodes that keep running, because they hold only GPUs that do not change (see O(changes[].gpus)).
  returned: always
  type: list
  elements: str
fallback:
  description: Per node given O(changes[].gpus), why its drain counts every GPU pod as evicted; only nodes where it does.
  returned: always
  type: dict
  sample: {"gpu-node-1": "the kubelet pod-resources socket /var/lib/kubelet/pod-resources/kubelet.sock does not exist"}
not_recreated:
  description: Those of them that no controller recreates (the drain ends them).
  returned: always
  type: list
  elements: str
placed:
  description: Where each evicted GPU pod fits after the change, by pod.
  returned: always
  type: dict
  sample: {"team-a/train-0": "gpu-node-2"}
stranded:
  description: The evicted GPU pods that fit on no node after the change, each with its GPU requests and why each node refuses it.
  returned: always
  type: list
  elements: dict
  sample: [{"pod": "team-a/infer-1", "requests": {"nvidia.com/mig-1g.10gb": 1},
            "why": ["gpu-node-1, gpu-node-2: too few free nvidia.com/mig-1g.10gb after the change"]}]
problems:
  description: What would be stranded, one sentence each; empty when the cluster keeps room.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.gpufleet.mig.plugins.module_utils._capacity import CapacityInputError, capacity_check
from ansible_collections.gpufleet.mig.plugins.module_utils._drain import needs_claims, pods_on_gpus
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import name_problem
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s_module import KubeModule


def main():
    module = KubeModule(
        argument_spec=dict(
            changes=dict(type='list', elements='dict', required=True, options=dict(
                node=dict(type='str', required=True),
                resources=dict(type='dict', required=True),
                gpus=dict(type='list', elements='int'),
            )),
            pod_resources=dict(type='dict', default={}),
            drain_gpu_only=dict(type='bool', default=True),
            allow_capacity_loss=dict(type='bool', default=False),
        ),
        errors={CapacityInputError: lambda exc: {}},
        supports_check_mode=True,
    )
    params = module.params
    names = [change['node'] for change in params['changes']]
    problems = [p for p in (name_problem('changes.node', name) for name in names) if p]
    problems.extend('changes: node %s is listed twice' % name for name in sorted(set(n for n in names if names.count(n) > 1)))
    module.fail_problems(problems)
    changes = dict((change['node'], change['resources']) for change in params['changes'])
    precise, fallback = {}, {}
    for change in params['changes']:
        if change['gpus'] is None:
            continue
        if any(index < 0 for index in change['gpus']):
            module.fail_json(msg='changes: node %s: gpus must be GPU indexes (0 or more), got %s' % (change['node'], change['gpus']))
        try:
            pod_gpus, why_not = pods_on_gpus(params['pod_resources'].get(change['node']))
        except ValueError as exc:
            module.fail_json(msg='changes: node %s: %s' % (change['node'], exc))
        if pod_gpus is None:
            fallback[change['node']] = why_not
        else:
            precise[change['node']] = (change['gpus'], pod_gpus)
    with module.failing_on_errors():
        nodes, pods, quotas = module.kube.read_cluster()
        drained = [pod for pod in pods if (pod.get('spec') or {}).get('nodeName') in changes]
        # As node_drain: the claims are read only where a drained node's pods use some.
        claims = module.kube.resource_claims() if params['drain_gpu_only'] and needs_claims(drained) else ()
        found = capacity_check(nodes, pods, quotas, changes, gpu_only=params['drain_gpu_only'], precise=precise, claims=claims)
    found['fallback'] = fallback
    if found['problems'] and not params['allow_capacity_loss']:
        module.fail_json(msg='The change would leave the cluster without room for its GPU workloads; nothing was changed: %s '
                             'Set allow_capacity_loss to make it on purpose.' % ' '.join(p.rstrip('.') + '.' for p in found['problems']),
                         **found)
    for problem in found['problems']:
        module.warn('capacity loss allowed: %s' % problem)
    module.exit_json(changed=False, **found)


if __name__ == '__main__':
    main()
