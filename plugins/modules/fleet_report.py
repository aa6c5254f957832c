#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_report
short_description: Write the MIG fleet report as JSON, Markdown and a self-contained HTML page, and summarise it
version_added: 0.2.0
description:
  - Turns the per-node reports of the C(gpufleet.mig.mig_rollout) role's C(report) entry point into the fleet report. The report
    playbook runs it on the controller.
  - One function builds the report's data; the terminal summary (RV(summary)), C(report.md) and C(report.html) are rendered from
    it, so they always agree. C(report.json) holds O(fleet) as given.
  - C(report.html) is one file that needs no server and no network (inline CSS and JavaScript; its Content-Security-Policy
    allows no request). It holds a fleet table (node, GPU models, C(nvidia.com/mig.config), state, cordon, drift, advertised
    against expected resources, problems) that can be sorted and filtered, and per node a slot diagram of every GPU drawn to
    scale, one column per memory slice and one colour per profile, with busy GPU instances marked. A GPU whose layout
    differs from the desired one is highlighted and drawn beside its planned layout, with the instances that would be
    destroyed and created marked.
  - A node whose report has a C(dra) reading (M(gpufleet.mig.dra_info), for a node whose GPUs NVIDIA's DRA driver hands out)
    shows under each GPU its DRA devices - which device is which GPU or MIG device, by the minor number and placement the
    device name encodes - each marked published and expected, published but not expected (slices left stale by a layout
    change without a restart of the driver's kubelet plugin) or expected but not published, with the ResourceClaims
    and pods that hold it. Its stranded GPUs, dynamic MIG and missing plugin pod are problems of the node. A node without
    C(dra) shows nothing of it.
  - Everything that comes from the nodes (labels, names, messages) is escaped in both C(report.md) and C(report.html).
  - Each file is replaced atomically and only when its content differs. Without O(path) nothing is written.
requirements:
  - Jinja2 on the host that runs the module (ansible-core's own dependency, so the controller has it).
author:
  - gpufleet.mig contributors (@gpufleet)
extends_documentation_fragment:
  - gpufleet.mig.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: partial
    details:
      - The diff holds C(report.md) when it would change; C(report.json) and C(report.html) change with it and are left out (they
        are large).
  idempotent:
    support: full
options:
  fleet:
    description:
      - Each targeted host's report by host name, as the C(report) entry point of the C(gpufleet.mig.mig_rollout) role sets it
        (C(mig_rollout_report)), or null for a host that was not reached. Nodes are reported in the order given.
    type: dict
    required: true
  path:
    description:
      - The directory to write C(report.json), C(report.md) and C(report.html) into, created (with its parents) when missing.
      - When not given, nothing is written and the module only returns RV(summary).
    type: path
  title:
    description:
      - The heading of C(report.md) and C(report.html).
    type: str
    default: MIG fleet report
  mode:
    description:
      - The permissions of the files written, and of the directory when it is created (with the execute bits of the read bits).
    type: raw
    default: '0644'
notes:
  - The summary is a list of lines, so that Ansible's default callback and AWX print one line per line; give it to
    M(ansible.builtin.debug) as O(ansible.builtin.debug#module:msg).
seealso:
  - module: gpufleet.mig.gpu_info
  - module: gpufleet.mig.mig_layout
  - module: gpufleet.mig.dra_info
  - plugin: gpufleet.mig.mig_slots
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: Write the fleet report of every host of the play
  gpufleet.mig.fleet_report:
    fleet: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'mig_rollout_report'))) }}"
    path: /var/log/gpufleet-mig/report
  delegate_to: localhost
  run_once: true
  register: fleet_report

- name: Show the fleet, one line per line
  ansible.builtin.debug:
    msg: "{{ fleet_report.summary }}"
  run_once: true
"""

RETURN = r"""
summary:
  description:
    - The fleet as text, one list element per line; per node its labels, one slot diagram per GPU (with the desired layout under a
      GPU that drifted from it, and on a DRA node the GPU's DRA devices), drift, resources (on a DRA node, its DRA devices
      published against expected) and problems.
    - With O(path), a last line names C(report.html).
  returned: success
  type: list
  elements: str
  sample:
    - "gpu-a100-2 (node gpu-a100-2, driver 550.54.15): mig.config=all-1g.5gb state=success plugin=mixed"
    - "  GPU 0 A100-SXM4-40GB [0:1g.5gb   |1:1g.5gb   |2:1g.5gb   |3:1g.5gb   |4:1g.5gb   |5:1g.5gb   |6:1g.5gb   |...........]"
    - "    desired: [0-1:2g.10gb             |2:1g.5gb   |3:1g.5gb   |4-7:3g.20gb                                    ]"
    - "  drift: GPUs 0"
    - "  advertised: nvidia.com/mig-1g.5gb=7"
    - "  expected:   nvidia.com/mig-1g.5gb=7"
written:
  description: The files (names within O(path)) that were, or in check mode would be, written because they were missing or different.
  returned: success
  type: list
  elements: str
  sample: [report.json, report.md, report.html]
html:
  description: The path of C(report.html).
  returned: when O(path) is given
  type: str
  sample: /var/log/gpufleet-mig/report/report.html
"""

import os

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.gpufleet.mig.plugins.module_utils._files import make_directory, parse_mode, read_text, write_atomic
from ansible_collections.gpufleet.mig.plugins.module_utils._fleet_report import fleet_view, markdown, summary_lines
from ansible_collections.gpufleet.mig.plugins.module_utils._module import GpufleetModule, Library
from ansible_collections.gpufleet.mig.plugins.module_utils._report_html import JINJA2_IMPORT_ERROR, render_html
from ansible_collections.gpufleet.mig.plugins.module_utils._results import render

FILES = ('report.json', 'report.md', 'report.html')


def main():
    module = GpufleetModule(
        argument_spec=dict(
            fleet=dict(type='dict', required=True),
            path=dict(type='path'),
            title=dict(type='str', default='MIG fleet report'),
            mode=dict(type='raw', default='0644'),
        ),
        supports_check_mode=True,
    )
    directory = module.params['path']
    try:
        mode = parse_mode(module.params['mode'])
        view = fleet_view(module.params['fleet'], module.params['title'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=False, summary=summary_lines(view), written=[])
    if directory is None:
        module.exit_json(**result)
    # Only writing the report needs it.
    module.require(Library('Jinja2', JINJA2_IMPORT_ERROR))
    if os.path.exists(directory) and not os.path.isdir(directory):
        module.fail_json(msg='path: %s exists and is not a directory' % directory)
    try:
        contents = {'report.json': render(module.params['fleet']), 'report.md': markdown(view), 'report.html': render_html(view)}
    except ValueError as exc:
        module.fail_json(msg='the report cannot be written: %s' % exc)

    before = dict((name, read_text(os.path.join(directory, name))) for name in FILES)
    written = [name for name in FILES if before[name] != contents[name]]
    html = os.path.join(directory, 'report.html')
    result.update(changed=bool(written), written=written, html=html, summary=result['summary'] + ['report: %s' % html])
    if module._diff and 'report.md' in written:
        path = os.path.join(directory, 'report.md')
        result['diff'] = {'before_header': path, 'after_header': path, 'before': before['report.md'] or '', 'after': contents['report.md']}
    if written and not module.check_mode:
        try:
            make_directory(directory, mode)
            for name in written:
                write_atomic(directory, name, contents[name], mode)
        except OSError as exc:
            module.fail_json(msg='writing the report in %s failed: %s' % (directory, to_native(exc)))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
