#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: node_labels
short_description: Set and remove labels and annotations on a Kubernetes node
version_added: 0.1.0
description:
  - Sets the given labels and annotations on a node and removes those given as null, leaving every other key alone.
  - Checks every key and value against Kubernetes' rules before sending anything, and names each bad one.
  - Sends one merge patch carrying the resourceVersion it was computed from; when another writer changed the node in the
    meantime the node is read again and the change recomputed, so no concurrent change is overwritten.
  - Runs where the Kubernetes client and credentials are, usually the controller (C(delegate_to=localhost)).
author:
  - gpufleet.mig contributors (@gpufleet)
extends_documentation_fragment:
  - gpufleet.mig.attributes
  - gpufleet.mig.attributes.ACTIONGROUP_K8S
  - gpufleet.mig.k8s_auth
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff holds the labels and annotations this task manages, before and after.
  idempotent:
    support: full
options:
  node:
    description:
      - The node's name.
    type: str
    required: true
  labels:
    description:
      - Labels to set (string values) or remove (null values).
    type: dict
    default: {}
  annotations:
    description:
      - Annotations to set (string values) or remove (null values).
    type: dict
    default: {}
seealso:
  - module: gpufleet.mig.node_drain
"""

EXAMPLES = r"""
---
- name: Mark a node's MIG reconfiguration as pending
  gpufleet.mig.node_labels:
    node: gpu-node-07
    labels:
      nvidia.com/mig.config.state: pending
  delegate_to: localhost

- name: Record success and drop the failure reason
  gpufleet.mig.node_labels:
    node: gpu-node-07
    labels:
      nvidia.com/mig.config: all-balanced
      nvidia.com/mig.config.state: success
    annotations:
      gpufleet.mig/failure-reason: null
  delegate_to: localhost
"""

RETURN = r"""
labels:
  description: All labels of the node after the task (as they would be, in check mode).
  returned: success
  type: dict
  sample: {kubernetes.io/hostname: gpu-node-07, nvidia.com/mig.config.state: success}
annotations:
  description: The annotations this task manages, after the task; removed ones are absent.
  returned: success
  type: dict
unschedulable:
  description: Whether the node is cordoned.
  returned: success
  type: bool
"""

from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import metadata_patch, metadata_problems, name_problem
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s_module import KubeModule


def _managed(items, keys):
    return dict((key, items[key]) for key in sorted(keys) if key in items)


def main():
    module = KubeModule(
        argument_spec=dict(
            node=dict(type='str', required=True),
            labels=dict(type='dict', default={}),
            annotations=dict(type='dict', default={}),
        ),
        supports_check_mode=True,
    )
    labels, annotations = module.params['labels'], module.params['annotations']
    module.fail_problems([p for p in [name_problem('node', module.params['node'])] if p] + metadata_problems(labels, annotations))

    def change(node):
        patch = metadata_patch(node['metadata'], labels, annotations)
        return {'metadata': patch} if patch else None

    with module.failing_on_errors():
        before, after, changed = module.update_node(module.params['node'], change)
    after_labels = after['metadata'].get('labels') or {}
    after_annotations = after['metadata'].get('annotations') or {}

    result = dict(changed=changed, labels=after_labels, annotations=_managed(after_annotations, annotations),
                  unschedulable=bool(before['spec'].get('unschedulable')))
    if module._diff:
        before_labels = before['metadata'].get('labels') or {}
        before_annotations = before['metadata'].get('annotations') or {}
        result['diff'] = {
            'before': {'labels': _managed(before_labels, labels), 'annotations': _managed(before_annotations, annotations)},
            'after': {'labels': _managed(after_labels, labels), 'annotations': _managed(after_annotations, annotations)},
        }
    module.exit_json(**result)


if __name__ == '__main__':
    main()
