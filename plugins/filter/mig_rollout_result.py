# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: mig_rollout_result
short_description: The record of one node's outcome in a rollout
version_added: 0.2.0
description:
  - Builds the record that the C(gpufleet.mig.mig_rollout) role keeps in C(mig_rollout_result), writes to
    C(<report_dir>/nodes/<host>.json) and publishes with C(set_stats) - always the same eleven keys.
  - Refuses what cannot be a record - an unknown status or layout, a failure without a reason, a reason without a
    failure, actions of an unchanged node, times that are not numbers.
author: gpufleet.mig contributors (@gpufleet)
options:
  _input:
    description:
      - The node's status.
    type: str
    choices: [changed, unchanged, failed]
    required: true
  started:
    description:
      - When the work on the node started, in seconds since the epoch.
    type: float
    required: true
  finished:
    description:
      - When it finished, in seconds since the epoch.
    type: float
    required: true
  actions:
    description:
      - The steps done on the node.
    type: list
    elements: str
    default: []
  gpus_changed:
    description:
      - The indices of the GPUs whose layout changed.
    type: list
    elements: int
    default: []
  layout:
    description:
      - V(new) when every GPU has its new layout, V(previous) when every GPU is back as it was, V(unknown) otherwise.
    type: str
    choices: [new, previous, unknown]
    default: new
  labelled:
    description:
      - Whether the node carries the outcome in its labels; by default, whether it did not fail.
    type: bool
  reason:
    description:
      - Why the node failed; required with V(failed), refused otherwise.
    type: str
  drains:
    description:
      - The registered results of the node's M(gpufleet.mig.node_drain) runs in order (the drain of the GPUs that change,
        then the drain of the rest before a reboot); skipped or undefined ones (V(null)) are left out.
      - They give the record's RV(_value.drain), RV(_value.evicted) and RV(_value.drain_fallback).
    type: list
    elements: raw
    default: []
seealso:
  - plugin: gpufleet.mig.mig_rollout_needs
    plugin_type: filter
  - module: gpufleet.mig.node_results
"""

EXAMPLES = r"""
---
- name: Record the node that was changed
  ansible.builtin.set_fact:
    # => {status: changed, started: ..., finished: ..., actions: [...], gpus_changed: [0, 1], layout: new, labelled: true,
    #     reason: null, drain: gpus, evicted: [ml/infer-0], drain_fallback: null}
    mig_rollout_result: >-
      {{ 'changed' | gpufleet.mig.mig_rollout_result(started=started, finished=now(utc=true).timestamp(),
                                                     actions=applied.gpus | map(attribute='actions') | flatten,
                                                     gpus_changed=applied.gpus | selectattr('changed') | map(attribute='index'),
                                                     drains=[drained]) }}
"""

RETURN = r"""
_value:
  description: The record.
  type: dict
  contains:
    status:
      description: C(changed), C(unchanged) or C(failed).
      type: str
    started:
      description: When the work on the node started (seconds since the epoch).
      type: float
    finished:
      description: When it finished.
      type: float
    actions:
      description: The steps done.
      type: list
      elements: str
    gpus_changed:
      description: The GPUs whose layout changed.
      type: list
      elements: int
    layout:
      description: C(new), C(previous) or C(unknown).
      type: str
    labelled:
      description: Whether the node carries the outcome in its labels.
      type: bool
    reason:
      description: Why it failed; null unless it did.
      type: str
    drain:
      description:
        - How the node was drained - C(gpus) (only the pods on the GPUs that change were evicted), C(node) (every GPU pod,
          or every pod when the drain was not GPU-only) - or null when it was not drained.
      type: str
    evicted:
      description: The pods (C(namespace/name)) the rollout evicted from the node.
      type: list
      elements: str
    drain_fallback:
      description:
        - Why a drain asked to evict only the pods on the GPUs that change evicted every GPU pod (the kubelet's
          pod-resources API could not be read, or a reboot stopped every GPU); null otherwise.
      type: str
  sample:
    status: unchanged
    started: 1796371200.0
    finished: 1796371200.0
    actions: []
    gpus_changed: []
    layout: new
    labelled: true
    reason: null
    drain: null
    evicted: []
    drain_fallback: null
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.mig.plugins.module_utils._rollout import node_result


def mig_rollout_result(status, started, finished, actions=(), gpus_changed=(), layout='new', labelled=None, reason=None, drains=()):
    """The record of one node's outcome: see node_result."""
    try:
        return node_result(status, started, finished, actions=actions, gpus_changed=gpus_changed, layout=layout, labelled=labelled,
                           reason=reason, drains=drains)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """The mig_rollout_result filter."""

    def filters(self):
        return {'mig_rollout_result': mig_rollout_result}
