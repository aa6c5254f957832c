# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: mig_resources
short_description: The Kubernetes resources the NVIDIA device plugin advertises for a node's GPUs under a MIG strategy
version_added: 0.1.0
description:
  - Takes the GPUs of one node (RV(gpufleet.mig.gpu_info#module:node.gpus) or planned entries of the same shape) and returns
    the extended resources, with exact counts, that the NVIDIA device plugin advertises for them under the MIG strategy
    O(strategy), as a dict of resource name to count. Resources with a count of zero are left out.
  - With V(none), every GPU (MIG enabled or not) is one C(nvidia.com/gpu) and MIG devices are not advertised.
  - With V(single), each MIG device is one C(nvidia.com/gpu), compute instances of a split GPU instance (profiles such as
    C(1c.3g.20gb)) included; a node without MIG-enabled GPUs is handled as with V(none).
  - With V(mixed), each GPU with MIG disabled is one C(nvidia.com/gpu) and each MIG device is one C(nvidia.com/mig-<profile>),
    with C(+) in the profile name replaced by C(.) (C(1g.10gb+me) becomes C(nvidia.com/mig-1g.10gb.me)). A MIG-enabled GPU
    without MIG devices adds nothing (the plugin only logs a warning). The plugin has resources only for whole compute
    instances, so a GPU instance split into smaller ones (C(1c.3g.20gb)) stops it from starting.
  - When the device plugin would refuse the layout (see P(gpufleet.mig.mig_strategy_problems#filter)) it advertises nothing,
    and this filter fails with the reasons.
  - Only the current MIG mode (C(layout.mig-enabled)) counts, not a pending one.
author: gpufleet.mig contributors (@gpufleet)
options:
  _input:
    description:
      - The GPUs of one node, as in RV(gpufleet.mig.gpu_info#module:node.gpus).
      - Each entry needs C(mig_capable) (bool) and C(layout) (null for a GPU without MIG, else a dict with C(mig-enabled)
        and C(mig-devices), the MIG device counts by profile); C(index) is used in messages when present.
    type: list
    elements: dict
    required: true
  strategy:
    description:
      - The device plugin's MIG strategy (C(flags.migStrategy), C(MIG_STRATEGY), the GPU Operator's C(mig.strategy)).
      - May be given as the first positional argument.
    type: str
    choices: [none, single, mixed]
    default: mixed
seealso:
  - plugin: gpufleet.mig.mig_strategy_problems
    plugin_type: filter
  - module: gpufleet.mig.gpu_info
"""

EXAMPLES = r"""
---
- name: Read the GPUs
  gpufleet.mig.gpu_info:
  become: true
  register: gpus

- name: Show what Kubernetes should advertise for this node under the mixed strategy
  ansible.builtin.debug:
    msg: "{{ gpus.node.gpus | gpufleet.mig.mig_resources }}"

- name: The same under the single strategy
  ansible.builtin.debug:
    msg: "{{ gpus.node.gpus | gpufleet.mig.mig_resources('single') }}"

- name: Planned data works too
  ansible.builtin.debug:
    # => {"nvidia.com/gpu": 1, "nvidia.com/mig-1g.5gb": 2, "nvidia.com/mig-3g.20gb": 1}
    msg: >-
      {{ [{'mig_capable': true, 'layout': {'mig-enabled': true, 'mig-devices': {'1g.5gb': 2, '3g.20gb': 1}}},
          {'mig_capable': false, 'layout': none}] | gpufleet.mig.mig_resources(strategy='mixed') }}
"""

RETURN = r"""
_value:
  description:
    - Resource name to count, sorted by name; empty when nothing is advertised.
  type: dict
  sample: {"nvidia.com/gpu": 1, "nvidia.com/mig-1g.5gb": 4, "nvidia.com/mig-3g.20gb": 1}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.mig.plugins.module_utils._resources import expected_resources


def mig_resources(gpus, strategy='mixed'):
    """Expected device-plugin resources of a node's GPUs under a MIG strategy."""
    try:
        return expected_resources(gpus, strategy)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """The mig_resources filter."""

    def filters(self):
        return {'mig_resources': mig_resources}
