#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mig_mode
short_description: Enable or disable MIG mode on NVIDIA GPUs, with reset or a clear reboot requirement
version_added: 0.1.0
description:
  - Sets MIG mode on the selected GPUs through NVML and reads back the current and pending mode.
  - A mode change may stay pending. On Ampere (A100, A30) the GPU must be reset; the driver does that itself when the
    GPU is idle, otherwise this module resets it with C(nvidia-smi --gpu-reset) when O(reset=true) and no process uses
    it. On Hopper and later no reset is needed, but a busy GPU keeps the change pending, and a reset would lose MIG mode.
  - When the change cannot take effect now the module does not fail; it returns RV(reboot_required) and, per GPU, the
    reason (GPU busy with which processes, reset not possible, reset failed).
  - Refuses, before changing anything, to disable MIG on a GPU that still has GPU instances (they would be lost
    silently); remove them first with M(gpufleet.mig.mig_layout) and C(mig-enabled=false).
  - Needs root on the node.
author:
  - gpufleet.mig contributors (@gpufleet)
requirements:
  - nvidia-ml-py >= 12.535 (the C(pynvml) module) for the Python interpreter that runs the module on the node.
  - C(nvidia-smi) on the node when a reset is needed.
extends_documentation_fragment:
  - gpufleet.mig.attributes
  - gpufleet.mig.attributes.ACTIONGROUP_GPU
attributes:
  check_mode:
    support: full
    details:
      - Predicts whether the change would take effect, need a reset, or stay pending, from the GPU's architecture and
        its processes.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  mig_enabled:
    description:
      - The MIG mode wanted.
    type: bool
    required: true
  gpus:
    description:
      - Indices of the GPUs to change. All MIG-capable GPUs when omitted.
      - Naming a GPU without MIG support is an error when O(mig_enabled=true).
    type: list
    elements: int
  reset:
    description:
      - Whether the module may reset an idle Ampere GPU whose mode change is pending.
      - With V(false), a pending change is reported with RV(reboot_required).
    type: bool
    default: true
  nvidia_smi:
    description:
      - The C(nvidia-smi) command used for GPU resets.
    type: path
    default: nvidia-smi
notes:
  - Daemons that hold the GPU (nvidia-persistenced, DCGM, nvsm, the nvidia_drm module, device plugins) make a reset fail
    with "In use by another client"; stop them first or reboot.
seealso:
  - module: gpufleet.mig.mig_layout
  - module: gpufleet.mig.gpu_info
"""

EXAMPLES = r"""
---
- name: Enable MIG on every MIG-capable GPU
  gpufleet.mig.mig_mode:
    mig_enabled: true
  become: true
  register: mode

- name: Reboot when the change could not take effect without one
  ansible.builtin.reboot:
  become: true
  when: mode.reboot_required

- name: Disable MIG on GPUs 6 and 7, never resetting them from here
  gpufleet.mig.mig_mode:
    mig_enabled: false
    gpus: [6, 7]
    reset: false
  become: true
"""

RETURN = r"""
changed:
  description: Whether any GPU's current or pending mode changed, or a GPU was reset.
  returned: always
  type: bool
reboot_required:
  description: True when at least one GPU's mode change is still pending and needs the GPU idle and reset, or a reboot.
  returned: always
  type: bool
gpus:
  description: One entry per selected GPU.
  returned: always
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
      description: Catalog key of the board, or null.
      type: str
    before:
      description: Current and pending mode before the task.
      type: dict
      sample: {current: false, pending: false}
    after:
      description: Current and pending mode after the task (predicted in check mode).
      type: dict
      sample: {current: true, pending: true}
    changed:
      description: Whether this GPU changed.
      type: bool
    reset_performed:
      description: Whether this module reset the GPU.
      type: bool
    reboot_required:
      description: Whether the change is still pending.
      type: bool
    reason:
      description: Why the change is pending, or null.
      type: str
      sample: "GPU busy: processes 4242 use it (In use by another client)"
    processes:
      description: PIDs of processes on the GPU.
      type: list
      elements: int
