# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: mig_strategy_problems
short_description: Why the NVIDIA device plugin would fail to start with a MIG strategy on a node's GPUs
version_added: 0.1.0
description:
  - Takes the GPUs of one node (RV(gpufleet.mig.gpu_info#module:node.gpus) or planned entries of the same shape) and
    returns the reasons the NVIDIA device plugin would refuse to start (and crash-loop) under the MIG strategy O(strategy);
    an empty list when it starts.
  - Each of these breaks plugin start-up whatever C(failOnInitError) says. Each message starts with the plugin's own text
    and names the GPU indices and profiles.
  - With V(single), every MIG-enabled GPU needs at least one MIG device (C(device <i> has no MIG devices configured)); all
    MIG devices of the node must be of one profile (C(more than one MIG device type present on node)); GPUs with MIG
    disabled and MIG devices cannot be on one node (C(all devices on the node must be configured with the same migEnabled
    value)). A node without MIG-enabled GPUs is handled as with V(none).
  - With V(mixed), a GPU instance split into smaller compute instances (profiles such as C(1c.3g.20gb)) stops the plugin
    (C(MIG profile '1c.3g.20gb' does not match any resource patterns)) - the mixed strategy has resources only for whole
    compute instances. The message says what would work - one whole compute instance per GPU instance, or the single
    strategy.
  - V(none) has no such rules.
  - The plugin stops at the first of these; the filter returns all of them.
  - What the plugin accepts but does not advertise is not a problem. With V(mixed), a MIG-enabled GPU without MIG
    devices only makes the plugin log a warning; with V(none), MIG-enabled GPUs are advertised as whole GPUs. See
    P(gpufleet.mig.mig_resources#filter) for what is advertised.
author: gpufleet.mig contributors (@gpufleet)
options:
  _input:
    description:
      - The GPUs of one node, as in RV(gpufleet.mig.gpu_info#module:node.gpus).
      - Each entry needs C(mig_capable) (bool) and C(layout) (null for a GPU without MIG, else a dict with C(mig-enabled)
        and C(mig-devices)); C(index) is used in messages when present.
    type: list
    elements: dict
    required: true
  strategy:
    description:
      - The device plugin's MIG strategy. May be given as the first positional argument.
    type: str
    choices: [none, single, mixed]
    required: true
seealso:
  - plugin: gpufleet.mig.mig_resources
    plugin_type: filter
  - module: gpufleet.mig.gpu_info
"""

EXAMPLES = r"""
---
- name: Read the GPUs
  gpufleet.mig.gpu_info:
  become: true
  register: gpus

- name: Refuse a strategy the device plugin would crash on
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "MIG strategy single does not fit {{ inventory_hostname }}: {{ problems | join('; ') }}"
  vars:
    problems: "{{ gpus.node.gpus | gpufleet.mig.mig_strategy_problems('single') }}"

- name: A GPU instance split into compute instances under mixed
  ansible.builtin.debug:
    # => ["MIG profile '1c.3g.20gb' does not match any resource patterns: GPU 0 has compute instances of split GPU instances
    #     (3 x 1c.3g.20gb), and the mixed strategy has resources only for whole compute instances; give each of these GPU
    #     instances one whole compute instance (3g.20gb), or use the single strategy, which fits this node (each MIG device
    #     becomes one nvidia.com/gpu)"]
    msg: >-
      {{ [{'index': 0, 'mig_capable': true, 'layout': {'mig-enabled': true, 'mig-devices': {'1c.3g.20gb': 3}}}]
         | gpufleet.mig.mig_strategy_problems('mixed') }}

- name: Two MIG profiles on one node under single
  ansible.builtin.debug:
    # => ["more than one MIG device type present on node: 1g.5gb on GPU 0, 3g.20gb on GPU 0; the single strategy needs
    #     one MIG profile on every MIG-enabled GPU"]
    msg: >-
      {{ [{'index': 0, 'mig_capable': true, 'layout': {'mig-enabled': true, 'mig-devices': {'1g.5gb': 4, '3g.20gb': 1}}}]
         | gpufleet.mig.mig_strategy_problems(strategy='single') }}
"""

RETURN = r"""
_value:
  description:
    - One sentence per problem, in the order the plugin checks them; empty when the plugin starts.
  type: list
  elements: str
  sample:
    - "device 1 has no MIG devices configured: GPU 1 has MIG enabled but no MIG devices, and the single strategy needs at
      least one on every MIG-enabled GPU"
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.mig.plugins.module_utils._resources import strategy_problems


def mig_strategy_problems(gpus, strategy):
    """Why the device plugin would fail with this MIG strategy; [] when it starts."""
    try:
        return strategy_problems(gpus, strategy)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """The mig_strategy_problems filter."""

    def filters(self):
        return {'mig_strategy_problems': mig_strategy_problems}
