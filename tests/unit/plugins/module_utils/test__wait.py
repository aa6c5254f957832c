# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one waiter (_wait.Waiter), on a simulated clock, and the drain's waits that go through it."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._drain import Drainer
from ansible_collections.gpufleet.mig.plugins.module_utils._wait import Waiter, WaitTimeout


class Clock(object):
    """A monotonic clock that only ``sleep`` moves; it records every sleep."""

    def __init__(self, start=1000.0):
        self.now = start
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def counter(values):
    """A poll that returns ``values`` one after another and counts its calls."""
    values = list(values)

    def poll():
        poll.calls += 1
        return values.pop(0)
    poll.calls = 0
    return poll


def test_done_at_once_polls_once_and_never_sleeps():
    clock = Clock()
    poll = counter(['ready'])
    assert Waiter(10, clock, clock.sleep).until(poll, lambda value: value == 'ready', 1, str) == 'ready'
    assert poll.calls == 1 and clock.sleeps == []


def test_polls_every_interval_until_done_and_returns_the_value_that_was():
    clock = Clock()
    poll = counter([0, 1, 2, 3, 4])
    assert Waiter(60, clock, clock.sleep).until(poll, lambda value: value >= 3, 5, str) == 3
    assert poll.calls == 4 and clock.sleeps == [5, 5, 5]


def test_no_poll_after_the_deadline_and_the_message_is_made_from_the_last_value():
    clock = Clock()
    poll = counter(range(100))
    with pytest.raises(WaitTimeout) as info:
        Waiter(10, clock, clock.sleep).until(poll, lambda value: False, 3, lambda last: 'still %d' % last)
    # Polls at 0, 3, 6 and 9 s; one at 12 s would come after the deadline, so the wait ends at 9 s without sleeping.
    assert poll.calls == 4 and clock.sleeps == [3, 3, 3] and clock.now == 1009
    assert str(info.value) == 'still 3' and info.value.last == 3


def test_a_zero_timeout_polls_once():
    clock = Clock()
    with pytest.raises(WaitTimeout) as info:
        Waiter(0, clock, clock.sleep).until(counter(['no']), lambda value: False, 1, lambda last: 'gave up on %s' % last)
    assert str(info.value) == 'gave up on no' and clock.sleeps == []


def test_polls_share_the_deadline():
    clock = Clock()
    waiter = Waiter(10, clock, clock.sleep)
    waiter.until(counter([False, False, True]), bool, 4, str)
    assert clock.now == 1008
    # The second wait has 2 s left: one poll, then no sleep of 4 s past the deadline.
    with pytest.raises(WaitTimeout):
        waiter.until(counter([False, False]), bool, 4, str)
    assert clock.now == 1008


def test_the_clock_is_read_when_the_waiter_is_made():
    clock = Clock()
    waiter = Waiter(5, clock, clock.sleep)
    clock.now += 4
    with pytest.raises(WaitTimeout):
        waiter.until(counter([False, False]), bool, 2, str)
    assert clock.sleeps == []


class Budgeted(object):
    """A Kube whose evictions a PodDisruptionBudget refuses ``refusals`` times, and whose evicted pods linger ``polls`` reads."""

    def __init__(self, refusals=0, status=429, polls=0):
        self.refusals = refusals
        self.status = status
        self.polls = polls
        self.evictions = 0

    def evict(self, namespace, name, grace_period):
        self.evictions += 1
        if self.evictions <= self.refusals:
            return self.status, 'Cannot evict pod as it would violate the pod\'s disruption budget.'
        return None

    def read_pod(self, namespace, name):
        self.polls -= 1
        return {'metadata': {'name': name, 'uid': name + '-uid'}} if self.polls >= 0 else None


POD = {'metadata': {'namespace': 'ml', 'name': 'train', 'uid': 'train-uid'}}


def drainer(kube, clock, timeout=30, retry_delay=5):
    return Drainer(kube, 'gpu-1', timeout=timeout, retry_delay=retry_delay, clock=clock, sleep=clock.sleep)


def test_a_refused_eviction_is_tried_again_every_retry_delay():
    clock = Clock()
    kube = Budgeted(refusals=2)
    d = drainer(kube, clock)
    assert d._evict(POD, Waiter(30, clock, clock.sleep)) is None
    assert kube.evictions == 3 and clock.sleeps == [5, 5]


def test_an_eviction_refused_until_the_timeout_says_so_with_the_last_answer():
    clock = Clock()
    kube = Budgeted(refusals=100)
    reason = drainer(kube, clock, timeout=12)._evict(POD, Waiter(12, clock, clock.sleep))
    assert reason == ('eviction still refused when the timeout of 12s ran out (HTTP 429): '
                      'Cannot evict pod as it would violate the pod\'s disruption budget.')
    assert kube.evictions == 3 and clock.sleeps == [5, 5]


def test_an_eviction_refusal_that_waiting_cannot_change_is_not_tried_again():
    clock = Clock()
    kube = Budgeted(refusals=100, status=500)
    reason = drainer(kube, clock)._evict(POD, Waiter(30, clock, clock.sleep))
    assert reason.startswith('eviction refused (HTTP 500): ') and kube.evictions == 1 and clock.sleeps == []


def test_evicted_pods_are_waited_for_each_second_until_the_deadline():
    clock = Clock()
    assert drainer(Budgeted(polls=2), clock)._wait_gone([POD], Waiter(30, clock, clock.sleep)) == {}
    assert clock.sleeps == [1.0, 1.0]
    clock = Clock()
    left = drainer(Budgeted(polls=100), clock, timeout=3)._wait_gone([POD], Waiter(3, clock, clock.sleep))
    assert left == {'ml/train': 'evicted but still terminating when the timeout of 3s ran out'}
    assert clock.sleeps == [1.0, 1.0, 1.0]
