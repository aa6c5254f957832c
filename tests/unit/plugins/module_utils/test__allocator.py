# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Moving a node between the device plugin and the DRA driver: deploy labels, the KEP-5004 DeviceClasses per MIG profile,
what a node advertises, other drivers' slices, and when a move is complete."""

from __future__ import annotations

import os
import re
import sys

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._allocator import (
    advertised_gpu_resources, check_device_classes, device_class, device_class_name, mig_profiles, other_driver_problem,
    target_labels, unfinished)
from ansible_collections.gpufleet.mig.plugins.module_utils._dra import DraError

sys.path.insert(0, os.path.join(os.environ.get('GPUFLEET_ROOT', os.getcwd()), 'tests', 'k8ssim'))
import sim_dra  # noqa: E402  pylint: disable=wrong-import-position


def _gi(profile, cis=1):
    return {'profile': profile, 'profile_id': 19, 'placement': {'start': 0}, 'compute_slices': 1,
            'compute_instances': [{'placement': {'size': 1}}] * cis}


def _gpu(mig, instances=()):
    return {'index': 0, 'minor_number': 0, 'mig_mode': {'current': mig}, 'gpu_instances': list(instances)}


def _class(name, expression, resource):
    return {'metadata': {'name': name}, 'spec': {'selectors': [{'cel': {'expression': expression}}], 'extendedResourceName': resource}}


PICK = "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].profile == '%s'"


@pytest.mark.parametrize('to, expected', [
    ('dra', {'nvidia.com/gpu.deploy.device-plugin': 'false', 'nvidia.com/gpu.deploy.dra-driver': 'true'}),
    ('device-plugin', {'nvidia.com/gpu.deploy.device-plugin': 'true', 'nvidia.com/gpu.deploy.dra-driver': 'false'}),
])
def test_target_labels(to, expected):
    assert target_labels(to) == expected


def test_target_labels_refuses_an_unknown_allocator_naming_the_valid_ones():
    with pytest.raises(ValueError, match=r"'gpu-operator' is not an allocator.*valid: dra, device-plugin"):
        target_labels('gpu-operator')


def test_mig_profiles_come_from_mig_devices_only():
    gpus = [_gpu(False), _gpu(True, [_gi('1g.5gb'), _gi('3g.20gb'), _gi('1g.5gb'), _gi('2g.10gb', cis=0)])]
    assert mig_profiles(gpus) == ['1g.5gb', '3g.20gb']


def test_device_class_is_one_the_simulated_scheduler_maps_and_whose_selector_picks_the_profile():
    item = device_class('1g.10gb+me')
    assert item['metadata']['name'] == device_class_name('1g.10gb+me') == 'mig-1g.10gb-me.nvidia.com'
    assert item['spec']['extendedResourceName'] == 'nvidia.com/mig-1g.10gb.me'
    assert check_device_classes(['1g.10gb+me'], [item]) == ([], [])
    # The simulated scheduler (KEP-5004) maps the resource to this class, and its CEL subset picks only the profile.
    assert sim_dra.extended_resource_classes([item])['nvidia.com/mig-1g.10gb.me'] == 'mig-1g.10gb-me.nvidia.com'
    mig = {'attributes': {'type': {'string': 'mig'}, 'profile': {'string': '1g.10gb+me'}}}
    other = {'attributes': {'type': {'string': 'mig'}, 'profile': {'string': '1g.10gb'}}}
    assert sim_dra.selectors_match(item['spec']['selectors'], 'gpu.nvidia.com', mig)
    assert not sim_dra.selectors_match(item['spec']['selectors'], 'gpu.nvidia.com', other)


def test_missing_classes_are_named_by_profile():
    classes = [_class('one', PICK % '1g.5gb', 'nvidia.com/mig-1g.5gb')] + sim_dra.DEFAULT_DEVICE_CLASSES
    assert check_device_classes(['1g.5gb', '3g.20gb'], classes) == (['3g.20gb'], [])


@pytest.mark.parametrize('expression, message', [
    (PICK % '3g.20gb', r'MIG profile 1g.5gb: DeviceClass c: its selector picks MIG devices of profile 3g.20gb, but it maps '
                       r'nvidia.com/mig-1g.5gb'),
    ("device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'mig'",
     r'does not pick MIG devices by profile.*another size'),
    ("device.driver == 'other.example.com' && device.attributes['gpu.nvidia.com'].profile == '1g.5gb'", r'driver other.example.com'),
    ("device.attributes['gpu.nvidia.com'].type == 'gpu' && device.attributes['gpu.nvidia.com'].profile == '1g.5gb'", r'type gpu, not mig'),
    ("device.capacity['gpu.nvidia.com'].memory.compareTo(quantity('5Gi')) >= 0", r'cannot tell which devices'),
])
def test_mismatched_classes_are_refused_naming_the_profile_and_what_is_wrong(expression, message):
    missing, problems = check_device_classes(['1g.5gb'], [_class('c', expression, 'nvidia.com/mig-1g.5gb')])
    assert missing == [] and len(problems) == 1
    assert re.search(message, problems[0]), problems


