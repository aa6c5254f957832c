# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Counts of what the property tests tried, printed at the end of the run (conftest.py)."""

from __future__ import annotations

import collections
import os

OUTCOMES = ('rejected', 'accepted', 'traceback', 'change')

_COUNTS = collections.OrderedDict()

# The soak profile multiplies every property's example budget.
SCALE = int(os.environ.get('GPUFLEET_HYPOTHESIS_SCALE', '20' if os.environ.get('GPUFLEET_HYPOTHESIS_PROFILE') == 'soak' else '1'))


def budget(examples):
    """The max_examples of a property under the current profile."""
    return examples * SCALE


def record(prop, outcome):
    """Count one input of property ``prop``: 'rejected' (a named error), 'accepted', 'traceback' or 'change'."""
    if outcome not in OUTCOMES:
        raise ValueError('unknown outcome %r' % (outcome,))
    counts = _COUNTS.setdefault(prop, collections.Counter())
    counts['tried'] += 1
    counts[outcome] += 1


def summary_lines():
    """One line per property and a total line; empty when no property ran."""
    if not _COUNTS:
        return []
    total = collections.Counter()
    lines = []
    for prop, counts in _COUNTS.items():
        total.update(counts)
        lines.append('  %-44s %6d tried, %6d rejected, %6d accepted%s' % (
            prop, counts['tried'], counts['rejected'], counts['accepted'],
            ''.join(', %d %ss' % (counts[o], o) for o in ('traceback', 'change') if counts[o])))
    lines.append('property tests: %d inputs tried (%d rejected with a named error, %d accepted), %d tracebacks, %d changes'
                 % (total['tried'], total['rejected'], total['accepted'], total['traceback'], total['change']))
    return lines
