# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_results' action plugin writes in-process only on the controller as its own user; otherwise the module runs.

That both ways write the same files and return the same results is the node_results integration target's test.
"""

from __future__ import annotations

import json
import os
from unittest import mock

import pytest

from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.gpufleet.mig.plugins.action.node_results import ActionModule

RESULT = {'status': 'unchanged', 'reason': None}


def action(path, transport, become=False, check=False):
    task = Task()
    task.args = {'path': path, 'results': {'gpu-1': RESULT}}
    task.check_mode = check
    context = PlayContext()
    context.become = become
    connection = mock.Mock(transport=transport)
    plugin = ActionModule(task, connection, context, loader=None, templar=None, shared_loader_obj=None)
    plugin._execute_module = mock.Mock(return_value={'changed': True, 'written': ['from the module']})
    return plugin


@pytest.mark.parametrize('transport', ['local', 'ansible.builtin.local'])
def test_on_the_controller_it_writes_itself(tmp_path, transport):
    plugin = action(str(tmp_path), transport)
    result = plugin.run(task_vars={})
    assert (result['changed'], result['written']) == (True, ['gpu-1'])
    with open(os.path.join(str(tmp_path), 'gpu-1.json')) as handle:
        assert json.load(handle) == RESULT
    plugin._execute_module.assert_not_called()


def test_check_mode_in_process_writes_nothing(tmp_path):
    result = action(str(tmp_path / 'nodes'), 'local', check=True).run(task_vars={})
    assert result['written'] == ['gpu-1'] and not os.path.exists(str(tmp_path / 'nodes'))


@pytest.mark.parametrize('transport, become', [('ssh', False), ('ansible.builtin.ssh', False), ('local', True)])
def test_elsewhere_or_with_become_the_module_runs(tmp_path, transport, become):
    plugin = action(str(tmp_path), transport, become=become)
    result = plugin.run(task_vars={})
    assert result['written'] == ['from the module'] and os.listdir(str(tmp_path)) == []
    plugin._execute_module.assert_called_once()


def test_bad_names_fail_with_the_problems_and_write_nothing(tmp_path):
    plugin = action(str(tmp_path), 'local')
    plugin._task.args['results'] = {'gpu-1': RESULT, '..': RESULT}
    result = plugin.run(task_vars={})
    assert result['failed'] and result['problems'] == [result['msg']] and "'..'" in result['msg']
    assert os.listdir(str(tmp_path)) == []
