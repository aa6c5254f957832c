#!/usr/bin/python
# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mig_config_info
short_description: Read a mig-parted config kept in a Kubernetes ConfigMap
version_added: 0.2.0
description:
  - Reads one key of a ConfigMap and returns it as a mig-parted C(version=v1) config, the form
    M(gpufleet.mig.mig_plan) records a plan in and M(gpufleet.mig.mig_layout) takes as its C(config).
  - The rollout reads its layouts this way when C(gpufleet_mig_parted_configmap) is set, so a plan recorded in the
    cluster is applied from any controller (an AWX job's included) without a file.
  - Fails naming the ConfigMap when it or the key does not exist, or when the key holds no mig-parted config; the
    config's layouts themselves are validated where they are applied.
author:
  - gpufleet.mig contributors (@gpufleet)
extends_documentation_fragment:
  - gpufleet.mig.attributes
  - gpufleet.mig.attributes.INFO_MODULE
  - gpufleet.mig.attributes.ACTIONGROUP_K8S
  - gpufleet.mig.k8s_auth
options:
  configmap:
    description: The ConfigMap's name.
    type: str
    required: true
  namespace:
    description: Its namespace.
    type: str
    default: gpu-operator
  key:
    description: The key that holds the config (YAML or JSON).
    type: str
    default: config.yaml
seealso:
  - module: gpufleet.mig.mig_plan
    description: Records a plan in such a ConfigMap.
"""

EXAMPLES = r"""
---
- name: Read the recorded plan
  gpufleet.mig.mig_config_info:
    configmap: gpufleet-mig-plan
  delegate_to: localhost
  register: recorded
"""

RETURN = r"""
config:
  description: The mig-parted config, parsed.
  returned: success
  type: dict
  sample: {"version": "v1", "mig-configs": {"gpufleet-plan-5f2c0d9e1a7b": [{"devices": [0], "mig-enabled": true, "mig-devices": {"3g.40gb": 2}}]}}
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.gpufleet.mig.plugins.module_utils._k8s import config_key_problem, name_problem
from ansible_collections.gpufleet.mig.plugins.module_utils._k8s_module import KubeModule

try:
    import yaml
except ImportError:
    yaml = None


def main():
    module = KubeModule(
        argument_spec=dict(
            configmap=dict(type='str', required=True),
            namespace=dict(type='str', default='gpu-operator'),
            key=dict(type='str', default='config.yaml', no_log=False),
        ),
        supports_check_mode=True,
    )
    if yaml is None:
        module.fail_json(msg=missing_required_lib('PyYAML'))
    params = module.params
    namespace, name, key = params['namespace'], params['configmap'], params['key']
    problems = [p for p in (name_problem('configmap', name), name_problem('namespace', namespace, 'label'), config_key_problem('key', key)) if p]
    module.fail_problems(problems)
    where = 'configmap %s/%s' % (namespace, name)
    with module.failing_on_errors():
        found = module.kube.read_config_map(namespace, name)
    if found is None:
        module.fail_json(msg='%s does not exist' % where)
    text = (found.get('data') or {}).get(key)
    if text is None:
        module.fail_json(msg='%s has no key %s; its keys: %s' % (where, key, ', '.join(sorted(found.get('data') or {})) or 'none'))
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        module.fail_json(msg='%s key %s is not YAML: %s' % (where, key, exc))
    if not isinstance(config, dict) or not isinstance(config.get('mig-configs'), dict):
        module.fail_json(msg='%s key %s is not a mig-parted config (a mapping with version and mig-configs)' % (where, key))
    module.exit_json(changed=False, config=config)


if __name__ == '__main__':
    main()
