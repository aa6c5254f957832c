# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for the expected device-plugin resources per MIG strategy (k8s.md 1.5)."""

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils import _resources
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import ComputeInstance, GpuInstance, GpuState

NO_MIG = object()


def gpu(index, devices=NO_MIG, enabled=None):
    """A GPU entry: NO_MIG for a GPU that is not MIG capable, else MIG on when ``enabled`` (default: when devices given)."""
    if devices is NO_MIG:
        return {'index': index, 'mig_capable': False, 'layout': None}
    if enabled is None:
        enabled = devices is not None
    return {'index': index, 'mig_capable': True,
            'layout': {'mig-enabled': enabled, 'mig-devices': dict(devices or {}), 'placements': []}}


def off(index):
    """A MIG-capable GPU with MIG disabled."""
    return gpu(index, {}, enabled=False)


MIXED_A100 = {'1g.5gb': 2, '2g.10gb': 1, '3g.20gb': 1}

# (case id, gpus, {strategy: expected resources, or None when the plugin refuses to start})
RESOURCES = [
    ('empty node', [], {'none': {}, 'single': {}, 'mixed': {}}),
    ('two GPUs without MIG', [gpu(0), gpu(1)],
     {'none': {'nvidia.com/gpu': 2}, 'single': {'nvidia.com/gpu': 2}, 'mixed': {'nvidia.com/gpu': 2}}),
    ('MIG capable, MIG off', [off(0), off(1), gpu(2)],
     {'none': {'nvidia.com/gpu': 3}, 'single': {'nvidia.com/gpu': 3}, 'mixed': {'nvidia.com/gpu': 3}}),
    ('uniform 1g on two GPUs', [gpu(0, {'1g.5gb': 7}), gpu(1, {'1g.5gb': 7})],
     {'none': {'nvidia.com/gpu': 2}, 'single': {'nvidia.com/gpu': 14}, 'mixed': {'nvidia.com/mig-1g.5gb': 14}}),
    ('mixed profiles plus a full GPU', [gpu(0, MIXED_A100), off(1)],
     {'none': {'nvidia.com/gpu': 2}, 'single': None,
      'mixed': {'nvidia.com/gpu': 1, 'nvidia.com/mig-1g.5gb': 2, 'nvidia.com/mig-2g.10gb': 1, 'nvidia.com/mig-3g.20gb': 1}}),
    ('same profile mix on two GPUs adds up', [gpu(0, MIXED_A100), gpu(1, MIXED_A100)],
     {'none': {'nvidia.com/gpu': 2}, 'single': None,
      'mixed': {'nvidia.com/mig-1g.5gb': 4, 'nvidia.com/mig-2g.10gb': 2, 'nvidia.com/mig-3g.20gb': 2}}),
    ('+me becomes .me', [gpu(0, {'1g.10gb+me': 1, '1g.10gb': 6})],
     {'none': {'nvidia.com/gpu': 1}, 'single': None, 'mixed': {'nvidia.com/mig-1g.10gb': 6, 'nvidia.com/mig-1g.10gb.me': 1}}),
    ('+me.all becomes .me.all', [gpu(0, {'1g.23gb+me.all': 1})],
     {'none': {'nvidia.com/gpu': 1}, 'single': {'nvidia.com/gpu': 1}, 'mixed': {'nvidia.com/mig-1g.23gb.me.all': 1}}),
    # Split GPU instance: mixed has resource patterns only for C == G profiles, and the plugin refuses to start on a MIG
    # device that matches none (device_map.go buildMigDeviceMap), so it advertises nothing at all.
    ('split GI next to a whole one', [gpu(0, {'1c.3g.20gb': 3, '3g.20gb': 1})],
     {'none': {'nvidia.com/gpu': 1}, 'single': None, 'mixed': None}),
    # single maps every MIG device to nvidia.com/gpu (pattern '*'), split compute instances included.
    ('only split GIs', [gpu(0, {'1c.3g.20gb': 3}), gpu(1, {'1c.3g.20gb': 3})],
     {'none': {'nvidia.com/gpu': 2}, 'single': {'nvidia.com/gpu': 6}, 'mixed': None}),
    ('explicit C == G name is a full device', [gpu(0, {'3c.3g.20gb': 2})],
     {'none': {'nvidia.com/gpu': 1}, 'single': {'nvidia.com/gpu': 2}, 'mixed': {'nvidia.com/mig-3g.20gb': 2}}),
    ('zero counts are left out', [gpu(0, {'1g.5gb': 0, '3g.20gb': 2})],
     {'none': {'nvidia.com/gpu': 1}, 'single': {'nvidia.com/gpu': 2}, 'mixed': {'nvidia.com/mig-3g.20gb': 2}}),
    # mixed: a MIG-enabled GPU without MIG devices only warns and advertises nothing.
    ('MIG on without devices', [gpu(0, {}, enabled=True), gpu(1)],
     {'none': {'nvidia.com/gpu': 2}, 'single': None, 'mixed': {'nvidia.com/gpu': 1}}),
    ('mig-devices absent with MIG off', [{'index': 0, 'mig_capable': True, 'layout': {'mig-enabled': False}}],
     {'none': {'nvidia.com/gpu': 1}, 'single': {'nvidia.com/gpu': 1}, 'mixed': {'nvidia.com/gpu': 1}}),
]


