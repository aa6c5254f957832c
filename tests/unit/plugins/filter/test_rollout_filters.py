# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The filters mig_rollout_needs, mig_rollout_preflight and mig_rollout_result: thin wrappers over module_utils/_rollout.py (tested there)."""

from __future__ import annotations

import importlib

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.mig.plugins.filter.mig_rollout_needs import mig_rollout_needs
from ansible_collections.gpufleet.mig.plugins.filter.mig_rollout_preflight import mig_rollout_preflight
from ansible_collections.gpufleet.mig.plugins.filter.mig_rollout_result import mig_rollout_result

FILTERS = ('mig_rollout_needs', 'mig_rollout_preflight', 'mig_rollout_result')


@pytest.mark.parametrize('name', FILTERS)
def test_documentation(name):
    plugin = importlib.import_module('ansible_collections.gpufleet.mig.plugins.filter.' + name)
    assert list(plugin.FilterModule().filters()) == [name]
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert (doc['name'], doc['version_added'], doc['options']['_input']['required']) == (name, '0.2.0', True)
    assert list(yaml.safe_load(plugin.RETURN)) == ['_value']
    assert any('gpufleet.mig.' + name in str(task) for task in yaml.safe_load(plugin.EXAMPLES))


def test_the_documented_keys_are_the_returned_ones():
    doc = yaml.safe_load(importlib.import_module('ansible_collections.gpufleet.mig.plugins.filter.mig_rollout_needs').RETURN)
    needs = mig_rollout_needs({'gpus': [], 'node': {'gpus': []}}, None, 'c', 'mixed')
    assert sorted(needs) == sorted(doc['_value']['contains']) == sorted(doc['_value']['sample'])
    doc = yaml.safe_load(importlib.import_module('ansible_collections.gpufleet.mig.plugins.filter.mig_rollout_result').RETURN)
    assert list(mig_rollout_result('unchanged', 1, 2)) == list(doc['_value']['contains']) == list(doc['_value']['sample'])
    doc = yaml.safe_load(importlib.import_module('ansible_collections.gpufleet.mig.plugins.filter.mig_rollout_preflight').RETURN)
    noted = {'node_problem': None, 'node': 'n', 'config': 'c', 'plugin_config': 'mixed', 'layout_given': True, 'cluster': None}
    decided = mig_rollout_preflight({'n': noted}, {'n': {'gpus': [], 'node': {'gpus': []}}}, {})
    assert sorted(decided['n']) == sorted(doc['_value']['contains']) == sorted(doc['_value']['sample']['gpu-node-1'])
    assert sorted(decided['n']['needs']) == sorted(doc['_value']['sample']['gpu-node-1']['needs'])


def test_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match='^plan must be a registered module result'):
        mig_rollout_needs([], None, 'c', 'mixed')
    with pytest.raises(AnsibleFilterError, match='^a failed node needs a reason'):
        mig_rollout_result('failed', 1, 2)
    with pytest.raises(AnsibleFilterError, match='^node n: no plan was registered$'):
        mig_rollout_preflight({'n': dict.fromkeys(('node_problem', 'node', 'config', 'plugin_config', 'layout_given', 'cluster'))}, {}, {})
