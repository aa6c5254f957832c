#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: node_results
short_description: Write the rollout's results as JSON files, one per node
version_added: 0.2.0
description:
  - Writes one C(<name>.json) file per entry of O(results) into O(path), usually one per node by host name, in one task for any
    number of them; the rollout also writes its summary this way, as C(rollout.json).
  - Each file is replaced atomically and only when its content differs; files of other nodes in O(path) are left alone.
  - Checks every host name before writing anything, so a bad name writes no file at all.
  - The rollout uses it on the controller (C(delegate_to=localhost)) to record each node's result as soon as it is known.
author:
  - gpufleet.mig contributors (@gpufleet)
extends_documentation_fragment:
  - gpufleet.mig.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff holds each file that would change, before and after.
  idempotent:
    support: full
options:
  path:
    description:
      - The directory of the files, created (with its parents) when missing.
    type: path
    required: true
  results:
    description:
      - The result of each node by its host name (or any other name, such as C(rollout) for a summary). Each name must be usable as a
        file name - not empty, not starting with a dot, without C(/), C(\\) or NUL.
    type: dict
    required: true
  mode:
    description:
      - The permissions of the files written, and of the directory when it is created (with the execute bits of the read bits).
    type: raw
    default: '0644'
seealso:
  - module: gpufleet.mig.gpu_info
"""

EXAMPLES = r"""
---
- name: Record the result of every node of the play in one task
  gpufleet.mig.node_results:
    path: /var/log/gpufleet-mig/nodes
    results: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'mig_rollout_result'))) }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
written:
  description: The hosts whose file was (or, in check mode, would be) written because it was missing or different.
  returned: success
  type: list
  elements: str
  sample: [gpu-node-07]
"""

from ansible_collections.gpufleet.mig.plugins.module_utils._module import GpufleetModule
from ansible_collections.gpufleet.mig.plugins.module_utils._results import ARGUMENT_SPEC, ResultsError, write_results


def main():
    module = GpufleetModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                            errors={ResultsError: lambda exc: {'problems': exc.problems} if exc.problems else {}})
    with module.failing_on_errors():
        result = write_results(module.params['path'], module.params['results'], module.params['mode'], module.check_mode, module._diff)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
