# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Privilege escalation only where the node needs root: NVML changes and reads, the reboot, the boot
checkpoint and the boot-time restore's files; never for the Kubernetes tasks, which run on the controller
with the user's credentials. Read from the task files, so a new task cannot slip through."""

from __future__ import annotations

import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TASK_FILES = sorted(glob.glob(os.path.join(ROOT, 'roles', '*', 'tasks', '*.yml')) + glob.glob(os.path.join(ROOT, 'playbooks', '*.yml')))
# Modules that may run with become: NVML (gpu_info reads instances, which NVML lists only for root; mig_mode and
# mig_layout change the GPUs and write the checkpoint under /var/lib), the reboot, the include of the restore
# role, whose files are root's, and pod_resources (the kubelet's socket under /var/lib/kubelet is root's).
BECOME_MODULES = {'gpufleet.mig.gpu_info', 'gpufleet.mig.mig_mode', 'gpufleet.mig.mig_layout', 'ansible.builtin.reboot',
                  'ansible.builtin.include_role', 'gpufleet.mig.pod_resources'}
KUBERNETES_MODULES = {'gpufleet.mig.node_labels', 'gpufleet.mig.node_drain', 'gpufleet.mig.device_plugin_config'}
# The switch users turn off when they connect as root (or have no sudo).
BECOME_SWITCH = '{{ mig_rollout_become }}'
KEYWORDS = {
    'name', 'when', 'register', 'become', 'become_user', 'become_method', 'delegate_to', 'delegate_facts', 'run_once', 'loop',
    'loop_control', 'vars', 'tags', 'check_mode', 'changed_when', 'failed_when', 'ignore_errors', 'module_defaults', 'until',
    'retries', 'delay', 'no_log', 'environment', 'notify', 'args', 'diff', 'throttle', 'any_errors_fatal', 'timeout', 'async',
    'poll', 'listen', 'collections', 'debugger', 'ignore_unreachable',
}


def _tasks(items, inherited, where):
    """(file:name, module, args, become, delegate_to) for every task, with become and delegate_to inherited from blocks."""
    for task in items or []:
        become = task.get('become', inherited['become'])
        delegate = task.get('delegate_to', inherited['delegate_to'])
        if 'block' in task:
            context = {'become': become, 'delegate_to': delegate}
            for key in ('block', 'rescue', 'always'):
                yield from _tasks(task.get(key), context, where)
            continue
        modules = [key for key in task if key not in KEYWORDS]
        assert len(modules) == 1, '%s: cannot tell the module of task %r (%s)' % (where, task.get('name'), modules)
        yield '%s: %s' % (where, task.get('name')), modules[0], task[modules[0]], become, delegate


def _all_tasks():
    found = []
    for path in TASK_FILES:
        with open(path, encoding='utf-8') as handle:
            content = yaml.safe_load(handle) or []
        where = os.path.relpath(path, ROOT)
        if path.startswith(os.path.join(ROOT, 'playbooks')):
            for play in content:
                for section in ('pre_tasks', 'tasks', 'post_tasks'):
                    found.extend(_tasks(play.get(section), {'become': play.get('become'), 'delegate_to': None}, where))
        else:
            found.extend(_tasks(content, {'become': None, 'delegate_to': None}, where))
    return found


TASKS = _all_tasks()


def _escalates(become):
    return become not in (None, False, 'false', 'no')


def test_the_task_files_were_read():
    modules = set(task[1] for task in TASKS)
    assert KUBERNETES_MODULES | {'gpufleet.mig.gpu_info', 'gpufleet.mig.mig_layout'} <= modules


@pytest.mark.parametrize('where, module, args, become, delegate', [t for t in TASKS if _escalates(t[3])], ids=lambda v: str(v)[:60])
def test_become_only_for_node_work(where, module, args, become, delegate):
    assert module in BECOME_MODULES, '%s: %s runs with become' % (where, module)
    assert delegate is None, '%s: a task delegated to %s runs with become' % (where, delegate)
    assert become == BECOME_SWITCH, '%s: become must follow mig_rollout_become (gpufleet_mig_become), not %r' % (where, become)
    if module == 'ansible.builtin.include_role':
        assert args.get('name') == 'gpufleet.mig.mig_restore', where


@pytest.mark.parametrize('where, module, args, become, delegate', [t for t in TASKS if t[1] in KUBERNETES_MODULES],
                         ids=lambda v: str(v)[:60])
def test_kubernetes_tasks_run_on_the_controller_without_become(where, module, args, become, delegate):
    assert delegate == 'localhost', '%s: %s must run on the controller' % (where, module)
    # Explicitly false: a play-level become (or one a user adds) must not reach the credentials on the controller.
    assert become is False, '%s: %s needs become: false' % (where, module)


def test_nvml_changes_and_the_restore_role_escalate():
    for where, module, args, become, delegate in TASKS:
        if module in ('gpufleet.mig.mig_mode', 'gpufleet.mig.mig_layout'):
            assert become == BECOME_SWITCH, '%s: %s changes the GPUs and needs root' % (where, module)
        if module == 'ansible.builtin.include_role' and args.get('name') == 'gpufleet.mig.mig_restore':
            # include_role has no become of its own that reaches the role's tasks: it must be applied.
            assert (args.get('apply') or {}).get('become') == BECOME_SWITCH, '%s: the restore role writes root-owned files' % where


def test_the_restore_role_leaves_become_to_its_caller():
    for where, module, args, become, delegate in TASKS:
        if where.startswith(os.path.join('roles', 'mig_restore')):
            assert become is None and delegate is None, where
