#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_info
short_description: Read the NVIDIA driver, GPUs and MIG layout of a node through NVML
version_added: 0.1.0
description:
  - Reads the driver and CUDA versions and, for every GPU, its identity (index, UUID, PCI bus and device id, name,
    memory, architecture), whether it is MIG capable, its current and pending MIG mode, its GPU instances with their
    placements and compute instances (with MIG device UUIDs), and the processes running on it.
  - Returns each GPU's current layout in the same shape the layout specification uses (mig-parted's C(mig-enabled) and
    C(mig-devices) keys plus exact C(placements)), and the whole node as a mig-parted C(version=v1) config, so
    exporting a node is one task.
  - Talks to the driver through NVML (the C(pynvml) binding); it never runs C(nvidia-smi) and never changes anything.
  - Also reports what this boot's restore of the checkpointed layout did (role P(gpufleet.mig.mig_restore#role)) and
    whether a failure of it still holds, that is whether the GPUs still differ from the checkpoint it read.
  - Reading GPU instances needs root on most systems (NVML's MIG list calls require a privileged user); run it with
    C(become=true).
author:
  - gpufleet.mig contributors (@gpufleet)
requirements:
  - The NVIDIA driver (C(libnvidia-ml.so.1)) on the node.
  - nvidia-ml-py >= 12.535 (the C(pynvml) module) for the Python interpreter that runs the module on the node.
extends_documentation_fragment:
  - gpufleet.mig.attributes
  - gpufleet.mig.attributes.INFO_MODULE
  - gpufleet.mig.attributes.ACTIONGROUP_GPU
  - gpufleet.mig.attributes.FACTS
options:
  gpus:
    description:
      - Indices of the GPUs to read, as NVML numbers them (sorted by PCI bus id, the same indices mig-parted uses).
      - All GPUs when omitted.
    type: list
    elements: int
  export_label:
    description:
      - The label under which RV(mig_config) holds the exported configuration.
    type: str
    default: current
  set_facts:
    description:
      - Also return the result as the host fact C(gpufleet_mig), so later tasks and plays can use it without registering.
    type: bool
    default: true
  restore_status:
    description:
      - The status file of the boot-time restore (the C(mig_restore_status) of role P(gpufleet.mig.mig_restore#role)).
      - A missing file means no restore ran in this boot; RV(boot_restore.result) is then null.
    type: path
    default: /run/gpufleet-mig/restore.json
notes:
  - The state is read in one NVML session; instances created or destroyed by another process at the same moment may or
    may not be seen.
seealso:
  - module: gpufleet.mig.driver_check
"""

EXAMPLES = r"""
---
- name: Read the GPUs of every node
  gpufleet.mig.gpu_info:
  become: true
  register: gpus

- name: Show the layout of GPU 0
  ansible.builtin.debug:
    var: gpus.node.gpus[0].layout

- name: Export the node as a mig-parted config (to compare with, or feed to, existing tooling)
  ansible.builtin.copy:
    content: "{{ gpus.mig_config | to_nice_yaml }}"
    dest: "/var/tmp/{{ inventory_hostname }}-mig.yaml"
    mode: "0644"
  delegate_to: localhost

- name: Read only GPUs 0 and 1, without setting facts
  gpufleet.mig.gpu_info:
    gpus: [0, 1]
    set_facts: false
  become: true
"""

RETURN = r"""
node:
  description: The driver and the GPUs read.
  returned: success
  type: dict
  contains:
    driver_version:
      description: The NVIDIA driver version.
      type: str
      sample: 550.54.15
    cuda_driver_version:
      description: The highest CUDA version the driver supports (major.minor); null when NVML cannot tell.
      type: str
      sample: "12.4"
    nvml_version:
      description: The NVML library version.
      type: str
      sample: 12.550.54.15
    gpu_count:
      description: Number of GPUs returned in RV(node.gpus).
      type: int
      sample: 8
    gpus:
      description: One entry per GPU, in index order.
      type: list
      elements: dict
      contains:
        index:
          description: The NVML index.
          type: int
        minor_number:
          description:
            - The GPU's device minor number (C(/dev/nvidia<minor>)), by which NVIDIA's DRA driver names its devices; null
              where NVML cannot tell (not on Linux).
          type: int
          sample: 0
        uuid:
          description: The GPU UUID.
          type: str
          sample: GPU-5d5ba0d6-b1a7-4ad2-8d6e-6c1c5cb3e6b3
        name:
          description: The board name as the driver reports it.
          type: str
          sample: NVIDIA A100-SXM4-40GB
        model:
          description: The collection's catalog key for this board, or null for a GPU the catalog does not know.
          type: str
          sample: A100-SXM4-40GB
        pci_bus_id:
          description: The PCI bus id.
          type: str
          sample: "00000000:07:00.0"
        pci_device_id:
          description: NVML's combined PCI device and vendor id, in the form mig-parted's C(device-filter) uses.
          type: str
          sample: "0x20B010DE"
        pci_subsystem_id:
          description: The PCI subsystem id.
          type: str
          sample: "0x134F10DE"
        memory_total_mib:
          description: Board memory in MiB.
          type: int
          sample: 40960
        architecture:
          description: NVML's architecture number (7 Ampere, 8 Ada, 9 Hopper, 10 Blackwell); null when unknown.
          type: int
          sample: 7
        compute_capability:
          description: CUDA compute capability.
          type: str
          sample: "8.0"
        vbios_version:
          description:
            - The vBIOS version NVML reports (C(nvmlDeviceGetVbiosVersion)); null where NVML does not tell.
            - RTX PRO Blackwell Workstation, Max-Q and RTX PRO 5000 boards need a minimum vBIOS for MIG (see M(gpufleet.mig.driver_check)).
          type: str
          sample: 98.02.6A.00.00
        mig_capable:
          description: Whether the GPU supports MIG.
          type: bool
        mig_mode:
          description: MIG mode now and after the next GPU reset or reboot; null values for a GPU without MIG.
          type: dict
          contains:
            current:
              description: MIG mode in effect.
              type: bool
            pending:
              description: MIG mode that takes effect at the next reset or reboot.
              type: bool
            change_pending:
              description: True when current and pending differ.
              type: bool
        gpu_instances:
          description:
            - GPU instances, ordered by placement.
            - Each compute instance (one MIG device) carries C(sm), the streaming multiprocessors NVML reports for its
              compute-instance profile. On Hopper, a compute instance of profile id 7 (1_SLICE_REV1) in a double-memory
              1g GPU instance gets the GPU instance's full SM count where the plain 1-slice profile (id 0) gets fewer;
              gpufleet.mig creates the one with the most SMs.
          type: list
          elements: dict
          sample:
            - id: 2
              profile: 3g.20gb
              profile_id: 9
              placement: {start: 4, size: 4}
              compute_slices: 3
              memory_mib: 19968
              compute_instances:
                - {id: 0, profile: 3g.20gb, profile_id: 2, placement: {start: 0, size: 3}, uuid: MIG-1f4ee9b2-8e5c-5a39-9c53-2b4d2c1e2a11,
                   sm: 42}
        processes:
          description: Processes on the GPU with their memory use in MiB and, when MIG is on, their GPU and compute instance ids.
          type: list
          elements: dict
          sample:
            - {pid: 4242, used_mib: 1024, gpu_instance_id: 2, compute_instance_id: 0, kind: compute}
        layout:
          description:
            - The current layout in the layout-spec shape; null for a GPU without MIG.
            - C(mig-devices) counts MIG devices as mig-parted does; C(placements) lists every GPU instance with its start
              and compute-instance profiles, including GPU instances without compute instances.
          type: dict
          sample:
            mig-enabled: true
            mig-devices: {1g.5gb: 2, 2g.10gb: 1, 3g.20gb: 1}
            placements:
              - {profile: 1g.5gb, start: 0, compute_instances: [1g.5gb]}
              - {profile: 1g.5gb, start: 1, compute_instances: [1g.5gb]}
              - {profile: 2g.10gb, start: 2, compute_instances: [2g.10gb]}
              - {profile: 3g.20gb, start: 4, compute_instances: [3g.20gb]}
mig_config:
  description:
    - The MIG GPUs of the node as a mig-parted C(version=v1) config with one label (O(export_label)), merged as
      C(nvidia-mig-parted export) does.
  returned: success
  type: dict
  sample:
    version: v1
    mig-configs:
      current:
        - devices: all
          mig-enabled: true
          mig-devices: {1g.5gb: 2, 2g.10gb: 1, 3g.20gb: 1}
boot_restore:
  description: What the boot-time restore did in this boot, read from O(restore_status).
  returned: success
  type: dict
  contains:
    status_file:
      description: The status file read (O(restore_status)).
      type: str
    result:
      description:
        - C(ok), C(failed) or C(timeout) as the restore wrote it; C(unreadable) when the file exists but cannot be read
          or is not a restore status; null when there is no status file.
      type: str
      sample: failed
    time:
      description: When the restore finished (UTC, ISO 8601).
      type: str
      sample: "2026-11-30T06:12:09.123456Z"
    message:
      description: The restore's summary.
      type: str
      sample: 1 of 2 checkpointed GPU(s) do not match the checkpoint
    gpus:
      description: The restore's results for the GPUs it could not bring to the checkpoint (uuid, index, result, message).
      type: list
      elements: dict
    outstanding:
      description:
        - True when the restore did not succeed and the GPUs still differ from the checkpoint it read. False once the
          layout has been applied again (which rewrites the checkpoint) or the GPUs were put right otherwise.
      type: bool
    mismatches:
      description: For a restore that did not succeed, how the GPUs differ from the checkpoint now, one line per GPU.
      type: list
      elements: str
    reason:
      description: One line for an operator when RV(boot_restore.outstanding) is true, else null.
      type: str
ansible_facts:
  description: With O(set_facts=true), the same data under C(gpufleet_mig) (keys C(node), C(mig_config), C(boot_restore)).
  returned: success and O(set_facts=true)
  type: dict
  contains:
    gpufleet_mig:
      description: The module result.
      type: dict
"""

from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import mig_parted_config
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml_module import NvmlModule
from ansible_collections.gpufleet.mig.plugins.module_utils._restore import DEFAULT_STATUS, boot_restore_state


def main():
    module = NvmlModule(
        argument_spec=dict(
            gpus=dict(type='list', elements='int'),
            export_label=dict(type='str', default='current'),
            set_facts=dict(type='bool', default=True),
            restore_status=dict(type='path', default=DEFAULT_STATUS),
        ),
        supports_check_mode=True,
    )
    if not module.params['export_label']:
        module.fail_json(msg='export_label must be a non-empty string')

    with module.failing_on_errors(), Nvml() as nvml:
        host = nvml.read_host(module.params['gpus'])

    result = {
        'node': host.to_dict(),
        'mig_config': mig_parted_config(host.gpus, module.params['export_label']),
        'boot_restore': boot_restore_state(module.params['restore_status'], host.gpus, complete=module.params['gpus'] is None),
    }
    facts = {'gpufleet_mig': dict(result)} if module.params['set_facts'] else {}
    module.exit_json(changed=False, ansible_facts=facts, **result)


if __name__ == '__main__':
    main()
