# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_results writes on the controller itself when the task runs there: no module process for bookkeeping.

The rollout records results on the controller (``delegate_to: localhost``) for every node and for the whole run; as a
module each of those writes cost a Python process of its own. Run anywhere else, or with become, the module runs as usual.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.gpufleet.mig.plugins.module_utils._results import ARGUMENT_SPEC, ResultsError, write_results

# The connection plugin that runs on the controller itself.
_LOCAL = ('local', 'ansible.builtin.local')


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def _here(self):
        """Whether the task writes on the controller as the controller's own user."""
        return self._connection.transport in _LOCAL and not self._play_context.become

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        if not self._here():
            result.update(self._execute_module(task_vars=task_vars))
            return result
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            result.update(write_results(args['path'], args['results'], args['mode'], self._task.check_mode, self._task.diff))
        except ResultsError as exc:
            result.update(failed=True, msg=str(exc))
            if exc.problems:
                result['problems'] = exc.problems
        return result