@pytest.mark.parametrize('strategy', _resources.STRATEGIES)
@pytest.mark.parametrize('gpus, expected', [c[1:] for c in RESOURCES], ids=[c[0] for c in RESOURCES])
def test_expected_resources(gpus, expected, strategy):
    if expected[strategy] is None:
        with pytest.raises(_resources.StrategyError) as err:
            _resources.expected_resources(gpus, strategy)
        assert err.value.problems == tuple(_resources.strategy_problems(gpus, strategy))
        assert err.value.problems
    else:
        result = _resources.expected_resources(gpus, strategy)
        assert result == expected[strategy]
        assert list(result) == sorted(result)
        assert _resources.strategy_problems(gpus, strategy) == []


def test_strategies_are_the_plugins():
    assert _resources.STRATEGIES == ('none', 'single', 'mixed')


def test_strategy_error_is_a_value_error_with_the_problems():
    error = _resources.StrategyError('single', ['a', 'b'])
    assert isinstance(error, ValueError)
    assert error.strategy == 'single'
    assert str(error) == 'the NVIDIA device plugin would fail to start with MIG strategy single, so it would advertise no resources: a; b'


@pytest.mark.parametrize('profile, resource', [
    ('1g.5gb', 'nvidia.com/mig-1g.5gb'),
    ('1g.10gb+me', 'nvidia.com/mig-1g.10gb.me'),
    ('1g.23gb+me.all', 'nvidia.com/mig-1g.23gb.me.all'),
    ('1g.10gb+gfx', 'nvidia.com/mig-1g.10gb.gfx'),
    ('1g.10gb-me', 'nvidia.com/mig-1g.10gb-me'),      # [uncertain] only '+' is documented as replaced
    ('7g.141gb', 'nvidia.com/mig-7g.141gb'),
    ('3c.3g.20gb', 'nvidia.com/mig-3g.20gb'),
    ('1c.3g.20gb', None),
    ('2c.4g.20gb', None),
])
def test_mig_resource_name(profile, resource):
    assert _resources.mig_resource_name(profile) == resource


# --------------------------------------------------------------------------------------------------
# single: the plugin's start-up rules
# --------------------------------------------------------------------------------------------------

NO_DEVICES_1 = ('device 1 has no MIG devices configured: GPU 1 has MIG enabled but no MIG devices, and the single strategy '
                'needs at least one on every MIG-enabled GPU')
NO_DEVICES_3 = NO_DEVICES_1.replace('1', '3')

PROBLEMS = [
    ('valid uniform', [gpu(0, {'3g.20gb': 2}), gpu(1, {'3g.20gb': 2})], []),
    ('no MIG-enabled GPU behaves like none', [off(0), gpu(1)], []),
    ('MIG-enabled GPU without devices', [gpu(0, {'3g.20gb': 2}), gpu(1, {}, enabled=True)], [NO_DEVICES_1]),
    ('two empty GPUs, by index', [gpu(3, {}, enabled=True), gpu(1, {}, enabled=True)], [NO_DEVICES_3, NO_DEVICES_1]),
    ('empty MIG GPU next to a full GPU names only the empty one', [gpu(0), gpu(1, {}, enabled=True)], [NO_DEVICES_1]),
    ('two profiles on one GPU', [gpu(0, {'1g.5gb': 4, '3g.20gb': 1})],
     ['more than one MIG device type present on node: 1g.5gb on GPU 0, 3g.20gb on GPU 0; the single strategy needs one MIG '
      'profile on every MIG-enabled GPU']),
    ('different profiles on different GPUs', [gpu(0, {'1g.5gb': 7}), gpu(1, {'2g.10gb': 3}), gpu(2, {'1g.5gb': 7})],
     ['more than one MIG device type present on node: 1g.5gb on GPUs 0, 2, 2g.10gb on GPU 1; the single strategy needs one MIG '
      'profile on every MIG-enabled GPU']),
    ('split and full CI are two types', [gpu(0, {'1c.3g.20gb': 3, '3g.20gb': 1})],
     ['more than one MIG device type present on node: 1c.3g.20gb on GPU 0, 3g.20gb on GPU 0; the single strategy needs one MIG '
      'profile on every MIG-enabled GPU']),
    ('MIG devices next to full GPUs', [gpu(0, {'1g.5gb': 7}), off(1), gpu(2)],
     ['all devices on the node must be configured with the same migEnabled value: GPUs 1, 2 with MIG disabled and GPU 0 with '
      'MIG devices; the single strategy cannot advertise full GPUs and MIG devices on one node']),
    ('all three, in the plugin\'s order', [gpu(0, {'1g.5gb': 7}), gpu(1, {}, enabled=True), gpu(2), gpu(4, {'3g.20gb': 2})],
     [NO_DEVICES_1,
      'more than one MIG device type present on node: 1g.5gb on GPU 0, 3g.20gb on GPU 4; the single strategy needs one MIG '
      'profile on every MIG-enabled GPU',
      'all devices on the node must be configured with the same migEnabled value: GPU 2 with MIG disabled and GPUs 0, 4 with '
      'MIG devices; the single strategy cannot advertise full GPUs and MIG devices on one node']),
]


