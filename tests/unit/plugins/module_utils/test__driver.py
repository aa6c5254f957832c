# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._driver import DriverPolicy, check_driver
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import GpuState, HostState

BOARDS = {
    'A100': (0x20B010DE, 'NVIDIA A100-SXM4-40GB', True),
    'A30': (0x20B710DE, 'NVIDIA A30', True),
    'H100': (0x233010DE, 'NVIDIA H100 80GB HBM3', True),
    'H200': (0x233510DE, 'NVIDIA H200', True),
    'B200': (0x290110DE, 'NVIDIA B200', True),
    'L40S': (0x26B910DE, 'NVIDIA L40S', False),
    'MYSTERY': (0x999910DE, 'NVIDIA Future GPU', True),
}


def node(driver, *boards):
    gpus = []
    for index, board in enumerate(boards):
        pci, name, mig = BOARDS[board]
        gpus.append(GpuState(index=index, uuid='GPU-%d' % index, name=name, pci_bus_id='b', pci_device_id=pci,
                             pci_subsystem_id=0, memory_total_mib=1, architecture=None, compute_capability=None,
                             mig_capable=mig, mig_current=False if mig else None, mig_pending=False if mig else None))
    return HostState(driver_version=driver, cuda_driver_version=None, nvml_version=None, gpus=tuple(gpus))


@pytest.mark.parametrize('board, too_old, new_enough, minimum', [
    ('A100', '450.80.01', '450.80.02', '450.80.02'),
    ('A30', '460.32.03', '460.73.01', '460.73.01'),
    ('H100', '520.61.05', '525.85.12', '525.85.12'),
    ('H200', '550.54.15', '550.90.07', '550.90.07'),
    ('B200', '570.124.06', '570.133.20', '570.133.20'),
])
def test_hardware_minimum_per_board(board, too_old, new_enough, minimum):
    bad = check_driver(node(too_old, board), DriverPolicy())
    assert not bad.ok
    assert bad.gpus[0].minimum_driver == minimum
    assert bad.problems[0].endswith('needs driver %s or newer for MIG on %s; the node has %s'
                                    % (minimum, bad.gpus[0].model, too_old))
    assert check_driver(node(new_enough, board), DriverPolicy()).ok


def test_profile_minimum_raises_the_floor_only_where_the_profile_exists():
    report = check_driver(node('465.19.01', 'A100', 'A30'), DriverPolicy(profiles=('1g.5gb+me',)))
    assert [g.minimum_driver for g in report.gpus] == ['R470', '460.73.01']
    assert report.gpus[0].minimum_reason == 'profile 1g.5gb+me on A100-SXM4-40GB'
    assert report.problems == ('GPU 0 (NVIDIA A100-SXM4-40GB) needs driver R470 or newer for profile 1g.5gb+me '
                               'on A100-SXM4-40GB; the node has 465.19.01',)


def test_profile_not_offered_anywhere_is_a_problem():
    report = check_driver(node('550.54.15', 'A100', 'L40S'), DriverPolicy(profiles=('2g.12gb',)))
    assert report.problems == ('profile 2g.12gb is not offered by any MIG GPU on this node '
                               '(GPU models: A100-SXM4-40GB, L40S)',)


def test_non_mig_gpus_have_no_minimum_and_unknown_boards_warn():
    report = check_driver(node('390.10', 'L40S', 'MYSTERY'), DriverPolicy())
    assert report.ok
    assert [g.minimum_driver for g in report.gpus] == [None, None]
    assert len(report.warnings) == 1
    assert 'PCI id 0x999910DE is not in the GPU catalog' in report.warnings[0]


@pytest.mark.parametrize('policy, problem', [
    (DriverPolicy(allowed_branches=('535', 'R545')),
     'driver 550.54.15 is from branch R550, which is not among the allowed branches R535, R545'),
    (DriverPolicy(pinned_version='550.54.14'), 'driver 550.54.15 is not the pinned version 550.54.14'),
    (DriverPolicy(minimum_version='550.90.07'), 'driver 550.54.15 is older than the required minimum 550.90.07'),
])
def test_site_policy(policy, problem):
    report = check_driver(node('550.54.15', 'A100'), policy)
    assert report.problems == (problem,)


def test_site_policy_satisfied():
    policy = DriverPolicy(allowed_branches=('R550',), pinned_version='550.54.15', minimum_version='R550')
    assert check_driver(node('550.54.15', 'A100'), policy).ok


@pytest.mark.parametrize('policy, message', [
    (DriverPolicy(minimum_version='latest'), "minimum_version: "),
    (DriverPolicy(pinned_version='5x0'), "pinned_version: "),
    (DriverPolicy(allowed_branches=('550.54',)), "allowed_branches: '550.54' is not a driver branch"),
    (DriverPolicy(profiles=('big-slice',)), "profiles: "),
])
def test_policy_validation_names_the_bad_value(policy, message):
    with pytest.raises(ValueError) as exc:
        policy.validate()
    assert str(exc.value).startswith(message)
