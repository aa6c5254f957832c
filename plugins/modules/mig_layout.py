#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mig_layout
short_description: Partition NVIDIA GPUs into MIG instances with planned placements and minimal change
version_added: 0.1.0
description:
  - Applies a MIG layout to the GPUs of a node, from a mig-parted C(version=v1) config (O(config) and O(label)) or from
    an inline layout (O(layout)) with the same entry structure plus optional pinned placements and GPU selectors.
  - Validates the whole layout against every GPU's model before anything changes - unknown profile names, too many
    instances, sets that no placement can fit, bad or overlapping pinned placements, profiles that need a newer driver, and
    a layout that selects none of the node's GPUs (every entry's C(device-filter) names other boards; the message names
    the GPUs' PCI ids and the filters) - and fails with every problem listed.
  - A profile name the GPU does not offer is refused with the GPU's valid profiles, also when another board names a
    profile of the same size so (C(3g.72gb), a GH200 144G name, on an H200). Only a drifted name NVIDIA's drivers are
    documented to report for the same board resolves, with a warning (C(3g.39gb) for C(3g.40gb) on an A100 80GB).
  - Plans explicit placements offline and changes only what must change - instances that fit the new layout stay
    untouched, a GPU whose layout already matches gets no NVML call at all, and instances with running processes are
    never destroyed unless O(force=true).
  - Creates GPU instances with explicit placements and their compute instances, then verifies the GPU against the plan.
    When any step fails, it restores that GPU's previous layout with its exact placements and fails, saying what
    happened and what each GPU holds. GPUs are changed one at a time, so each GPU ends in its old or its new layout.
  - Writes a checkpoint of the resulting layout of every MIG GPU (per GPU UUID - profiles, placements, compute
    instances) for a boot-time restore.
  - MIG mode must already be as the layout says; set it first with M(gpufleet.mig.mig_mode). A GPU whose layout says
    C(mig-enabled=false) while MIG is still on has all its instances removed, so that MIG can then be disabled. In check
    mode a GPU whose MIG mode is still off is planned as if it had been enabled (with a warning), so a check-mode run of
    the whole sequence predicts it.
  - Needs root on the node.
author:
  - gpufleet.mig contributors (@gpufleet)
requirements:
  - nvidia-ml-py >= 12.535 (the C(pynvml) module) for the Python interpreter that runs the module on the node.
  - jmespath, when an inline layout uses C(device-selector).
extends_documentation_fragment:
  - gpufleet.mig.attributes
  - gpufleet.mig.attributes.ACTIONGROUP_GPU
attributes:
  check_mode:
    support: full
    details:
      - Reports exactly which compute and GPU instances would be destroyed and created, computed by the same code that
        drives the real run.
  diff_mode:
    support: full
    details:
      - Shows slot diagrams of every changed GPU before and after.
  idempotent:
    support: full
