#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: driver_check
short_description: Check that a node's NVIDIA driver is new enough for MIG and allowed by site policy
version_added: 0.1.0
description:
  - Reads the driver version and the GPUs through NVML and checks, per GPU, the minimum driver that MIG needs on that
    board (R450 for A100, R460 for A30, R525 for H100, R550 for H200, R570 for B200, from NVIDIA's MIG user guide), and
    the higher minimum of any MIG profile you plan to use (O(profiles)), for example C(1g.5gb+me) needs R470.
  - On the boards for which NVIDIA's MIG user guide gives a minimum vBIOS (RTX PRO 6000 Blackwell Workstation Edition
    98.02.55.00.00, its Max-Q edition 98.02.6A.00.00, RTX PRO 5000 Blackwell 98.02.73.00.00), also checks the vBIOS version
    NVML reports, field by field as hexadecimal numbers; where NVML does not report it the module warns instead.
  - Optionally enforces site policy - a minimum version, a list of allowed driver branches, or one pinned version.
  - Fails with a message naming each GPU, the driver found and the version it needs when anything is wrong; fails
    clearly when the driver is not installed or not loaded; passes with a summary otherwise.
  - Never changes anything.
author:
  - gpufleet.mig contributors (@gpufleet)
requirements:
  - nvidia-ml-py >= 12.535 (the C(pynvml) module) for the Python interpreter that runs the module on the node.
extends_documentation_fragment:
  - gpufleet.mig.attributes
  - gpufleet.mig.attributes.INFO_MODULE
  - gpufleet.mig.attributes.ACTIONGROUP_GPU
options:
  minimum_version:
    description:
      - A site minimum on top of the hardware minimums, for example C(550.54.15), or a branch floor such as C(R550).
    type: str
  allowed_branches:
    description:
      - Driver branches that are allowed, as major numbers (C(550)) or NVIDIA branch names (C(R550)).
      - Any branch when empty.
    type: list
    elements: str
    default: []
  pinned_version:
    description:
      - The one driver version allowed, for fleets that pin exactly, for example C(550.54.15).
    type: str
  profiles:
    description:
      - MIG profile names the layouts will use (C(1g.5gb), C(1g.5gb+me), C(2g.12gb+me), ...). Their own minimum drivers are
        checked on every GPU that offers them, and a profile that no MIG GPU of the node offers is reported.
    type: list
    elements: str
    default: []
  gpus:
    description:
      - Indices of the GPUs to check; all GPUs when omitted.
    type: list
    elements: int
notes:
  - A MIG-capable GPU that the collection's catalog does not know gets a warning, not a failure; only the site policy can
    be checked for it.
  - The unversioned pages of NVIDIA's MIG guide list different minimums from its versioned (R620) page; the catalog
    follows the versioned page.
  - RTX PRO Blackwell Workstation boards run MIG only in compute display mode (NVIDIA's DisplayModeSelector 1.72.0 or newer,
    C(--gpumode=compute)). NVML cannot read the display mode, so this module does not check it.
seealso:
  - module: gpufleet.mig.gpu_info
"""

EXAMPLES = r"""
---
- name: Refuse nodes whose driver cannot run MIG on their GPUs
  gpufleet.mig.driver_check:

- name: Enforce the fleet's driver policy and the profiles of the planned layout
  gpufleet.mig.driver_check:
    allowed_branches: [R535, R550]
    minimum_version: 535.161.07
    profiles: [1g.10gb, 1g.10gb+me, 3g.40gb]
"""

RETURN = r"""
driver_version:
  description: The driver version found.
  returned: when NVML could be read
  type: str
  sample: 550.54.15
cuda_driver_version:
  description: The highest CUDA version the driver supports.
  returned: when NVML could be read
  type: str
  sample: "12.4"
gpus:
  description: The verdict per GPU.
  returned: when NVML could be read
  type: list
  elements: dict
  contains:
    index:
      description: NVML index.
      type: int
    name:
      description: Board name.
      type: str
    model:
      description: Catalog key, or null for an unknown board.
      type: str
    mig_capable:
      description: Whether the GPU supports MIG.
      type: bool
    minimum_driver:
      description: The minimum driver this GPU needs for MIG and the requested profiles; null when none applies.
      type: str
      sample: "450.80.02"
    minimum_reason:
      description: What sets that minimum.
      type: str
      sample: MIG on A100-SXM4-40GB
    vbios_version:
      description: The vBIOS version NVML reports; null where it does not.
      type: str
      sample: 98.02.6A.00.00
    minimum_vbios:
      description: The minimum vBIOS for MIG on this board (NVIDIA MIG user guide); null where none is known.
      type: str
      sample: 98.02.55.00.00
    problems:
      description: What is wrong with this GPU's driver.
      type: list
      elements: str
    ok:
      description: True when RV(gpus[].problems) is empty.
      type: bool
problems:
  description: Every problem found, node-wide ones first.
  returned: always
  type: list
  elements: str
  sample:
    - GPU 0 (NVIDIA A100-SXM4-40GB) needs driver 450.80.02 or newer for MIG on A100-SXM4-40GB; the node has 440.33.01
msg:
  description: A one-line summary.
  returned: always
  type: str
  sample: driver 550.54.15 is fine for MIG on 8 GPU(s)
"""

from ansible_collections.gpufleet.mig.plugins.module_utils._driver import DriverPolicy, check_driver
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml, NvmlError
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml_module import NvmlModule


def main():
    module = NvmlModule(
        argument_spec=dict(
            minimum_version=dict(type='str'),
            allowed_branches=dict(type='list', elements='str', default=[]),
            pinned_version=dict(type='str'),
            profiles=dict(type='list', elements='str', default=[]),
            gpus=dict(type='list', elements='int'),
        ),
        supports_check_mode=True,
        # problems is returned always, failures included.
        failure={'problems': []},
    )
    policy = DriverPolicy(
        minimum_version=module.params['minimum_version'],
        allowed_branches=tuple(module.params['allowed_branches']),
        pinned_version=module.params['pinned_version'],
        profiles=tuple(module.params['profiles']),
    )
    try:
        policy.validate()
    except ValueError as exc:
        module.fail_json(msg=str(exc), problems=[str(exc)])
    try:
        with Nvml() as nvml:
            host = nvml.read_host(module.params['gpus'], instances=False)
    except NvmlError as exc:
        module.fail_from(exc, problems=[str(exc)])

    report = check_driver(host, policy)
    for warning in report.warnings:
        module.warn(warning)
    result = dict(
        changed=False,
        driver_version=host.driver_version,
        cuda_driver_version=host.cuda_driver_version,
        gpus=[gpu.to_dict() for gpu in report.gpus],
        problems=list(report.problems),
    )
    if not report.ok:
        module.fail_json(msg='driver %s on %d GPU(s) failed the check: %s'
                         % (host.driver_version, len(host.gpus), '; '.join(report.problems)), **result)
    mig = sum(1 for gpu in report.gpus if gpu.mig_capable)
    module.exit_json(msg='driver %s is fine for MIG on %d of %d GPU(s)' % (host.driver_version, mig, len(host.gpus)), **result)


if __name__ == '__main__':
    main()
