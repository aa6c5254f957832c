# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-node result files of a rollout: their names and their exact content, without any I/O."""

from __future__ import annotations

import json

__all__ = ['file_name', 'name_problem', 'render']


def name_problem(host):
    """Why ``host`` cannot name a file in the results directory, or None."""
    if not isinstance(host, str) or not host:
        return 'host name %r is empty or not a string' % (host,)
    if host in ('.', '..') or '/' in host or '\0' in host or '\\' in host:
        return "host name %r cannot be a file name (it must not be '.', '..', or contain '/', '\\\\' or NUL)" % (host,)
    if host.startswith('.'):
        # A leading dot would hide the result from ls and from a glob of *.json.
        return "host name %r cannot be a file name (it must not start with '.')" % (host,)
    return None


def file_name(host):
    return host + '.json'


def render(result):
    """The file content: the JSON of ``result`` as Ansible's to_nice_json writes it (sorted keys, indent 4), newline-ended.

    Raises ValueError naming what cannot be written as JSON.
    """
    try:
        return json.dumps(result, indent=4, sort_keys=True, separators=(',', ': '), ensure_ascii=False, allow_nan=False) + '\n'
    except (TypeError, ValueError) as exc:
        raise ValueError('the result cannot be written as JSON: %s' % exc)
