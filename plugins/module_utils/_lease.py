# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One rollout at a time: the rollout's lock, a ``coordination.k8s.io/v1`` Lease, decided without I/O.

The Lease is read as the API server returns it; :func:`decide` says what a holder does with it (take it, renew it,
take it over after it expired, release it, or be refused, naming who holds it and until when) and :func:`lease_spec`
the spec it writes. As client-go's leader election: a lease has expired when its ``renewTime`` plus
``leaseDurationSeconds`` has passed, judged by this host's clock (so controllers' clocks must agree to within a small
part of the duration), and a release clears ``holderIdentity`` so that the next taker need not wait.
"""

from __future__ import annotations

import datetime

__all__ = ('LockRefused', 'decide', 'lease_spec', 'micro_time', 'parse_time')

# What decide() answers: the action and whether it writes.
ACTIONS = {'create': True, 'renew': True, 'take_over': True, 'release': True, 'none': False}


class LockRefused(Exception):
    """Another holder's lease has not expired: ``holder``, ``acquired``, ``renewed`` and ``expires`` say whose and until when."""

    def __init__(self, message, holder, acquired, renewed, expires):
        super(LockRefused, self).__init__(message)
        self.holder, self.acquired, self.renewed, self.expires = holder, acquired, renewed, expires


def micro_time(moment):
    """A Kubernetes MicroTime (RFC 3339, microseconds, UTC), as client-go writes a Lease's times."""
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def parse_time(text):
    """A MicroTime or Time from the API server, as an aware datetime; None for None or ''."""
    if not text:
        return None
    value = text.replace('Z', '+00:00')
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError('the lease has a time that is not RFC 3339: %r' % text)


def _expires(spec):
    renewed = parse_time(spec.get('renewTime')) or parse_time(spec.get('acquireTime'))
    duration = spec.get('leaseDurationSeconds')
    if renewed is None or not isinstance(duration, int):
        # A lease without a renewal time or duration cannot be judged alive: as client-go, it counts as expired.
        return None
    return renewed + datetime.timedelta(seconds=duration)


def decide(lease, holder, now, state='present', where='the rollout lock'):
    """What ``holder`` does with ``lease`` (the Lease as read, or None) at ``now``: one of ACTIONS.

    ``state='present'`` takes the lock (``create`` when there is no Lease, ``renew`` when ``holder`` has it,
    ``take_over`` when nobody or an expired holder has it) or raises LockRefused; ``'absent'`` releases it when
    ``holder`` has it and otherwise does nothing (``none``): a lock that is not ours is never released.
    """
    if state not in ('present', 'absent'):
        raise ValueError('state must be present or absent, got %r' % (state,))
    if not holder:
        raise ValueError('the holder identity must not be empty')
    spec = (lease or {}).get('spec') or {}
    current = spec.get('holderIdentity') or None
    if state == 'absent':
        return 'release' if lease is not None and current == holder else 'none'
    if lease is None:
        return 'create'
    if current == holder:
        return 'renew'
    expires = _expires(spec)
    if current is None or expires is None or expires <= now:
        return 'take_over'
    acquired, renewed = spec.get('acquireTime'), spec.get('renewTime')
    raise LockRefused('%s is held by %s since %s (renewed %s; it expires %s unless renewed): another rollout is running. '
                      'Run again when it has finished; delete the Lease only when no rollout runs.'
                      % (where, current, acquired or 'an unknown time', renewed or 'never', micro_time(expires)),
                      current, acquired, renewed, micro_time(expires))


def lease_spec(action, lease, holder, now, duration):
    """The spec ``action`` writes: the holder and times for create, renew and take_over; no holder after release."""
    spec = dict((lease or {}).get('spec') or {})
    stamp = micro_time(now)
    if action == 'create':
        return {'holderIdentity': holder, 'leaseDurationSeconds': duration, 'acquireTime': stamp, 'renewTime': stamp, 'leaseTransitions': 0}
    if action == 'renew':
        spec.update(leaseDurationSeconds=duration, renewTime=stamp)
        return spec
    if action == 'take_over':
        spec.update(holderIdentity=holder, leaseDurationSeconds=duration, acquireTime=stamp, renewTime=stamp,
                    leaseTransitions=int(spec.get('leaseTransitions') or 0) + 1)
        return spec
    if action == 'release':
        spec.pop('holderIdentity', None)
        spec.update(renewTime=stamp)
        return spec
    raise ValueError('no spec to write for %r' % (action,))
