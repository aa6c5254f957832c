# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: mig_rollout_preflight
short_description: The rollout preflight's decision for every node of a play at once
version_added: 0.2.0
description:
  - Decides, for each node the C(gpufleet.mig.mig_rollout) role's preflight noted, what the rollout must do to it (see
    P(gpufleet.mig.mig_rollout_needs#filter), which it applies to each node), the problems that stop the rollout before
    any change, and whether the node is converged.
  - The preflight calls it once, on the controller, for the whole play; its batch decides a node it reads again with
    P(gpufleet.mig.mig_rollout_needs#filter), so both come to the same answer.
author: gpufleet.mig contributors (@gpufleet)
options:
  _input:
    description:
      - What the preflight noted on each node, by inventory host name.
      - Each with C(node_problem) (why the Kubernetes node could not be read, or V(null)), C(node) (its Kubernetes name), C(config)
        (the layout's name), C(plugin_config) (the device plugin config it runs with), C(layout_given) (whether a layout
        or a config name was given) and C(cluster) (the key of the device plugin check that covers it, V(null) when it
        was not checked).
    type: dict
    required: true
  plans:
    description:
      - The registered M(gpufleet.mig.mig_layout) check-mode result of each node (or the failed or skipped task's), by
        inventory host name.
    type: dict
    required: true
  plugins:
    description:
      - The registered M(gpufleet.mig.device_plugin_config) check-mode run of each cluster (with C(nodes)), by cluster key.
        With C(dra) it also says which nodes NVIDIA's DRA driver serves (their entries have C(allocator=dra)); those are
        decided from their entry, and the device plugin's ConfigMap is not their upkeep.
    type: dict
    required: true
  precise:
    description:
      - Whether the drains are GPU-precise (the role's C(mig_rollout_drain_precise)); then each RV(_value.capacity) entry
        names the GPUs that change (C(gpus)).
    type: bool
    default: false
seealso:
  - plugin: gpufleet.mig.mig_rollout_needs
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: Decide every node at once, on the controller
  ansible.builtin.set_fact:
    decided: "{{ noted | gpufleet.mig.mig_rollout_preflight(plans=plans, plugins=plugins) }}"
  vars:
    noted:
      gpu-node-1:
        node_problem: null
        node: gpu-node-1
        config: all-balanced
        plugin_config: mixed
        layout_given: true
        cluster: main
    plans:
      gpu-node-1: "{{ hostvars['gpu-node-1'].plan }}"
    plugins:
      main: "{{ hostvars['gpu-node-1'].plugin_check }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: Each node's decision, by inventory host name.
  type: dict
  contains:
    problems:
      description: Why the node cannot be rolled out (the rollout stops before any change); empty when it can.
      type: list
      elements: str
    needs:
      description: What the node needs, as P(gpufleet.mig.mig_rollout_needs#filter) returns it.
      type: dict
    converged:
      description: Whether nothing needs a drain (the node may still need upkeep).
      type: bool
    upkeep:
      description: Whether anything is written without a drain (checkpoint, boot-time restore, other nodes' device plugin configs).
      type: bool
    cluster:
      description: The key of the device plugin check that covers the node (the one the preflight noted); null when it was not checked.
      type: str
    capacity:
      description:
        - For a node that is drained, and whose device plugin check says what it advertises after the change, its entry
          for P(gpufleet.mig.capacity_check#module)'s O(gpufleet.mig.capacity_check#module:changes) (C(node),
          C(resources), and with O(precise) C(gpus)); null otherwise.
      type: dict
  sample:
    gpu-node-1:
      problems: []
      needs: {todo: nothing, drain: false, change: [], upkeep: [], enable: [], disable: [], drain_gpus: [], previous: [], problems: [],
              allocator: device-plugin}
      converged: true
      upkeep: false
      cluster: 0f3c8e
      capacity: null
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.mig.plugins.module_utils._rollout import preflight_decisions


def mig_rollout_preflight(nodes, plans, plugins, precise=False):
    """Every node's decision: see preflight_decisions."""
    try:
        return preflight_decisions(nodes, plans, plugins, precise=precise)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """The mig_rollout_preflight filter."""

    def filters(self):
        return {'mig_rollout_preflight': mig_rollout_preflight}
