# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: mig_rollout_needs
short_description: What a GPU node needs from the rollout - nothing, upkeep or a change - and which GPUs change
version_added: 0.2.0
description:
  - Decides, from check-mode runs of M(gpufleet.mig.mig_layout) and M(gpufleet.mig.device_plugin_config), what the rollout
    does to one node. The C(gpufleet.mig.mig_rollout) role's preflight and its batch both decide with it.
  - C(change) (drain, MIG mode, layout, device plugin, labels) when a GPU's layout or MIG mode differs from the plan, the
    device plugin of the node would restart or its config is missing from the ConfigMap, the node's labels are not
    C(nvidia.com/mig.config=<config>) and C(nvidia.com/mig.config.state=success), it carries the annotation
    C(gpufleet.mig/failure-reason), or it could not be checked.
  - Otherwise C(upkeep) (no drain) when the checkpoint is stale, the boot-time restore is missing on a node with MIG
    layouts, or device plugin configs that other nodes use are missing from the ConfigMap; otherwise C(nothing).
author: gpufleet.mig contributors (@gpufleet)
options:
  _input:
    description:
      - The registered result of M(gpufleet.mig.mig_layout) in check mode, or of that task failed or skipped (the node
        then needs a C(change) and the failure's message is a problem).
    type: dict
    required: true
  plugin:
    description:
      - The registered result of M(gpufleet.mig.device_plugin_config) in check mode, run with O(node) for this node, or
        with C(nodes) for several nodes (then O(node) says which). V(null) when the node was not checked.
      - For a node NVIDIA's DRA driver serves, the registered result of M(gpufleet.mig.dra_plugin) in check mode with
        O(node) (or the node's entry of a run with C(nodes)); the node then needs a C(change) when its ResourceSlices do
        not list the planned devices.
    type: dict
    required: true
  config:
    description:
      - The name of the desired layout, which the label C(nvidia.com/mig.config) must have.
    type: str
    required: true
  plugin_config:
    description:
      - The device plugin config the node runs with (its C(nvidia.com/device-plugin.config) label).
    type: str
    required: true
  node:
    description:
      - The Kubernetes node name, to find the node in a O(plugin) result of several nodes.
    type: str
  gpus:
    description:
      - The node's GPUs as read (RV(gpufleet.mig.gpu_info#module:node.gpus)); the C(node.gpus) of the plan when omitted.
    type: list
    elements: dict
  earlier:
    description:
      - An earlier result of this filter for the node, such as the preflight's. What it found to write stays in RV(_value.upkeep).
    type: dict
seealso:
  - module: gpufleet.mig.mig_layout
  - module: gpufleet.mig.device_plugin_config
  - plugin: gpufleet.mig.mig_rollout_result
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: Plan the layout
  gpufleet.mig.mig_layout:
    config: "{{ lookup('ansible.builtin.file', 'mig-parted.yaml') | from_yaml }}"
    label: all-balanced
  check_mode: true
  become: true
  register: plan

- name: Check the device plugin config and the resources the node advertises
  gpufleet.mig.device_plugin_config:
    node: "{{ inventory_hostname }}"
    config_name: mixed
    gpus: "{{ plan.node.gpus }}"
  check_mode: true
  delegate_to: localhost
  register: plugin

- name: Say what the node needs
  ansible.builtin.debug:
    # => todo change, enable [0], drain_gpus [0], change ['GPU 0: its layout changes', 'GPU 0: MIG mode goes on', ...]
    msg: "{{ plan | gpufleet.mig.mig_rollout_needs(plugin=plugin, config='all-balanced', plugin_config='mixed') }}"
"""

RETURN = r"""
_value:
  description: What the node needs.
  type: dict
  contains:
    todo:
      description: C(change) when anything needs a drain, else C(upkeep) when anything needs writing, else C(nothing).
      type: str
      choices: [nothing, upkeep, change]
    change:
      description: Why the node is drained and changed, one sentence each; also why it could not be checked.
      type: list
      elements: str
    upkeep:
      description: What is written without a drain - checkpoint, boot-time restore, device plugin configs of other nodes.
      type: list
      elements: str
    enable:
      description: The GPU indices whose MIG mode goes on.
      type: list
      elements: int
    disable:
      description: The GPU indices whose MIG mode goes off.
      type: list
      elements: int
    drain:
      description: Whether the node is drained (RV(_value.todo) is C(change)).
      type: bool
    drain_gpus:
      description: The GPUs whose layout or MIG mode changes; empty when only the device plugin or the labels do.
      type: list
      elements: int
    previous:
      description: The layout entries (see M(gpufleet.mig.mig_layout)) that put every GPU back as read, MIG mode included.
      type: list
      elements: dict
    problems:
      description: Why the node could not be checked - the failed plan's or device plugin check's message.
      type: list
      elements: str
    allocator:
      description:
        - What hands the node's GPUs to Kubernetes, as O(plugin) says - C(device-plugin) or C(dra) (NVIDIA's DRA driver) -
          or, when the node was not checked, as O(earlier) says.
      type: str
      choices: [device-plugin, dra]
  sample:
    todo: upkeep
    change: []
    upkeep: [the checkpoint is stale or missing]
    enable: []
    disable: []
    drain: false
    drain_gpus: []
    previous: [{devices: [0], mig-enabled: true, mig-devices: {3g.40gb: 2}}]
    problems: []
    allocator: device-plugin
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.mig.plugins.module_utils._rollout import node_needs


def mig_rollout_needs(plan, plugin, config, plugin_config, node=None, gpus=None, earlier=None):
    """What the node needs: see node_needs."""
    try:
        return node_needs(plan, plugin, config, plugin_config, node=node, gpus=gpus, earlier=earlier)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """The mig_rollout_needs filter."""

    def filters(self):
        return {'mig_rollout_needs': mig_rollout_needs}
