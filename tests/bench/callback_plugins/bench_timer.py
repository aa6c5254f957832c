# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark callback: one JSON line per task and per host result, with wall-clock times, to BENCH_TIMER_FILE.

Enabled only by tests/bench/run.py (ANSIBLE_CALLBACK_PLUGINS + ANSIBLE_CALLBACKS_ENABLED), on both sides of every
comparison, so it costs both sides alike. Lines: {"event": "task", "name", "action", "uuid", "t"} when a task starts,
{"event": "start", "uuid", "host", "t"} when a host starts it, {"event": "end", "uuid", "host", "status", "t"} when it
finishes (status skipped only for a skip by a condition or a loop), {"event": "play", "name", "t"} and {"event": "stats", "t"} at the end.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Task timings for tests/bench (not part of the collection)
description:
  - Writes one JSON line per task start and per host result to the file named by the environment variable BENCH_TIMER_FILE.
requirements:
  - BENCH_TIMER_FILE set in the environment.
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Task timings, as JSON lines."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timer'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        path = os.environ.get('BENCH_TIMER_FILE')
        self._handle = open(path, 'a') if path else None  # pylint: disable=consider-using-with

    def _write(self, **record):
        if self._handle is not None:
            record['t'] = time.time()
            self._handle.write(json.dumps(record) + '\n')
            self._handle.flush()

    def v2_playbook_on_play_start(self, play):
        self._write(event='play', name=play.get_name())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._write(event='task', name=task.get_name(), action=task.action, uuid=task._uuid)

    def v2_playbook_on_handler_task_start(self, task):
        self._write(event='task', name=task.get_name(), action=task.action, uuid=task._uuid)

    def v2_runner_on_start(self, host, task):
        self._write(event='start', uuid=task._uuid, host=host.get_name())

    def _end(self, result, status):
        # A conditional skip says why; a module result that merely has a 'skipped' key of its own does not.
        if status == 'skipped' and 'skip_reason' not in result._result and 'false_condition' not in result._result:
            status = 'ok'
        self._write(event='end', uuid=result._task._uuid, host=result._host.get_name(), status=status)

    def v2_runner_on_ok(self, result):
        self._end(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._end(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._end(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._end(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        self._write(event='stats')
        if self._handle is not None:
            self._handle.close()
            self._handle = None
