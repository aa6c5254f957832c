#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_lock
short_description: Take, renew or release the lock that lets one rollout at a time change a cluster
version_added: 0.2.0
description:
  - Holds a C(coordination.k8s.io/v1) Lease for a rollout, as Kubernetes' own leader election does, so that two rollouts
    (an operator's run and a scheduled AWX job, say) never drain and repartition the same cluster at once.
  - With O(state=present) takes the Lease when nobody holds it, renews it when O(holder) holds it, and takes it over when
    its holder let it expire (its C(renewTime) plus C(leaseDurationSeconds) has passed). When another holder's Lease is
    alive, fails at once, naming the holder, since when it holds the lock and when the lock expires.
  - With O(state=absent) releases the Lease when O(holder) holds it; a Lease someone else holds is left alone.
  - Every write carries the resourceVersion it was decided from; when another writer came first the Lease is read
    again and the decision made again, so two rollouts starting together cannot both take it.
  - Expiry is judged by this host's clock against the times the holder wrote, so the clocks of the hosts that run
    rollouts must agree to within a small part of O(duration).
author:
  - gpufleet.mig contributors (@gpufleet)
extends_documentation_fragment:
  - gpufleet.mig.attributes
  - gpufleet.mig.attributes.ACTIONGROUP_K8S
  - gpufleet.mig.k8s_auth
attributes:
  check_mode:
    support: full
    details:
      - Reads the Lease and says what would be done, and fails as the real run would when another holder has it.
  diff_mode:
    support: full
    details:
      - The diff holds the Lease's spec before and after.
  idempotent:
    support: partial
    details:
      - Renewing writes a new C(renewTime) each time, which is the point of renewing; releasing twice changes nothing.
options:
  name:
    description:
      - The Lease's name.
    type: str
    default: gpufleet-mig-rollout
  namespace:
    description:
      - The Lease's namespace. The rollout uses the device plugin's namespace, where its RBAC already has a Role.
    type: str
    required: true
  holder:
    description:
      - Who holds the lock, written to the Lease's C(holderIdentity). Runs that give the same holder share the lock.
    type: str
    required: true
  state:
    description:
      - V(present) takes or renews the lock; V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  duration:
    description:
      - Seconds the lock stays held without a renewal (C(leaseDurationSeconds)). After that another run may take it over.
      - Must be longer than the longest time between two renewals; the rollout renews at each batch, so longer than a
        batch's drain, repartitioning and device plugin restart.
    type: int
    default: 1800
seealso:
  - name: Leases (Kubernetes documentation)
    description: What a Lease is and how leader election uses it.
    link: https://kubernetes.io/docs/concepts/architecture/leases/
"""

EXAMPLES = r"""
---
- name: Take the rollout lock for this run
  gpufleet.mig.rollout_lock:
    namespace: gpu-operator
    holder: "awx-job-{{ awx_job_id }}"
  delegate_to: localhost

- name: Release it at the end
  gpufleet.mig.rollout_lock:
    namespace: gpu-operator
    holder: "awx-job-{{ awx_job_id }}"
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
action:
  description: What was done (or in check mode would be done).
  returned: success
  type: str
  choices: [create, renew, take_over, release, none]
  sample: create
holder:
  description: Who holds the lock after the task; null when nobody does.
  returned: success
  type: str
  sample: awx-job-4711
previous_holder:
  description: Who held the lock before the task (after a take-over, the run whose lease had expired).
  returned: success
  type: str
  sample: null
expires:
  description: When the lock expires unless renewed (RFC 3339, UTC); null when nobody holds it.
  returned: success
  type: str
  sample: "2026-12-05T06:00:00.000000Z"
lock_holder:
  description: On failure because another run holds the lock, that run's holder identity.
  returned: failure
  type: str
lock_expires:
  description: On failure because another run holds the lock, when its lease expires unless it is renewed.
  returned: failure
  type: str
"""

import datetime

from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import KubeError, name_problem
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s_module import KubeModule
from ansible_collections.gpufleet.mig.plugins.module_utils._lease import LockRefused, decide, lease_spec, micro_time, parse_time

# Writes that lose a race with another writer are decided again from a fresh read, this many times.
CONFLICTS = 5


def _path(namespace, name=None):
    return '/apis/coordination.k8s.io/v1/namespaces/%s/leases' % namespace + ('/%s' % name if name else '')


def converge(kube, params, check_mode, now):
    """Decide and (unless check_mode) write; returns (action, lease before, spec after). Raises LockRefused or KubeError."""
    namespace, name, holder = params['namespace'], params['name'], params['holder']
    where = 'the rollout lock (Lease %s/%s)' % (namespace, name)
    for dummy in range(CONFLICTS):
        lease = kube.read('reading lease %s/%s' % (namespace, name), _path(namespace, name))
        # One instant per decision: the expiry the decision saw is the one the written renewTime starts from.
        at = now()
        action = decide(lease, holder, at, params['state'], where)
        if action == 'none':
            return action, lease, (lease or {}).get('spec')
        spec = lease_spec(action, lease, holder, at, params['duration'])
        if check_mode:
            return action, lease, spec
        try:
            if lease is None:
                kube.call('creating lease %s/%s' % (namespace, name), 'POST', _path(namespace),
                          body={'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease', 'metadata': {'name': name, 'namespace': namespace}, 'spec': spec})
            else:
                body = dict(lease, spec=spec)
                kube.call('updating lease %s/%s' % (namespace, name), 'PUT', _path(namespace, name), body=body)
        except KubeError as exc:
            if exc.status == 409:
                continue  # another writer came first: read again and decide again
            raise
        return action, lease, spec
    raise KubeError('%s: %d writes in a row lost a race with other writers' % (where, CONFLICTS), 409)


def main():
    module = KubeModule(
        argument_spec=dict(
            name=dict(type='str', default='gpufleet-mig-rollout'),
            namespace=dict(type='str', required=True),
            holder=dict(type='str', required=True),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            duration=dict(type='int', default=1800),
        ),
        supports_check_mode=True,
        errors={
            LockRefused: lambda exc: {'lock_holder': exc.holder, 'lock_expires': exc.expires},
            # A time in the Lease that cannot be read.
            ValueError: lambda exc: {'status': None},
        },
    )
    params = module.params
    problems = [p for p in (name_problem('name', params['name']), name_problem('namespace', params['namespace'])) if p]
    if not params['holder'].strip():
        problems.append('holder must not be empty')
    if not 15 <= params['duration'] <= 86400:
        problems.append('duration must be between 15 and 86400 seconds, got %d' % params['duration'])
    module.fail_problems(problems)

    def now():
        return datetime.datetime.now(datetime.timezone.utc)

    with module.failing_on_errors():
        action, lease, spec = converge(module.kube, params, module.check_mode, now)
    before = (lease or {}).get('spec') or {}
    after = spec or {}
    holder = after.get('holderIdentity') or None
    renewed = parse_time(after.get('renewTime'))
    expires = micro_time(renewed + datetime.timedelta(seconds=after['leaseDurationSeconds'])) if holder and renewed else None
    result = dict(changed=action != 'none', action=action, holder=holder, previous_holder=before.get('holderIdentity') or None, expires=expires)
    if module._diff:
        result['diff'] = {'before': before, 'after': after}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
