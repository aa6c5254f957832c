# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rollout lock's decision (_lease.decide) and the Lease spec each action writes (_lease.lease_spec)."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._lease import LockRefused, decide, lease_spec, micro_time, parse_time

NOW = datetime.datetime(2026, 12, 5, 6, 0, 0, tzinfo=datetime.timezone.utc)


def lease(holder='run-a', renewed_ago=60, duration=1800, acquired_ago=600, transitions=0):
    spec = {'holderIdentity': holder, 'leaseDurationSeconds': duration, 'leaseTransitions': transitions,
            'acquireTime': micro_time(NOW - datetime.timedelta(seconds=acquired_ago)),
            'renewTime': micro_time(NOW - datetime.timedelta(seconds=renewed_ago))}
    return {'metadata': {'name': 'gpufleet-mig-rollout', 'resourceVersion': '7'}, 'spec': dict((k, v) for k, v in spec.items() if v is not None)}


@pytest.mark.parametrize('current, holder, action', [
    (None, 'run-a', 'create'),
    (lease(), 'run-a', 'renew'),
    (lease(renewed_ago=1800), 'run-b', 'take_over'),  # expired exactly now
    (lease(renewed_ago=4000), 'run-b', 'take_over'),
    (lease(holder=None), 'run-b', 'take_over'),  # released
    (lease(duration=None), 'run-b', 'take_over'),  # no duration: cannot be judged alive, as client-go
])
def test_taking_the_lock(current, holder, action):
    assert decide(current, holder, NOW) == action


def test_a_live_lease_of_another_holder_is_refused_naming_it_and_its_expiry():
    with pytest.raises(LockRefused) as refused:
        decide(lease(renewed_ago=60), 'run-b', NOW, where='the rollout lock (Lease gpu-operator/gpufleet-mig-rollout)')
    message = str(refused.value)
    assert message.startswith('the rollout lock (Lease gpu-operator/gpufleet-mig-rollout) is held by run-a since 2026-12-05T05:50:00.000000Z')
    assert 'it expires 2026-12-05T06:29:00.000000Z' in message and 'another rollout is running' in message
    assert (refused.value.holder, refused.value.expires) == ('run-a', '2026-12-05T06:29:00.000000Z')


@pytest.mark.parametrize('current, holder, action', [
    (lease(), 'run-a', 'release'),
    (lease(), 'run-b', 'none'),  # never release another holder's lock
    (lease(holder=None), 'run-a', 'none'),
    (None, 'run-a', 'none'),
])
def test_releasing_the_lock(current, holder, action):
    assert decide(current, holder, NOW, state='absent') == action


@pytest.mark.parametrize('args, message', [
    ((None, '', NOW), 'holder identity must not be empty'),
    ((None, 'run-a', NOW, 'locked'), "state must be present or absent, got 'locked'"),
])
def test_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        decide(*args)


def test_the_specs_each_action_writes():
    stamp = micro_time(NOW)
    assert lease_spec('create', None, 'run-a', NOW, 900) == {'holderIdentity': 'run-a', 'leaseDurationSeconds': 900, 'acquireTime': stamp,
                                                             'renewTime': stamp, 'leaseTransitions': 0}
    renewed = lease_spec('renew', lease(), 'run-a', NOW, 900)
    assert (renewed['renewTime'], renewed['acquireTime'], renewed['leaseTransitions']) == (stamp, lease()['spec']['acquireTime'], 0)
    taken = lease_spec('take_over', lease(renewed_ago=4000, transitions=2), 'run-b', NOW, 900)
    assert (taken['holderIdentity'], taken['acquireTime'], taken['leaseTransitions']) == ('run-b', stamp, 3)
    released = lease_spec('release', lease(), 'run-a', NOW, 900)
    assert 'holderIdentity' not in released and released['renewTime'] == stamp
    assert decide({'spec': released}, 'run-b', NOW) == 'take_over'
    with pytest.raises(ValueError):
        lease_spec('none', None, 'run-a', NOW, 900)


def test_times_as_the_api_server_writes_them():
    assert parse_time('2026-12-05T06:00:00.000000Z') == NOW and parse_time('2026-12-05T06:00:00Z') == NOW and parse_time(None) is None
    with pytest.raises(ValueError, match="not RFC 3339: 'yesterday'"):
        parse_time('yesterday')
