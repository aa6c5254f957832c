# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The one way the collection waits: poll until a condition holds or a deadline passes.

Used by the drain (evictions a PodDisruptionBudget refuses for now, evicted pods still terminating), by the
device plugin's wait for the planned resources and by the wait for a DRA node's ResourceSlices. Each says what
to poll, what counts as done, how often, and what to say when time runs out; the deadline, the sleeping and
the giving up are here.
"""

from __future__ import annotations

import time

__all__ = ('POLL_INTERVAL', 'WaitTimeout', 'Waiter')

# Polls of the API never run faster than this.
POLL_INTERVAL = 1.0


class WaitTimeout(Exception):
    """The deadline came before the condition held; ``last`` is what the last poll returned."""

    def __init__(self, message, last):
        super(WaitTimeout, self).__init__(message)
        self.last = last


class Waiter(object):
    """A deadline ``timeout`` seconds from now, which any number of polls share (a drain's evictions and its wait).

    ``clock`` and ``sleep`` are ``time.monotonic`` and ``time.sleep`` unless a caller (a test) gives its own.
    """

    def __init__(self, timeout, clock=time.monotonic, sleep=time.sleep):
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self.deadline = clock() + timeout

    def until(self, poll, done, interval, message):
        """Call ``poll()`` every ``interval`` seconds until ``done(value)`` holds for what it returned; return that value.

        The first poll is made at once. A poll that could only come after the deadline is not made: then
        WaitTimeout(``message(value)``, value) is raised with the value of the last poll.
        """
        while True:
            value = poll()
            if done(value):
                return value
            if self.clock() + interval > self.deadline:
                raise WaitTimeout(message(value), value)
            self.sleep(interval)
