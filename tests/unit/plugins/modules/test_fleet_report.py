# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet_report: three files from one view of the fleet, atomically, only when they differ; the summary as lines."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.gpufleet.mig.plugins.modules import fleet_report
from modrun import run_module  # tests/unit/plugins/modules/modrun.py

GPU = {'index': 0, 'model': 'A30', 'name': 'NVIDIA A30', 'mig_capable': True, 'mig_mode': {'current': True, 'pending': True},
       'gpu_instances': [{'id': 1, 'profile': '2g.12gb', 'placement': {'start': 0, 'size': 2}}], 'processes': []}
FLEET = {'gpu-2': {'node': 'gpu-2', 'driver': '550.54.15', 'gpus': [GPU], 'drift': [], 'desired': {}, 'mig_config': 'half',
                   'state': 'success', 'plugin_config': 'mixed', 'cordoned': False, 'advertised': {'nvidia.com/mig-2g.12gb': '1'},
                   'expected': {'nvidia.com/mig-2g.12gb': 1}, 'problems': []},
         'gpu-1': None}


def run(args, check=False, diff=False):
    return run_module(fleet_report.main, args, check, diff)


def test_writes_the_three_files_once_and_then_nothing(tmp_path):
    path = str(tmp_path / 'report')
    first = run({'fleet': FLEET, 'path': path})
    assert first['changed'] and first['written'] == ['report.json', 'report.md', 'report.html']
    assert first['html'] == os.path.join(path, 'report.html')
    assert first['summary'][0].startswith('gpu-2 (node gpu-2, driver 550.54.15): mig.config=half')
    assert first['summary'][1] == '  GPU 0 A30 [0-1:2g.12gb' + ' ' * 12 + '|...........|...........]'
    assert first['summary'][-2:] == ['gpu-1: not reached', 'report: %s' % first['html']]
    with open(os.path.join(path, 'report.json')) as handle:
        assert json.load(handle) == FLEET
    assert sorted(os.listdir(path)) == ['report.html', 'report.json', 'report.md']
    assert stat.S_IMODE(os.stat(os.path.join(path, 'report.html')).st_mode) == 0o644
    with open(os.path.join(path, 'report.md')) as handle:
        assert '| gpu-2 | 1 x A30 | half | success | no | none | nvidia.com/mig-2g.12gb 1/1 |  |' in handle.read()
    second = run({'fleet': FLEET, 'path': path})
    assert not second['changed'] and second['written'] == [] and second['summary'] == first['summary']


def test_check_mode_and_diff_write_nothing(tmp_path):
    path = str(tmp_path / 'report')
    run({'fleet': FLEET, 'path': path})
    changed = dict(FLEET, **{'gpu-2': dict(FLEET['gpu-2'], state='failed')})
    result = run({'fleet': changed, 'path': path}, check=True, diff=True)
    assert result['changed'] and result['written'] == ['report.json', 'report.md', 'report.html']
    assert '| success |' in result['diff']['before'] and '| failed |' in result['diff']['after']
    with open(os.path.join(path, 'report.md')) as handle:
        assert '| success |' in handle.read()


def test_without_a_path_only_the_summary(tmp_path):
    result = run({'fleet': FLEET})
    assert not result['changed'] and result['written'] == [] and 'html' not in result
    assert result['summary'][-1] == 'gpu-1: not reached'


@pytest.mark.parametrize('args, message', [
    ({'mode': 'rw'}, "mode: 'rw' is not a permission mode"),
    ({'path': '@FILE@'}, 'exists and is not a directory'),
])
def test_refusals(tmp_path, args, message):
    afile = tmp_path / 'file'
    afile.write_text('x')
    args = dict((k, str(afile) if v == '@FILE@' else v) for k, v in args.items())
    result = run(dict({'fleet': FLEET, 'path': str(tmp_path / 'r')}, **args))
    assert result['failed'] and message in result['msg']
    assert not os.path.exists(tmp_path / 'r')