options:
  layout:
    description:
      - An inline layout - a list of entries with the keys of a mig-parted config entry (C(devices), C(device-filter),
        C(mig-enabled), C(mig-devices)), or a single such entry.
      - Entries may also have C(placements), a list of C(profile), optional C(start) (pins the memory slice) and optional
        C(compute_instances); and C(device-selector), a JMESPath expression over the RV(gpufleet.mig.gpu_info#module:node.gpus)
        entries that restricts the GPUs an entry applies to. The RV(gpufleet.mig.gpu_info#module:node.gpus[].layout) of a GPU can be fed
        back unchanged.
      - Mutually exclusive with O(config).
    type: raw
  config:
    description:
      - The content of a mig-parted C(version=v1) config file, as a dictionary or as YAML/JSON text, for example
        C("{{ lookup('file', 'config.yaml') | from_yaml }}"). mig-parted's rules apply, with unknown keys refused.
    type: raw
  label:
    description:
      - The label of O(config) to apply; required when the config has more than one.
    type: str
  gpus:
    description:
      - Only change these GPU indices; the layout's entries for other GPUs are still validated but not applied.
    type: list
    elements: int
  force:
    description:
      - Allow destroying GPU or compute instances that have running processes. NVML may still refuse while they run.
    type: bool
    default: false
  checkpoint:
    description:
      - Where to write the checkpoint of the node's MIG layout after a change (atomically, JSON).
    type: path
    default: /var/lib/gpufleet-mig/checkpoint.json
  write_checkpoint:
    description:
      - Whether to write O(checkpoint).
    type: bool
    default: true
  restore_unit:
    description:
      - The systemd unit of the boot-time restore that reads O(checkpoint), as the C(gpufleet.mig.mig_restore) role installs
        it (C(/etc/systemd/system/gpufleet-mig-restore.service)). When set, RV(restore_installed) says whether it exists, so
        that one task tells whether the layout would come back after a reboot.
    type: path
seealso:
  - module: gpufleet.mig.mig_mode
  - module: gpufleet.mig.gpu_info
"""

EXAMPLES = r"""
---
- name: Apply a label of an existing mig-parted config file
  gpufleet.mig.mig_layout:
    config: "{{ lookup('ansible.builtin.file', 'mig-parted-config.yaml') | from_yaml }}"
    label: all-balanced
  become: true

- name: Give GPUs 0-3 two 3g instances and pin a 4g+3g split on GPU 7
  gpufleet.mig.mig_layout:
    layout:
      - devices: [0, 1, 2, 3]
        mig-enabled: true
        mig-devices:
          3g.40gb: 2
      - devices: [7]
        mig-enabled: true
        placements:
          - {profile: 4g.40gb, start: 0}
          - {profile: 3g.40gb, start: 4}
  become: true

- name: Split every A100 80GB into seven 1g instances, chosen by a JMESPath selector
  gpufleet.mig.mig_layout:
    layout:
      devices: all
      device-selector: "[?model=='A100-SXM4-80GB']"
      mig-enabled: true
      mig-devices:
        1g.10gb: 7
  become: true
"""

RETURN = r"""
changed:
  description: Whether any GPU changed or the checkpoint was rewritten.
  returned: always
  type: bool
gpus:
  description: One entry per GPU the layout applies to.
  returned: when the layout was valid
  type: list
  elements: dict
  contains:
    index:
      description: NVML index.
      type: int
    uuid:
      description: GPU UUID.
      type: str
    model:
      description: Catalog key.
      type: str
    changed:
      description: Whether this GPU changed (or would, in check mode).
      type: bool
    mig_enabled:
      description: The MIG mode the layout wants for this GPU (this module does not change modes; see M(gpufleet.mig.mig_mode)).
      type: bool
    status:
      description: C(unchanged), C(changed), C(restored) (the change failed and the old layout is back), C(failed) (it
        could not be restored), or C(not-applied) (not reached, or excluded by O(gpus)).
      type: str
    before:
      description: The layout before, in the layout-spec shape.
      type: dict
    after:
      description: The layout after (planned, in check mode).
      type: dict
    actions:
      description: The NVML steps, in order (done, or that would be done in check mode).
      type: list
      elements: str
      sample:
        - destroy compute instance 2g.10gb at 0:2 (id 0) in GPU instance 2g.10gb at 2:2
        - destroy GPU instance 2g.10gb at 2:2 (id 4)
        - create GPU instance 1g.5gb at 2:1
        - create compute instance 1g.5gb at 0:1 in GPU instance 1g.5gb at 2:1
    diagram:
      description: Slot diagrams of the GPU before and after.
      type: dict
      contains:
        before:
          description: Before.
          type: str
        after:
          description: After.
          type: str
    warnings:
      description: Warnings about this GPU's layout (for example a documented drifted profile name that was resolved).
      type: list
      elements: str
checkpoint:
  description: The checkpoint path, when written or already up to date.
  returned: when O(write_checkpoint=true) and the layout was valid
  type: str
checkpoint_stale:
  description:
    - Whether the checkpoint did not match the layout (missing, or recording another layout) and was rewritten, or would
      be in check mode. A node whose GPUs are as the layout says but whose checkpoint is stale is reported changed, so
      that a boot-time restore never brings back an old layout.
  returned: when O(write_checkpoint=true) and the layout was valid
  type: bool
restore_installed:
  description:
    - Whether O(restore_unit) exists on the node. A node whose GPUs have MIG layouts but no boot-time restore loses them at
      its next reboot.
  returned: when O(restore_unit) is set and the layout was valid
  type: bool
node:
  description:
    - The node as read before any change, in the shape of RV(gpufleet.mig.gpu_info#module:node), so that a check-mode
      run gives both the plan and the state it was made from.
  returned: when the GPUs could be read
  type: dict
problems:
  description: Every problem found in the layout or the plan, when the module refused to change anything.
  returned: failure
  type: list
  elements: str
"""

import dataclasses
import os

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils._apply import ApplyError, apply_with_rollback, canonical_gpu, steps_to
from ansible_collections.gpufleet.mig.plugins.module_utils._checkpoint import DEFAULT_CHECKPOINT, checkpoint_stale, write_checkpoint
from ansible_collections.gpufleet.mig.plugins.module_utils._diagram import model_cell_width, slot_diagram
from ansible_collections.gpufleet.mig.plugins.module_utils._gpu_targets import targets_for_gpus
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import layout_of
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import LayoutError, parse_inline_layout, parse_mig_parted_config
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml_module import NvmlModule
from ansible_collections.gpufleet.mig.plugins.module_utils._planner import PlanError, plan_gpu


def _layout_after(gpu, after):
    """The GPU's layout as gpu_info will show it once the plan's exact layout ``after`` is applied (this module never changes the mode)."""
    return layout_of(dataclasses.replace(gpu, gpu_instances=after))


class MigLayout(object):
    """Validate, plan, apply GPU by GPU with rollback, checkpoint."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.node = None

    def entries(self):
        if self.params['config'] is not None:
            return parse_mig_parted_config(self.params['config'], self.params['label'])
        return parse_inline_layout(self.params['layout'])

    def plan(self, host, entries):
        """Return [(gpu, model, target, plan)] for every targeted GPU; fail with all problems before any change."""
        targets = targets_for_gpus(entries, host.gpus, host.driver_version)
        only = self.params['gpus']
        problems, plans = [], []
        by_index = {gpu.index: gpu for gpu in host.gpus}
        for index in sorted(only or ()):
            if index not in by_index:
                problems.append('GPU index %d does not exist (valid: 0-%d)' % (index, len(host.gpus) - 1))
        for index, target in sorted(targets.items()):
            gpu = by_index[index]
            model = _catalog.model_by_key(target.model)
            gpu = canonical_gpu(gpu, model)
            if target.layout.mig_enabled and not gpu.mig_current:
                if not self.module.check_mode:
                    problems.append('GPU %d (%s): MIG mode is disabled%s; enable it first with gpufleet.mig.mig_mode'
                                    % (index, model.key, ' (an enable is pending: reset or reboot)' if gpu.mig_pending else ''))
                    continue
                # Check mode predicts the run that follows mig_mode: a GPU that MIG is enabled on has no instances.
                self.module.warn('GPU %d: MIG mode is disabled now; planned as if gpufleet.mig.mig_mode had enabled it' % index)
                gpu = dataclasses.replace(gpu, mig_current=True, mig_pending=True, gpu_instances=())
            if not target.layout.mig_enabled and not gpu.mig_current:
                plans.append((gpu, model, target, None))
                continue
            try:
                plans.append((gpu, model, target, plan_gpu(model, gpu, target.layout, force=self.params['force'])))
            except PlanError as exc:
                problems.append(str(exc))
        self.module.fail_problems(problems)
        return plans

    def run(self):
        with self.module.failing_on_errors():
            entries = self.entries()
            with Nvml() as nvml:
                host = nvml.read_host()
                self.node = host.to_dict()
                plans = self.plan(host, entries)
                results = [self._result(gpu, model, target, plan) for gpu, model, target, plan in plans]
                failure = None
                if not self.module.check_mode:
                    failure = self._apply(nvml, plans, results)
                final = None if self.module.check_mode else nvml.read_host()
        checkpoint_changed = False
        if self.params['write_checkpoint'] and final is not None:
            checkpoint_changed = self._write_checkpoint(final)
        elif self.params['write_checkpoint'] and not any(r['changed'] for r in results):
            # Check mode, with the layout staying as it is: the run would still rewrite a stale checkpoint.
            checkpoint_changed = checkpoint_stale(host, self.params['checkpoint'])
        changed = any(r['changed'] for r in results) or checkpoint_changed
        return changed, results, failure, checkpoint_changed

    def _result(self, gpu, model, target, plan):
        excluded = self.params['gpus'] is not None and gpu.index not in self.params['gpus']
        steps = [] if plan is None or excluded else steps_to(gpu, plan.after)
        width = model_cell_width(model)
        before = slot_diagram(model.memory_slices, gpu.gpu_instances, width=width)
        after = before if not steps else slot_diagram(model.memory_slices, plan.after, width=width)
        return {
            'index': gpu.index, 'uuid': gpu.uuid, 'model': model.key, 'changed': bool(steps),
            'mig_enabled': target.layout.mig_enabled,
            'status': 'not-applied' if excluded else ('changed' if steps else 'unchanged'),
            'before': layout_of(gpu), 'after': layout_of(gpu) if not steps else _layout_after(gpu, plan.after),
            'actions': [str(step) for step in steps],
            'diagram': {'before': 'GPU %d %s' % (gpu.index, before), 'after': 'GPU %d %s' % (gpu.index, after)},
            'warnings': list(target.warnings),
            '_plan': plan, '_gpu': gpu, '_model': model,
        }

    def _apply(self, nvml, plans, results):
        """Apply GPU by GPU; on the first failure stop, leaving later GPUs untouched."""
        for position, result in enumerate(results):
            if not result['changed']:
                continue
            try:
                done = apply_with_rollback(nvml, result['_model'], result['_gpu'], result['_plan'].after)
                result['actions'] = [str(step) for step in done]
            except ApplyError as exc:
                result['status'] = 'restored' if exc.restored else 'failed'
                result['changed'] = bool(exc.done) and not exc.restored
                result['actions'] = [str(step) for step in exc.done]
                result['error'] = str(exc)
                if exc.state is not None:
                    result['after'] = layout_of(exc.state)
                for later in results[position + 1:]:
                    if later['changed']:
                        later['status'] = 'not-applied'
                        later['changed'] = False
                        later['after'] = later['before']
                return exc
        return None

    def _write_checkpoint(self, host):
        """Write the checkpoint of every MIG GPU if its content differs; return whether it was written."""
        try:
            return write_checkpoint(host, self.params['checkpoint'])
        except (IOError, OSError) as exc:
            self.module.fail_json(msg='the layout was applied, but writing the checkpoint %s failed: %s' % (self.params['checkpoint'], exc))


def main():
    module = NvmlModule(
        argument_spec=dict(
            layout=dict(type='raw'),
            config=dict(type='raw'),
            label=dict(type='str'),
            gpus=dict(type='list', elements='int'),
            force=dict(type='bool', default=False),
            checkpoint=dict(type='path', default=DEFAULT_CHECKPOINT),
            write_checkpoint=dict(type='bool', default=True),
            restore_unit=dict(type='path'),
        ),
        mutually_exclusive=[('layout', 'config')],
        required_one_of=[('layout', 'config')],
        required_by={'label': ('config',)},
        supports_check_mode=True,
        errors={LayoutError: lambda exc: {'problems': list(exc.problems)}},
    )

    layout = MigLayout(module)
    changed, results, failure, checkpoint_changed = layout.run()
    for result in results:
        for key in ('_plan', '_gpu', '_model'):
            result.pop(key)
        for warning in result['warnings']:
            module.warn('GPU %d: %s' % (result['index'], warning))
    output = dict(changed=changed, gpus=results, node=layout.node)
    if module.params['write_checkpoint']:
        output['checkpoint'] = module.params['checkpoint']
        output['checkpoint_stale'] = checkpoint_changed
    if module.params['restore_unit']:
        # A plain existence check: whether the unit is enabled and works is the restore role's business.
        output['restore_installed'] = os.path.exists(module.params['restore_unit'])
    if module._diff:
        changed_gpus = [r for r in results if r['changed'] or r['status'] in ('restored', 'failed')]
        output['diff'] = {'before': ''.join(r['diagram']['before'] + '\n' for r in changed_gpus),
                          'after': ''.join(r['diagram']['after'] + '\n' for r in changed_gpus)}
    if failure is not None:
        module.fail_json(msg=str(failure), **output)
    module.exit_json(**output)


if __name__ == '__main__':
    main()
