# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-node result files of a rollout: their names, their exact content, and writing them (``node_results``)."""

from __future__ import annotations

import json
import os

from ansible_collections.gpufleet.mig.plugins.module_utils._files import make_directory, parse_mode, read_text, write_atomic

__all__ = ['ARGUMENT_SPEC', 'ResultsError', 'file_name', 'name_problem', 'render', 'write_results']

# node_results' options: the module and its action plugin (which writes on the controller itself) validate with it.
ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    results=dict(type='dict', required=True),
    mode=dict(type='raw', default='0644'),
)


class ResultsError(Exception):
    """Nothing (bad input) or not everything (a write failed) was written; ``problems`` lists bad names and results."""

    def __init__(self, message, problems=()):
        super(ResultsError, self).__init__(message)
        self.problems = list(problems)


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


def write_results(directory, results, mode='0644', check_mode=False, diff=False):
    """Write ``results`` (``{name: result}``) as ``directory/<name>.json``, each atomically and only when it differs.

    Every name and result is checked before anything is written. Returns ``changed``, ``written`` (the names whose file
    was, or in check mode would be, written) and with ``diff`` each such file before and after. Raises ResultsError.
    """
    try:
        mode = parse_mode(mode)
    except ValueError as exc:
        raise ResultsError(str(exc))
    problems = [p for p in (name_problem(host) for host in sorted(results)) if p]
    contents = {}
    for host in sorted(results):
        if name_problem(host) is None:
            try:
                contents[host] = render(results[host])
            except ValueError as exc:
                problems.append('results[%s]: %s' % (host, exc))
    if problems:
        raise ResultsError('; '.join(problems), problems)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ResultsError('path: %s exists and is not a directory' % directory)

    before = dict((host, read_text(os.path.join(directory, file_name(host)))) for host in contents)
    written = sorted(host for host in contents if before[host] != contents[host])
    result = dict(changed=bool(written), written=written)
    if diff:
        result['diff'] = [{'before_header': os.path.join(directory, file_name(host)), 'after_header': os.path.join(directory, file_name(host)),
                           'before': before[host] or '', 'after': contents[host]} for host in written]
    if written and not check_mode:
        try:
            make_directory(directory, mode)
        except OSError as exc:
            raise ResultsError('creating %s failed: %s' % (directory, exc))
        for host in written:
            try:
                write_atomic(directory, file_name(host), contents[host], mode)
            except OSError as exc:
                raise ResultsError('writing %s failed: %s' % (os.path.join(directory, file_name(host)), exc))
    return result