@pytest.mark.parametrize('gpus, expected', [c[1:] for c in PROBLEMS], ids=[c[0] for c in PROBLEMS])
def test_single_problems(gpus, expected):
    assert _resources.strategy_problems(gpus, 'single') == expected


@pytest.mark.parametrize('gpus', [c[1] for c in PROBLEMS], ids=[c[0] for c in PROBLEMS])
def test_none_never_fails(gpus):
    assert _resources.strategy_problems(gpus, 'none') == []


WHOLE = [c for c in PROBLEMS if not any('c.' in name for g in c[1] for name in (g['layout'] or {}).get('mig-devices', {}))]


@pytest.mark.parametrize('gpus', [c[1] for c in WHOLE], ids=[c[0] for c in WHOLE])
def test_mixed_starts_without_split_gpu_instances(gpus):
    assert _resources.strategy_problems(gpus, 'mixed') == []


# --------------------------------------------------------------------------------------------------
# mixed: split GPU instances stop the plugin (device plugin v0.20.0 internal/rm/rm.go:140-146, device_map.go:144-150)
# --------------------------------------------------------------------------------------------------

SPLIT_1C = ("MIG profile '1c.3g.20gb' does not match any resource patterns: GPU %d has compute instances of split GPU "
            "instances (%s), and the mixed strategy has resources only for whole compute instances; give each of these GPU "
            "instances one whole compute instance (3g.20gb), or use the single strategy")

MIXED_PROBLEMS = [
    ('split GI next to a whole one: single does not fit either', [gpu(0, {'1c.3g.20gb': 3, '3g.20gb': 1})],
     [SPLIT_1C % (0, '3 x 1c.3g.20gb') + ' with one MIG profile on every MIG-enabled GPU']),
    ('only split GIs, one profile: single fits', [gpu(0, {'1c.3g.20gb': 3}), gpu(1, {'1c.3g.20gb': 3})],
     [SPLIT_1C % (0, '3 x 1c.3g.20gb') + ', which fits this node (each MIG device becomes one nvidia.com/gpu)',
      SPLIT_1C % (1, '3 x 1c.3g.20gb') + ', which fits this node (each MIG device becomes one nvidia.com/gpu)']),
    ('two split profiles on one GPU, others fine', [gpu(0, {'1g.5gb': 7}), gpu(2, {'2c.3g.20gb': 1, '1c.3g.20gb': 1, '2c.4g.20gb': 1})],
     ["MIG profile '1c.3g.20gb' does not match any resource patterns: GPU 2 has compute instances of split GPU instances "
      "(1 x 1c.3g.20gb, 1 x 2c.3g.20gb, 1 x 2c.4g.20gb), and the mixed strategy has resources only for whole compute instances; "
      "give each of these GPU instances one whole compute instance (3g.20gb, 4g.20gb), or use the single strategy with one MIG "
      "profile on every MIG-enabled GPU"]),
    ('an explicit C == G name is whole', [gpu(0, {'3c.3g.20gb': 2})], []),
    ('MIG off', [off(0)], []),
]


