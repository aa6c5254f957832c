#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mig_plan
short_description: Plan per-node MIG layouts from the cluster's demand, with the least disruption
version_added: 0.2.0
description:
  - Reads every Node, Pod and ResourceQuota of the cluster and takes each planned node's GPUs as M(gpufleet.mig.gpu_info)
    found them, and plans a MIG layout per GPU that serves as much demand as it can while destroying the fewest busy
    instances, then changing the fewest nodes and GPUs, then keeping free capacity contiguous.
  - Demand is the C(nvidia.com/mig-*) requests of pending pods (not yet bound to a node), capped per namespace by the
    C(requests.nvidia.com/mig-*) hard limits of its ResourceQuotas, plus O(targets).
  - Busy instances are those held by running pods. The API server does not tell which MIG device a pod holds; the
    kubelet's pod-resources API on the node does. With O(pod_resources) a pod the kubelet places marks exactly the GPU
    instance it holds; the pods it does not cover (no answer for the node, API not available, a device
    M(gpufleet.mig.gpu_info) does not list) are counted against the node's remaining instances of their profile, those
    with processes first. RV(nodes) says per node which it was.
  - A pending pod is served only on nodes the scheduler may give it - its C(nodeSelector), required node affinity and
    the node's taints against its tolerations, as M(gpufleet.mig.capacity_check) decides them.
  - It never changes a GPU. With O(configmap) it records the plan where the rollout takes it, the way the GPU Operator
    names layouts - a mig-parted config in that ConfigMap, with one named config per distinct node layout, and each
    planned node's C(nvidia.com/mig.config) label naming its config - so that the rollout, given the same ConfigMap
    (C(gpufleet_mig_parted_configmap)), applies it. Without O(configmap) it writes nothing.
  - Bad input (an unknown profile, demand no GPU model of the fleet can serve, contradictory policy) fails naming the value.
requirements:
  - highspy (HiGHS, the MIP solver the planner uses)
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
      - It reads and plans, and says what recording the plan would change, writing nothing.
  diff_mode:
    support: full
    details:
      - The ConfigMap's config text and the planned nodes' C(nvidia.com/mig.config) labels, before and after.
  idempotent:
    support: full
