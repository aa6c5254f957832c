# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hypothesis profiles for the hostile-input property tests, and the summary line with the counts.

``ci`` (the default) is derandomized and keeps no example database, so ``make test`` tries the same inputs on
every run and writes nothing into the tree. ``GPUFLEET_HYPOTHESIS_PROFILE=soak`` draws new inputs on every run,
many times more of them, and keeps failing examples under ``.build/hypothesis/examples`` so that a re-run replays them.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

import hostile_tally

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
# Hypothesis keeps caches in ./.hypothesis even without an example database; keep them in the build tree.
set_hypothesis_home_dir(os.path.join(_ROOT, '.build', 'hypothesis'))
# Adversarial values are large on purpose, and the module-level properties run NVML and Ansible per example.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.large_base_example]

settings.register_profile('ci', derandomize=True, database=None, deadline=None, print_blob=False, suppress_health_check=_QUIET)
settings.register_profile('soak', derandomize=False, deadline=None, print_blob=True, suppress_health_check=_QUIET,
                          database=DirectoryBasedExampleDatabase(os.path.join(_ROOT, '.build', 'hypothesis', 'examples')))
settings.load_profile(os.environ.get('GPUFLEET_HYPOTHESIS_PROFILE', 'ci'))


def pytest_terminal_summary(terminalreporter):
    lines = hostile_tally.summary_lines()
    if lines:
        terminalreporter.write_sep('-', 'hostile input')
        for line in lines:
            terminalreporter.write_line(line)
