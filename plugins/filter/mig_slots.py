# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: mig_slots
short_description: A one-line slot diagram of a GPU's MIG instances
version_added: 0.1.0
description:
  - Draws where the GPU instances of a GPU sit, one cell per memory slice, for reports, logs and before/after comparisons.
  - Every cell has the same width, so the diagrams of one GPU model line up slice by slice. Cells are separated by C(|);
    an instance spans its cells and is labelled C(<start>:<profile>) or C(<first>-<last>:<profile>); a free slice is a cell
    filled with dots. The line starts with C(GPU <index> <model>). See RV(_value) for an example.
  - A GPU without MIG gives its title followed by C(no MIG) in parentheses, and a GPU with MIG off its title followed by
    C(MIG disabled) in parentheses. A pending MIG mode change is added as C(MIG on after reset) or C(MIG off after reset).
  - The number of memory slices comes from the collection's GPU catalog (C(model), else C(name)); for a GPU the catalog
    does not know, 8 slices are assumed and the line says so.
  - Overlapping instances, or instances beyond the GPU's memory slices, make the filter fail (they mean corrupt input).
author: gpufleet.mig contributors (@gpufleet)
options:
  _input:
    description:
      - One GPU entry, or a list of them, as in RV(gpufleet.mig.gpu_info#module:node.gpus).
      - The instances are read from C(gpu_instances) (profile and C(placement) start and size); an entry without
        C(gpu_instances) uses C(layout.placements), with sizes from the catalog.
    type: raw
    required: true
seealso:
  - module: gpufleet.mig.gpu_info
"""

EXAMPLES = r"""
---
- name: Read the GPUs
  gpufleet.mig.gpu_info:
  become: true
  register: gpus

- name: Show every GPU's slots
  ansible.builtin.debug:
    msg: "{{ gpus.node.gpus | gpufleet.mig.mig_slots }}"

- name: Show GPU 0 only
  ansible.builtin.debug:
    msg: "{{ gpus.node.gpus[0] | gpufleet.mig.mig_slots }}"
"""

RETURN = r"""
_value:
  description:
    - One line for a GPU entry; a list of lines, in input order, for a list of entries.
  type: raw
  sample:
    - "GPU 0 A100-SXM4-40GB [0:1g.5gb   |1:1g.5gb   |2-3:2g.10gb            |4-7:3g.20gb                                    ]"
    - "GPU 1 A100-SXM4-40GB (MIG disabled)"
    - "GPU 2 L40S (no MIG)"
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.mig.plugins.module_utils._diagram import layout_diagram


def mig_slots(gpus):
    """A slot diagram per GPU entry: a string for one entry, a list of strings for a list."""
    try:
        if isinstance(gpus, Mapping):
            return layout_diagram(gpus)
        if isinstance(gpus, (list, tuple)):
            return [layout_diagram(gpu) for gpu in gpus]
        raise ValueError('expected a GPU entry or a list of them (gpu_info node.gpus), got %s' % type(gpus).__name__)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """The mig_slots filter."""

    def filters(self):
        return {'mig_slots': mig_slots}
