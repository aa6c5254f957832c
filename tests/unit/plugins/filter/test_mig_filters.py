# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for the filters mig_resources, mig_strategy_problems and mig_slots (thin wrappers over module_utils)."""

from __future__ import annotations

import importlib

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.mig.plugins.filter.mig_resources import mig_resources
from ansible_collections.gpufleet.mig.plugins.filter.mig_slots import mig_slots
from ansible_collections.gpufleet.mig.plugins.filter.mig_strategy_problems import mig_strategy_problems

FILTERS = ('mig_resources', 'mig_strategy_problems', 'mig_slots')

A100 = {'index': 0, 'name': 'NVIDIA A100-SXM4-40GB', 'model': 'A100-SXM4-40GB', 'mig_capable': True,
        'mig_mode': {'current': True, 'pending': True, 'change_pending': False},
        'gpu_instances': [{'id': 1, 'profile': '1g.5gb', 'placement': {'start': 0, 'size': 1}, 'compute_instances': []},
                          {'id': 2, 'profile': '3g.20gb', 'placement': {'start': 4, 'size': 4}, 'compute_instances': []}],
        'layout': {'mig-enabled': True, 'mig-devices': {'1g.5gb': 1, '3g.20gb': 1},
                   'placements': [{'profile': '1g.5gb', 'start': 0, 'compute_instances': ['1g.5gb']},
                                  {'profile': '3g.20gb', 'start': 4, 'compute_instances': ['3g.20gb']}]}}
L40S = {'index': 1, 'name': 'NVIDIA L40S', 'model': 'L40S', 'mig_capable': False, 'gpu_instances': [], 'layout': None}
# A 3g.20gb GPU instance split into three 1c compute instances (planned data, as in the mig_resources EXAMPLES).
SPLIT = {'index': 2, 'mig_capable': True, 'layout': {'mig-enabled': True, 'mig-devices': {'1g.5gb': 2, '1c.3g.20gb': 3}}}
SPLIT_PROBLEM = ("MIG profile '1c.3g.20gb' does not match any resource patterns: GPU 2 has compute instances of split GPU instances "
                 "(3 x 1c.3g.20gb), and the mixed strategy has resources only for whole compute instances; give each of these GPU "
                 "instances one whole compute instance (3g.20gb), or use the single strategy with one MIG profile on every "
                 "MIG-enabled GPU")
A100_LINE = 'GPU 0 A100-SXM4-40GB [0:1g.5gb   |' + '|'.join(['.' * 11] * 3) + '|4-7:3g.20gb' + ' ' * 36 + ']'


@pytest.mark.parametrize('name', FILTERS)
def test_filter_module_exports_one_filter_named_like_its_file(name):
    plugin = importlib.import_module('ansible_collections.gpufleet.mig.plugins.filter.' + name)
    assert list(plugin.FilterModule().filters()) == [name]


@pytest.mark.parametrize('name', FILTERS)
def test_documentation(name):
    plugin = importlib.import_module('ansible_collections.gpufleet.mig.plugins.filter.' + name)
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc['name'] == name
    assert doc['version_added'] == '0.1.0'
    assert doc['author'] == 'gpufleet.mig contributors (@gpufleet)'
    assert doc['options']['_input']['required'] is True
    assert list(yaml.safe_load(plugin.RETURN)) == ['_value']
    examples = yaml.safe_load(plugin.EXAMPLES)
    assert all('name' in task for task in examples)
    assert any('gpufleet.mig.' + name in str(task) for task in examples)


@pytest.mark.parametrize('args, kwargs, expected', [
    (([A100, L40S],), {}, {'nvidia.com/gpu': 1, 'nvidia.com/mig-1g.5gb': 1, 'nvidia.com/mig-3g.20gb': 1}),
    (([A100, L40S], 'none'), {}, {'nvidia.com/gpu': 2}),
    (([A100, L40S],), {'strategy': 'mixed'}, {'nvidia.com/gpu': 1, 'nvidia.com/mig-1g.5gb': 1, 'nvidia.com/mig-3g.20gb': 1}),
    (([L40S], 'single'), {}, {'nvidia.com/gpu': 1}),
    (([],), {}, {}),
])
def test_mig_resources(args, kwargs, expected):
    assert mig_resources(*args, **kwargs) == expected


@pytest.mark.parametrize('args, message', [
    (([A100, L40S], 'single'),
     'the NVIDIA device plugin would fail to start with MIG strategy single, so it would advertise '
     'no resources: more than one MIG device type present on node: 1g.5gb on GPU 0, 3g.20gb on GPU 0; the single strategy needs '
     'one MIG profile on every MIG-enabled GPU; all devices on the node must be configured with the same migEnabled value: GPU 1 '
     'with MIG disabled and GPU 0 with MIG devices; the single strategy cannot advertise full GPUs and MIG devices on one node'),
    (([SPLIT],), 'the NVIDIA device plugin would fail to start with MIG strategy mixed, so it would advertise no resources: '
                 + SPLIT_PROBLEM),
    (([A100], 'auto'), "unknown MIG strategy 'auto'; valid strategies: none, single, mixed"),
    (({'gpus': [A100]},), 'expected a list of GPU entries (gpu_info node.gpus), got dict '
                          '(pass the list node.gpus, not the node)'),
])
def test_mig_resources_errors(args, message):
    with pytest.raises(AnsibleFilterError) as err:
        mig_resources(*args)
    assert err.value.message == message


@pytest.mark.parametrize('gpus, strategy, expected', [
    ([A100, L40S], 'mixed', []),
    ([A100, L40S], 'none', []),
    ([A100], 'single', ['more than one MIG device type present on node: 1g.5gb on GPU 0, 3g.20gb on GPU 0; the single strategy '
                        'needs one MIG profile on every MIG-enabled GPU']),
    ([L40S], 'single', []),
    ([A100, SPLIT], 'mixed', [SPLIT_PROBLEM]),
    ([SPLIT], 'none', []),
])
def test_mig_strategy_problems(gpus, strategy, expected):
    assert mig_strategy_problems(gpus, strategy) == expected


def test_mig_strategy_problems_errors():
    with pytest.raises(AnsibleFilterError) as err:
        mig_strategy_problems([{'index': 0}], 'mixed')
    assert err.value.message == ("GPU 0 has no 'mig_capable' key; a GPU entry needs "
                                 "mig_capable (bool) and layout (dict or null)")


@pytest.mark.parametrize('value, expected', [
    (A100, A100_LINE),
    (L40S, 'GPU 1 L40S (no MIG)'),
    ([A100, L40S], [A100_LINE, 'GPU 1 L40S (no MIG)']),
    ((A100,), [A100_LINE]),
    ([], []),
])
def test_mig_slots(value, expected):
    assert mig_slots(value) == expected


@pytest.mark.parametrize('value, message', [
    ('GPU 0', 'expected a GPU entry or a list of them (gpu_info node.gpus), got str'),
    ([A100, 'x'], 'expected a GPU entry (an element of gpu_info node.gpus), got str'),
    (dict(A100, gpu_instances=[{'profile': '3g.20gb', 'placement': {'start': 6, 'size': 4}}]),
     "MIG instance 3g.20gb at slices 6-9 lies outside the GPU's 8 memory slices (0-7)"),
])
def test_mig_slots_errors(value, message):
    with pytest.raises(AnsibleFilterError) as err:
        mig_slots(value)
    assert err.value.message == message