options:
  gpu_facts:
    description:
      - The nodes to plan, by Kubernetes node name, each with its GPUs as M(gpufleet.mig.gpu_info) returns them
        (RV(gpufleet.mig.gpu_info#module:node.gpus)). GPUs without MIG are left out of the plan.
    type: dict
    required: true
  pod_resources:
    description:
      - Per node name, which pod holds which MIG device - the result of M(gpufleet.mig.pod_resources) run on the node
        (C(playbooks/plan.yml) reads it on every planned node). For a node it does not cover, or whose result is skipped
        or not available, the node's running pods are spread over its instances of their profiles.
    type: dict
    default: {}
  pools:
    description:
      - Node pools, each the nodes whose labels hold every pair of its selector. A node may be in one pool at most.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The pool's name, as O(targets) use it.
        type: str
        required: true
      selector:
        description: Labels a node must have, with these values.
        type: dict
        required: true
  targets:
    description:
      - Declared demand beside the pending pods, as instances of a profile that a pool should offer (busy ones count).
    type: list
    elements: dict
    default: []
    suboptions:
      pool:
        description: The pool (O(pools)).
        type: str
        required: true
      profile:
        description: The MIG profile (C(3g.40gb)) or its resource (C(nvidia.com/mig-3g.40gb)).
        type: str
        required: true
      count:
        description: How many instances.
        type: int
        required: true
  frozen_nodes:
    description: Nodes whose GPUs the plan leaves as they are.
    type: list
    elements: str
    default: []
  frozen_gpus:
    description: GPUs the plan leaves as they are.
    type: list
    elements: dict
    default: []
    suboptions:
      node:
        description: The node's name.
        type: str
        required: true
      index:
        description: The GPU's index on the node.
        type: int
        required: true
  max_nodes_changed:
    description: The most nodes the plan may change; no limit when unset.
    type: int
  move_busy:
    description:
      - Whether the plan may destroy busy instances (their pods are evicted by the rollout and must fit again in the
        same pool). Without it a busy instance keeps its placement.
    type: bool
    default: false
  time_limit:
    description:
      - CPU seconds the solver may take for the whole plan; where it stops there, the best plan found is returned with
        RV(optimal) false.
    type: float
    default: 3.0
  configmap:
    description:
      - Record the plan in this ConfigMap (created when missing; the key O(configmap_key) is replaced, configs that
        nodes outside this plan still name are kept) and label each planned node with its config. The ConfigMap is
        written first, so a label never names a config it lacks.
      - Unset, nothing is written.
    type: str
  namespace:
    description: The namespace of O(configmap).
    type: str
    default: gpu-operator
  configmap_key:
    description: The key of O(configmap) that holds the mig-parted config.
    type: str
    default: config.yaml
notes:
  - Node labels and taints are taken as they are now.
  - Only the C(mixed) strategy's C(nvidia.com/mig-*) resources are demand; a C(nvidia.com/gpu) request names no profile.
seealso:
  - module: gpufleet.mig.gpu_info
    description: Reads the GPUs the plan takes as O(gpu_facts).
  - module: gpufleet.mig.capacity_check
    description: Reads the same ResourceQuotas before a rollout.
"""

EXAMPLES = r"""
---
- name: Plan the fleet's layouts from the pending pods
  gpufleet.mig.mig_plan:
    gpu_facts:
      gpu-node-1: "{{ hostvars['gpu-node-1'].gpu_info.node.gpus }}"
    pools:
      - name: inference
        selector:
          pool: inference
    max_nodes_changed: 2
  delegate_to: localhost
  register: plan

- name: Print it
  ansible.builtin.debug:
    msg: "{{ plan.summary }}"
"""

RETURN = r"""
nodes:
  description:
    - Per planned node, whether it changes, its GPUs (current and target layout in the layout-spec shape, the pods a
      change evicts, free slices outside the largest free block), the MIG resources it offers after the plan, those it
      offers more of than now (C(new)), and slot diagrams (now and planned for a GPU that changes).
    - C(busy) lists its busy instances (GPU index, start, profile, pods) and says whether they are C(known) from the
      kubelet's answer (O(pod_resources)) or guessed, with the C(reason) and the pods C(guessed).
    - Target placements are where the planner measured them (largest first, lowest start, busy instances where they are);
      the rollout places new instances so that it keeps the current ones, which can differ.
  returned: success
  type: dict
  sample:
    gpu-node-1:
      changed: true
      resources: {nvidia.com/mig-3g.40gb: 2}
      new: {nvidia.com/mig-3g.40gb: 2}
      gpus:
        - index: 0
          model: A100-SXM4-80GB
          changed: true
          current: {mig-enabled: true, mig-devices: {}, placements: []}
          target:
            mig-enabled: true
            mig-devices: {3g.40gb: 2}
            placements: [{profile: 3g.40gb, start: 0, compute_instances: [3g.40gb]}, {profile: 3g.40gb, start: 4, compute_instances: [3g.40gb]}]
          evicts: []
          fragmentation: 0
      busy: {known: true, reason: null, guessed: [], instances: []}
      diagrams:
        - "GPU 0 A100-SXM4-80GB [.........|.........|.........|.........|.........|.........|.........|.........] now"
        - "GPU 0 A100-SXM4-80GB [0-3:3g.40gb ...|4-7:3g.40gb ...] planned"
demand:
  description: Units of demand per profile (pending pods' requests and declared targets).
  returned: success
  type: dict
  sample: {"3g.40gb": 2}
served:
  description: Units of demand per profile the plan serves.
  returned: success
  type: dict
  sample: {"3g.40gb": 2}
served_before:
  description: Units of demand per profile the current layouts serve.
  returned: success
  type: dict
  sample: {"3g.40gb": 0}
unmet:
  description: Demand the plan does not serve, per profile and reason.
  returned: success
  type: list
  elements: dict
  sample: [{"profile": "7g.80gb", "count": 1, "reason": "pods with node selector none: ...", "message": "1 x 7g.80gb cannot be placed: ..."}]
nodes_changed:
  description: The nodes whose layout changes.
  returned: success
  type: list
  elements: str
gpus_changed:
  description: How many GPUs change.
  returned: success
  type: int
busy_destroyed:
  description: How many busy instances the plan destroys (0 without O(move_busy)).
  returned: success
  type: int
evicted_pods:
  description: The pods whose instances the plan destroys, as C(namespace/name).
  returned: success
  type: list
  elements: str
fragmentation:
  description: Free memory slices outside each GPU's largest free block, summed.
  returned: success
  type: int
optimal:
  description: Whether the solver proved the plan optimal (false when it stopped at O(time_limit)).
  returned: success
  type: bool
recorded:
  description: Where the plan is recorded (with O(configmap)) - the ConfigMap, its key, and the config name each planned node is labelled with.
  returned: when O(configmap) is set
  type: dict
  sample: {"namespace": "gpu-operator", "configmap": "gpufleet-mig-plan", "key": "config.yaml",
           "labels": {"gpu-node-1": "gpufleet-plan-5f2c0d9e1a7b"}}
summary:
  description: The plan in lines for a person to read, what is served and what not and why, then per node its diagrams.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.gpufleet.mig.plugins.module_utils._fleetplan import HIGHSPY_IMPORT_ERROR, Demand, FleetPlanError, plan_fleet
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import config_key_problem, metadata_patch, name_problem
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s_module import KubeModule
from ansible_collections.gpufleet.mig.plugins.module_utils._module import Library
from ansible_collections.gpufleet.mig.plugins.module_utils._plan_cluster import (
    CONFIG_LABEL, CONFIG_PREFIX, fleet_input, plan_data, planned_configs, policy_of,
)

try:
    import yaml
except ImportError:
    yaml = None


def record(module, kube, nodes, plan):
    """Write the plan's mig-parted config into the ConfigMap, then the nodes' labels; returns (changed, diff, recorded)."""
    params = module.params
    namespace, name, key = params['namespace'], params['configmap'], params['configmap_key']
    config, labels = planned_configs(plan)
    existing = kube.read_config_map(namespace, name)
    old_text = ((existing or {}).get('data') or {}).get(key)
    try:
        old = (yaml.safe_load(old_text) or {}) if old_text else {}
    except yaml.YAMLError as exc:
        module.fail_json(msg='configmap %s/%s key %s is not YAML; nothing was written: %s' % (namespace, name, key, exc))
    old_configs = old.get('mig-configs') if isinstance(old, dict) else None
    if old_text and not isinstance(old_configs, dict):
        module.fail_json(msg='configmap %s/%s key %s is not a mig-parted config (no mig-configs); nothing was written' % (namespace, name, key))
    now = dict((node['metadata']['name'], ((node['metadata'].get('labels') or {}).get(CONFIG_LABEL))) for node in nodes)
    # Configs of an earlier plan that nodes outside this one still name stay, so their rollout still finds them.
    kept = set(value for node, value in now.items() if node not in labels and value and value.startswith(CONFIG_PREFIX))
    configs = dict((config_name, entries) for config_name, entries in (old_configs or {}).items() if config_name in kept)
    configs.update(config['mig-configs'])
    text = yaml.safe_dump({'version': 'v1', 'mig-configs': configs}, default_flow_style=False, sort_keys=True)
    relabel = dict((node, value) for node, value in labels.items() if now.get(node) != value)
    changed = text != old_text or bool(relabel)
    if changed and not module.check_mode:
        if text != old_text:
            kube.write_config_map_data(namespace, name, {key: text}, existing)
        for node, value in sorted(relabel.items()):
            def change(current, value=value):
                patch = metadata_patch(current['metadata'], {CONFIG_LABEL: value}, {})
                return {'metadata': patch} if patch else None
            kube.update_node(node, change)
    diff = {'before': {'configmap': old_text or '', 'labels': dict((node, now.get(node)) for node in labels)},
            'after': {'configmap': text, 'labels': labels}}
    return changed, diff, {'namespace': namespace, 'configmap': name, 'key': key, 'labels': labels}


# The planner's MIP solver, at the version requirements.txt pins.
HIGHSPY_LIBRARY = Library('highspy', HIGHSPY_IMPORT_ERROR, pinned='1.16.0')


def main():
    argument_spec = dict(
        gpu_facts=dict(type='dict', required=True),
        pod_resources=dict(type='dict', default={}),
        pools=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            selector=dict(type='dict', required=True),
        )),
        targets=dict(type='list', elements='dict', default=[], options=dict(
            pool=dict(type='str', required=True),
            profile=dict(type='str', required=True),
            count=dict(type='int', required=True),
        )),
        frozen_nodes=dict(type='list', elements='str', default=[]),
        frozen_gpus=dict(type='list', elements='dict', default=[], options=dict(
            node=dict(type='str', required=True),
            index=dict(type='int', required=True),
        )),
        max_nodes_changed=dict(type='int'),
        move_busy=dict(type='bool', default=False),
        time_limit=dict(type='float', default=3.0),
        configmap=dict(type='str'),
        namespace=dict(type='str', default='gpu-operator'),
        configmap_key=dict(type='str', default='config.yaml', no_log=False),
    )
    module = KubeModule(argument_spec=argument_spec, supports_check_mode=True)
    module.require(HIGHSPY_LIBRARY)
    params = module.params
    problems = [p for p in (name_problem('gpu_facts', name) for name in params['gpu_facts']) if p]
    if params['configmap'] is not None:
        problems.extend(p for p in (name_problem('configmap', params['configmap']), name_problem('namespace', params['namespace'], 'label'),
                                    config_key_problem('configmap_key', params['configmap_key'])) if p)
    if params['time_limit'] <= 0:
        problems.append('time_limit must be more than 0 seconds, got %s' % params['time_limit'])
    module.fail_problems(problems)
    if params['configmap'] is not None and yaml is None:
        module.fail_json(msg=missing_required_lib('PyYAML'))
    changed, diff = False, None
    with module.failing_on_errors():
        try:
            policy, targets = policy_of(params)
            nodes, pods, quotas = module.kube.read_cluster()
            busy_sources = {}
            fleet, demand = fleet_input(nodes, pods, quotas, params['gpu_facts'], params['pod_resources'], busy_sources)
            plan = plan_fleet(fleet, Demand(pods=demand.pods, targets=targets, quotas=demand.quotas), policy)
        except FleetPlanError as exc:
            module.fail_json(msg='The plan cannot be made; nothing was written: %s' % exc)
        result = plan_data(plan, params['gpu_facts'], busy_sources)
        if params['configmap'] is not None:
            changed, diff, result['recorded'] = record(module, module.kube, nodes, plan)
    if diff is not None and module._diff:
        result['diff'] = diff
    module.exit_json(changed=changed, **result)


if __name__ == '__main__':
    main()