@pytest.mark.parametrize('gpus, expected', [c[1:] for c in MIXED_PROBLEMS], ids=[c[0] for c in MIXED_PROBLEMS])
def test_mixed_problems(gpus, expected):
    assert _resources.strategy_problems(gpus, 'mixed') == expected
    if expected:
        with pytest.raises(_resources.StrategyError) as err:
            _resources.expected_resources(gpus, 'mixed')
        assert err.value.problems == tuple(expected)
        assert str(err.value).startswith('the NVIDIA device plugin would fail to start with MIG strategy mixed, so it would '
                                         'advertise no resources: ')


def test_index_defaults_to_the_position():
    gpus = [{'mig_capable': True, 'layout': {'mig-enabled': True, 'mig-devices': {'1g.5gb': 1}}},
            {'mig_capable': True, 'layout': {'mig-enabled': True, 'mig-devices': {}}}]
    assert _resources.strategy_problems(gpus, 'single')[0].startswith('device 1 has no MIG devices configured: GPU 1 ')


# --------------------------------------------------------------------------------------------------
# Warnings: accepted but not (usefully) advertised
# --------------------------------------------------------------------------------------------------

WARNINGS = [
    ('none', [gpu(0, {'1g.5gb': 7}), off(1), gpu(2)],
     ['GPU 0 has MIG enabled; the none strategy advertises it as one whole nvidia.com/gpu and does not advertise its MIG devices']),
    ('mixed', [gpu(0, {}, enabled=True)],
     ['device 0 has no MIG devices configured: GPU 0 has MIG enabled but no MIG devices, so the mixed strategy advertises nothing '
      'for it']),
    ('mixed', [gpu(0, {'3g.20gb': 1, '1c.3g.20gb': 3, '2c.3g.20gb': 1})], []),     # a problem, not a warning
    ('mixed', [gpu(0, {'1g.5gb': 7}), off(1), gpu(2)], []),
    ('single', [gpu(0, {'1c.3g.20gb': 3})], []),
    ('single', [gpu(0, {}, enabled=True)], []),
]


@pytest.mark.parametrize('strategy, gpus, expected', WARNINGS)
def test_strategy_warnings(strategy, gpus, expected):
    assert _resources.strategy_warnings(gpus, strategy) == expected


# --------------------------------------------------------------------------------------------------
# gpu_info facts as input
# --------------------------------------------------------------------------------------------------

def _gpu_state(index, mig, instances=()):
    return GpuState(index=index, uuid='GPU-%d' % index, name='NVIDIA A100-SXM4-40GB', pci_bus_id='b', pci_device_id=0x20B010DE,
                    pci_subsystem_id=0, memory_total_mib=40960, architecture=7, compute_capability=(8, 0), mig_capable=True,
                    mig_current=mig, mig_pending=mig, gpu_instances=tuple(instances), model='A100-SXM4-40GB')


def test_gpu_info_entries():
    full = GpuInstance(id=1, profile='3g.20gb', profile_id=9, start=0, size=4, compute_slices=3,
                       compute_instances=(ComputeInstance(id=0, profile='3g.20gb', profile_id=2, start=0, size=3),))
    split = GpuInstance(id=2, profile='3g.20gb', profile_id=9, start=4, size=4, compute_slices=3,
                        compute_instances=tuple(ComputeInstance(id=i, profile='1c.3g.20gb', profile_id=0, start=i, size=1) for i in range(3)))
    empty = GpuInstance(id=3, profile='1g.5gb', profile_id=19, start=0, size=1, compute_slices=1)
    gpus = [_gpu_state(0, True, [full, split]).to_dict(), _gpu_state(1, False).to_dict(), _gpu_state(2, True, [empty]).to_dict()]
    assert _resources.strategy_problems(gpus, 'mixed') == [
        "MIG profile '1c.3g.20gb' does not match any resource patterns: GPU 0 has compute instances of split GPU instances "
        "(3 x 1c.3g.20gb), and the mixed strategy has resources only for whole compute instances; give each of these GPU "
        "instances one whole compute instance (3g.20gb), or use the single strategy with one MIG profile on every MIG-enabled GPU"]
    assert _resources.expected_resources(gpus[1:], 'mixed') == {'nvidia.com/gpu': 1}
    assert _resources.expected_resources(gpus, 'none') == {'nvidia.com/gpu': 3}
    assert _resources.strategy_problems(gpus, 'single') == [
        'device 2 has no MIG devices configured: GPU 2 has MIG enabled but no MIG devices, and the single strategy needs at '
        'least one on every MIG-enabled GPU',
        'more than one MIG device type present on node: 1c.3g.20gb on GPU 0, 3g.20gb on GPU 0; the single strategy needs one '
        'MIG profile on every MIG-enabled GPU',
        'all devices on the node must be configured with the same migEnabled value: GPU 1 with MIG disabled and GPU 0 with MIG '
        'devices; the single strategy cannot advertise full GPUs and MIG devices on one node',
    ]