"""

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml, activation_status_text
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml_module import NvmlModule


def _mode(current, pending):
    return {'current': current, 'pending': pending}


def _describe(index, mode):
    text = 'GPU %d: MIG %s' % (index, 'enabled' if mode['current'] else 'disabled')
    if mode['pending'] != mode['current']:
        text += ' (pending: %s)' % ('enabled' if mode['pending'] else 'disabled')
    return text + '\n'


class MigMode(object):
    """Select GPUs, check the request, change the mode, reset where allowed, report."""

    def __init__(self, module):
        self.module = module
        self.want = module.params['mig_enabled']
        self.results = []

    def select(self, host):
        """Return the GPUs to handle, or fail before any change with every problem found."""
        wanted = self.module.params['gpus']
        by_index = {gpu.index: gpu for gpu in host.gpus}
        problems = []
        if wanted is None:
            selected = [gpu for gpu in host.gpus if gpu.mig_capable]
        else:
            selected = []
            for index in sorted(set(wanted)):
                if index not in by_index:
                    problems.append('GPU index %d does not exist (valid: 0-%d)' % (index, len(host.gpus) - 1))
                elif not by_index[index].mig_capable and self.want:
                    problems.append('GPU %d (%s) does not support MIG' % (index, by_index[index].name))
                elif by_index[index].mig_capable:
                    selected.append(by_index[index])
        for gpu in selected:
            if not self.want and gpu.gpu_instances:
                problems.append('GPU %d still has %d GPU instance(s) (%s); disabling MIG would destroy them: remove them first '
                                'with gpufleet.mig.mig_layout (mig-enabled: false)'
                                % (gpu.index, len(gpu.gpu_instances), ', '.join('%s at %d' % (gi.profile, gi.start) for gi in gpu.gpu_instances)))
        self.module.fail_problems(problems)
        return selected

    def run(self):
        with self.module.failing_on_errors(), Nvml() as nvml:
            host = nvml.read_host()
        selected = self.select(host)
        # From here a failure reports the GPUs handled so far.
        self.module.failure['gpus'] = self.results
        pending_reset = []
        with self.module.failing_on_errors(), Nvml() as nvml:
            for gpu in selected:
                self.results.append(self._set(nvml, gpu, pending_reset))
        if pending_reset:
            self._reset(pending_reset)
        return self.results

    def _set(self, nvml, gpu, pending_reset):
        before = _mode(gpu.mig_current, gpu.mig_pending)
        result = {'index': gpu.index, 'uuid': gpu.uuid, 'model': gpu.model, 'before': before, 'after': dict(before),
                  'changed': False, 'reset_performed': False, 'reboot_required': False, 'reason': None,
                  'processes': [p.pid for p in gpu.processes]}
        if before == _mode(self.want, self.want):
            return result
        model = _catalog.find_model(pci_device_id=gpu.pci_device_id, name=gpu.name, memory_total_mib=gpu.memory_total_mib)
        needs_reset = gpu.architecture == 7 if model is None else model.mode_persistent
        busy = bool(gpu.processes)
        if self.module.check_mode:
            status = 19 if busy else 0
            after = _mode(self.want if not busy else gpu.mig_current, self.want)
        else:
            status = nvml.set_mig_mode(gpu.index, self.want)
            after = dict(zip(('current', 'pending'), nvml.mig_mode(gpu.index)))
        result['after'] = after
        result['changed'] = after != before
        if after['current'] != self.want:
            reason = activation_status_text(status)
            if busy:
                reason = 'GPU busy: processes %s use it (%s)' % (', '.join(str(p.pid) for p in gpu.processes), reason)
            result['reason'] = reason
            # Ampere activates a pending mode with a reset; on Hopper and later a reset would lose the mode instead.
            if needs_reset and not busy and self.module.params['reset']:
                pending_reset.append(result)
            else:
                result['reboot_required'] = True
        return result

    def _reset(self, results):
        """Reset idle Ampere GPUs whose change is pending; outside the NVML session, like an operator would."""
        for result in results:
            if self.module.check_mode:
                result['after'] = _mode(self.want, self.want)
                result['reset_performed'] = result['changed'] = True
                result['reason'] = None
                continue
            rc, out, err = self.module.run_command([self.module.params['nvidia_smi'], '-r', '-i', str(result['index'])])
            if rc != 0:
                result['reboot_required'] = True
                result['reason'] = 'GPU reset failed (rc=%d): %s' % (rc, (err or out).strip())
                continue
            result['reset_performed'] = result['changed'] = True
        if not self.module.check_mode:
            with self.module.failing_on_errors(), Nvml() as nvml:
                for result in results:
                    current, pending = nvml.mig_mode(result['index'])
                    result['after'] = _mode(current, pending)
                    if current == self.want:
                        result['reason'] = None
                    else:
                        result['reboot_required'] = True


def main():
    module = NvmlModule(
        argument_spec=dict(
            mig_enabled=dict(type='bool', required=True),
            gpus=dict(type='list', elements='int'),
            reset=dict(type='bool', default=True),
            nvidia_smi=dict(type='path', default='nvidia-smi'),
        ),
        supports_check_mode=True,
    )
    gpus = MigMode(module).run()
    result = dict(changed=any(g['changed'] for g in gpus), reboot_required=any(g['reboot_required'] for g in gpus), gpus=gpus)
    if module._diff:
        result['diff'] = {'before': ''.join(_describe(g['index'], g['before']) for g in gpus),
                          'after': ''.join(_describe(g['index'], g['after']) for g in gpus)}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