def test_a_right_class_beside_a_wrong_one_is_still_refused():
    classes = [_class('a', PICK % '1g.5gb', 'nvidia.com/mig-1g.5gb'), _class('b', PICK % '2g.10gb', 'nvidia.com/mig-1g.5gb')]
    missing, problems = check_device_classes(['1g.5gb'], classes)
    assert missing == [] and len(problems) == 1 and 'DeviceClass b' in problems[0]


def test_advertised_counts_only_nonzero_nvidia_resources():
    node = {'metadata': {'name': 'n'}, 'status': {'allocatable': {'cpu': '8', 'nvidia.com/gpu': '0', 'nvidia.com/mig-1g.5gb': '3'}}}
    assert advertised_gpu_resources(node) == {'nvidia.com/mig-1g.5gb': 3}
    with pytest.raises(DraError, match=r"allocatable nvidia.com/gpu is 'x'"):
        advertised_gpu_resources({'metadata': {'name': 'n'}, 'status': {'allocatable': {'nvidia.com/gpu': 'x'}}})


def test_other_drivers_slices_are_refused():
    slices = [{'spec': {'driver': 'gpu.nvidia.com'}}, {'spec': {'driver': 'gpu.example.com'}}]
    assert 'driver(s) gpu.example.com' in other_driver_problem('n', slices)
    assert other_driver_problem('n', slices[:1]) is None


def _state(dra=(), dp=(), advertised=None, devices=(), complete=True):
    return {'dra_pods': [{'name': n, 'running': r} for n, r in dra], 'device_plugin_pods': [{'name': n, 'running': r} for n, r in dp],
            'advertised': advertised or {}, 'published': {'devices': list(devices), 'complete': complete, 'dynamic': False}}


def test_move_to_dra_is_complete_only_with_one_plugin_nothing_advertised_and_exactly_the_devices():
    expected = ['gpu-0-mig-1g5gb-19-0']
    assert unfinished('dra', _state(dra=[('d', True)], devices=expected), expected) == []
    left = unfinished('dra', _state(dra=[('d', False)], dp=[('p', True)], advertised={'nvidia.com/mig-1g.5gb': 1}), expected)
    assert len(left) == 4
    assert 'device plugin still has pod(s) on the node: p' in left[0]
    assert 'no pod of NVIDIA\'s DRA kubelet plugin runs' in left[1]
    assert 'nvidia.com/mig-1g.5gb=1' in left[2]
    assert 'list no device, expected gpu-0-mig-1g5gb-19-0' in left[3]
    assert unfinished('dra', _state(dra=[('d', True)], devices=expected, complete=False), expected) != []


def test_move_to_device_plugin_waits_for_the_slices_to_go():
    assert unfinished('device-plugin', _state(dp=[('p', True)]), []) == []
    left = unfinished('device-plugin', _state(dp=[('p', True)], devices=['gpu-0']), [])
    assert left == ["its ResourceSlices of driver gpu.nvidia.com still list gpu-0"]
    assert 'DRA kubelet plugin still has pod(s)' in unfinished('device-plugin', _state(dra=[('d', True)], dp=[('p', True)]), [])[0]


def test_a_node_left_by_an_earlier_move_is_found_and_others_are_not():
    from ansible_collections.gpufleet.mig.plugins.module_utils._allocator import left_by_a_move
    state = 'nvidia.com/mig.config.state'
    assert left_by_a_move({state: 'failed'}, {'gpufleet.mig/failure-reason': 'moving to dra: Switch: timeout'}) == \
        'an earlier move failed: moving to dra: Switch: timeout'
    assert 'stopped while moving' in left_by_a_move({state: 'pending'}, {'gpufleet.mig/cordoned': 'true'})
    # A rollout's failure, an administrator's cordon, a converged node: not this playbook's to finish.
    assert left_by_a_move({state: 'failed'}, {'gpufleet.mig/failure-reason': 'Apply the layout: boom'}) is None
    assert left_by_a_move({state: 'pending'}, {}) is None
    assert left_by_a_move({state: 'success'}, None) is None and left_by_a_move(None, None) is None