def test_tuple_and_generator_input():
    assert _resources.expected_resources((gpu(0),), 'none') == {'nvidia.com/gpu': 1}
    assert _resources.expected_resources((g for g in [gpu(0), gpu(1)]), 'mixed') == {'nvidia.com/gpu': 2}


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------

VALID = "valid strategies: none, single, mixed"


@pytest.mark.parametrize('strategy, message', [
    ('Mixed', "unknown MIG strategy 'Mixed'; " + VALID),
    ('auto', "unknown MIG strategy 'auto'; " + VALID),
    (None, "unknown MIG strategy None; " + VALID),
    ('', "unknown MIG strategy ''; " + VALID),
])
@pytest.mark.parametrize('function', ['expected_resources', 'strategy_problems', 'strategy_warnings'])
def test_unknown_strategy(function, strategy, message):
    with pytest.raises(ValueError) as err:
        getattr(_resources, function)([gpu(0)], strategy)
    assert str(err.value) == message


BAD_GPUS = [
    ({'gpus': []}, 'expected a list of GPU entries (gpu_info node.gpus), got dict (pass the list node.gpus, not the node)'),
    ('gpu0', 'expected a list of GPU entries (gpu_info node.gpus), got str'),
    (None, 'expected a list of GPU entries (gpu_info node.gpus), got NoneType'),
    (3, 'expected a list of GPU entries (gpu_info node.gpus), got int'),
    (['x'], "GPU entry 0 must be a dict with mig_capable and layout (a GPU of gpu_info node.gpus), got str 'x'"),
    ([{'layout': None}], "GPU 0 has no 'mig_capable' key; a GPU entry needs mig_capable (bool) and layout (dict or null)"),
    ([{'index': 2, 'mig_capable': False}], "GPU 2 has no 'layout' key; a GPU entry needs mig_capable (bool) and layout (dict or null)"),
    ([{'index': -1, 'mig_capable': False, 'layout': None}], 'GPU entry 0: index must be a non-negative integer, got -1'),
    ([{'index': True, 'mig_capable': False, 'layout': None}], 'GPU entry 0: index must be a non-negative integer, got True'),
    ([{'mig_capable': 'yes', 'layout': None}], "GPU 0: mig_capable must be true or false, got 'yes'"),
    ([{'mig_capable': True, 'layout': []}], 'GPU 0: layout must be a dict with mig-enabled and mig-devices, or null, got list []'),
    ([{'mig_capable': True, 'layout': {'mig-devices': {}}}], 'GPU 0: layout mig-enabled must be true or false, got None'),
    ([{'mig_capable': False, 'layout': {'mig-enabled': True}}], 'GPU 0: layout says mig-enabled but the GPU is not MIG capable'),
    ([{'mig_capable': True, 'layout': {'mig-enabled': True, 'mig-devices': ['1g.5gb']}}],
     "GPU 0: layout mig-devices must be a dict of MIG profile name to count, got list ['1g.5gb']"),
    ([gpu(0, {'1g.5gb': -1})], 'GPU 0: count of MIG device 1g.5gb must be a non-negative integer, got -1'),
    ([gpu(0, {'1g.5gb': True})], 'GPU 0: count of MIG device 1g.5gb must be a non-negative integer, got True'),
    ([gpu(0, {'1g.5gb': '2'})], "GPU 0: count of MIG device 1g.5gb must be a non-negative integer, got '2'"),
    ([gpu(0, {1: 2})], 'GPU 0: MIG device name 1 in mig-devices is not a string'),
    ([gpu(0, {'1g.5gb': 1}, enabled=False)], 'GPU 0: layout has mig-devices (1g.5gb) but mig-enabled is false'),
    ([gpu(0), gpu(0)], 'GPU index 0 appears more than once'),
]


@pytest.mark.parametrize('gpus, message', BAD_GPUS)
@pytest.mark.parametrize('function', ['expected_resources', 'strategy_problems', 'strategy_warnings'])
def test_malformed_gpus(function, gpus, message):
    with pytest.raises(ValueError) as err:
        getattr(_resources, function)(gpus, 'mixed')
    assert str(err.value) == message


def test_bad_profile_name_is_named():
    with pytest.raises(ValueError) as err:
        _resources.expected_resources([gpu(5, {'big': 1})], 'mixed')
    assert str(err.value).startswith("GPU 5: invalid MIG profile name 'big': expected ")
