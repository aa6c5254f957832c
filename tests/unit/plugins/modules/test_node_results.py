# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_results: one task writes many nodes' result files, atomically, only when they differ; bad input writes none."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._results import name_problem, render
from ansible_collections.gpufleet.mig.plugins.modules import node_results
from modrun import run_module  # tests/unit/plugins/modules/modrun.py

RESULT = {'status': 'unchanged', 'actions': [], 'reason': None, 'started': 1764556800.5}


def run(args, check=False, diff=False):
    return run_module(node_results.main, args, check, diff)


def test_writes_each_node_once_and_then_nothing(tmp_path):
    path = str(tmp_path / 'report' / 'nodes')
    results = {'gpu-1': RESULT, 'gpu-2': dict(RESULT, status='changed')}
    first = run({'path': path, 'results': results})
    assert first['changed'] and first['written'] == ['gpu-1', 'gpu-2']
    for host, result in results.items():
        with open(os.path.join(path, host + '.json')) as handle:
            assert json.load(handle) == result
    assert stat.S_IMODE(os.stat(os.path.join(path, 'gpu-1.json')).st_mode) == 0o644
    assert sorted(os.listdir(path)) == ['gpu-1.json', 'gpu-2.json']  # no temporary file left behind
    second = run({'path': path, 'results': results})
    assert not second['changed'] and second['written'] == []


def test_only_the_node_that_differs_is_written_and_others_are_kept(tmp_path):
    path = str(tmp_path)
    run({'path': path, 'results': {'gpu-1': RESULT, 'gpu-2': RESULT}})
    with open(os.path.join(path, 'other.json'), 'w') as handle:
        handle.write('{"status": "failed"}\n')
    result = run({'path': path, 'results': {'gpu-1': RESULT, 'gpu-2': dict(RESULT, status='failed')}}, diff=True)
    assert result['written'] == ['gpu-2']
    assert [d['before_header'] for d in result['diff']] == [os.path.join(path, 'gpu-2.json')]
    assert '"unchanged"' in result['diff'][0]['before'] and '"failed"' in result['diff'][0]['after']
    with open(os.path.join(path, 'other.json')) as handle:
        assert handle.read() == '{"status": "failed"}\n'


def test_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / 'nodes')
    result = run({'path': path, 'results': {'gpu-1': RESULT}}, check=True)
    assert result['changed'] and result['written'] == ['gpu-1'] and not os.path.exists(path)


@pytest.mark.parametrize('host', ['', '.', '..', '../escape', 'a/b', '.hidden', 'a\\b', 'a\0b'])
def test_a_bad_host_name_writes_no_file_at_all(tmp_path, host):
    result = run({'path': str(tmp_path), 'results': {'good': RESULT, host: RESULT}})
    assert result['failed'] and repr(host) in result['msg']
    assert os.listdir(str(tmp_path)) == [] and not os.path.exists(str(tmp_path.parent / 'escape.json'))


def test_a_result_that_is_not_json_is_named(tmp_path):
    result = run({'path': str(tmp_path), 'results': {'gpu-1': {'started': float('nan')}}})
    assert result['failed'] and 'results[gpu-1]' in result['msg'] and os.listdir(str(tmp_path)) == []


def test_a_file_in_the_way_of_the_directory_is_named(tmp_path):
    blocker = tmp_path / 'nodes'
    blocker.write_text('x')
    result = run({'path': str(blocker), 'results': {'gpu-1': RESULT}})
    assert result['failed'] and 'is not a directory' in result['msg']


@pytest.mark.parametrize('mode', ['rw', '99999', True, '-1'])
def test_a_bad_mode_is_named(tmp_path, mode):
    result = run({'path': str(tmp_path), 'results': {'gpu-1': RESULT}, 'mode': mode})
    assert result['failed'] and 'mode: %r' % (mode,) in result['msg'] and os.listdir(str(tmp_path)) == []


def test_render_matches_to_nice_json():
    from ansible.plugins.filter.core import to_nice_json
    assert json.loads(render(RESULT)) == json.loads(to_nice_json(RESULT))
    assert render(RESULT).endswith('\n') and name_problem('gpu-node-07') is None


def test_a_directory_created_by_another_run_meanwhile_is_used(tmp_path, monkeypatch):
    # Two nodes of a batch write their results at once: both see no directory, one creates it first. The other
    # used to fail with "File exists" after the node's new layout was in place.
    path = str(tmp_path / 'report' / 'nodes')
    real_isdir = os.path.isdir

    def isdir_then_created(name):
        if name == path and not real_isdir(path):
            os.makedirs(path)    # the other run wins the race
            return False
        return real_isdir(name)
    monkeypatch.setattr(os.path, 'isdir', isdir_then_created)
    result = run({'path': path, 'results': {'gpu-1': RESULT}})
    assert not result.get('failed'), result
    assert result['written'] == ['gpu-1'] and os.listdir(path) == ['gpu-1.json']
