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


# --------------------------------------------------------------------------------------------------
# Minimum vBIOS of the RTX PRO Workstation / Max-Q / 5000 boards (mig.md 4.10)
# --------------------------------------------------------------------------------------------------

VBIOS_BOARDS = {
    'RTX-PRO-6000-WS': (0x2BB110DE, 'NVIDIA RTX PRO 6000 Blackwell Workstation Edition', 97887),
    'RTX-PRO-6000-MAXQ': (0x2BB410DE, 'NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition', 97887),
    'RTX-PRO-5000': (0x2BB310DE, 'NVIDIA RTX PRO 5000 Blackwell', 48935),
    'RTX-PRO-6000-SE': (0x2BB510DE, 'NVIDIA RTX PRO 6000 Blackwell Server Edition', 97887),
}


def vbios_node(board, vbios, driver='580.65.06'):
    pci, name, memory = VBIOS_BOARDS[board]
    gpu = GpuState(index=0, uuid='GPU-0', name=name, pci_bus_id='b', pci_device_id=pci, pci_subsystem_id=0, memory_total_mib=memory,
                   architecture=10, compute_capability=(12, 0), mig_capable=True, mig_current=False, mig_pending=False,
                   vbios_version=vbios)
    return HostState(driver_version=driver, cuda_driver_version=None, nvml_version=None, gpus=(gpu,))


@pytest.mark.parametrize('board, too_old, new_enough, minimum', [
    ('RTX-PRO-6000-WS', '98.02.54.00.00', '98.02.55.00.00', '98.02.55.00.00'),
    ('RTX-PRO-6000-MAXQ', '98.02.69.00.00', '98.02.70.00.00', '98.02.6A.00.00'),
    ('RTX-PRO-6000-MAXQ', '98.02.69.ff.ff', '98.02.6a.00.00', '98.02.6A.00.00'),   # lower-case hex is the same number
    ('RTX-PRO-5000', '98.02.72.FF.FF', '98.02.73.00.00', '98.02.73.00.00'),
    ('RTX-PRO-5000', '97.FF.FF.00.00', '98.03.00.00.00', '98.02.73.00.00'),
])
def test_a_vbios_below_the_minimum_is_refused(board, too_old, new_enough, minimum):
    bad = check_driver(vbios_node(board, too_old), DriverPolicy())
    pci, name, dummy = VBIOS_BOARDS[board]
    assert bad.problems == ('GPU 0 (%s) has vBIOS %s; MIG on %s needs vBIOS %s or newer (NVIDIA MIG user guide) (update the board '
                            'firmware)' % (name, too_old, board, minimum),)
    assert (bad.gpus[0].vbios_version, bad.gpus[0].minimum_vbios) == (too_old, minimum)
    assert bad.gpus[0].to_dict()['minimum_vbios'] == minimum
    good = check_driver(vbios_node(board, new_enough), DriverPolicy())
    assert good.ok and good.warnings == ()


def test_vbios_fields_compare_as_hex_numbers_not_as_text():
    report = check_driver(vbios_node('RTX-PRO-6000-MAXQ', '98.02.9F.00.00'), DriverPolicy())
    assert report.ok   # 0x9F >= 0x6A; decimal parsing could not read 6A at all
    report = check_driver(vbios_node('RTX-PRO-6000-MAXQ', '98.2.0.0.0'), DriverPolicy())
    assert not report.ok   # (0x98, 2, 0) < (0x98, 2, 0x6A), although '98.2.0.0.0' sorts after '98.02.6A.00.00' as text


@pytest.mark.parametrize('vbios, warning', [
    (None, 'GPU 0 (NVIDIA RTX PRO 5000 Blackwell): NVML does not report its vBIOS version, so it was not checked; MIG on '
           'RTX-PRO-5000 needs vBIOS 98.02.73.00.00 or newer (NVIDIA MIG user guide)'),
    ('98.02.7G.00.00', "GPU 0 (NVIDIA RTX PRO 5000 Blackwell): invalid vBIOS version '98.02.7G.00.00': expected dot-separated "
                       "hexadecimal fields such as 98.02.6A.00.00, so it was not checked; MIG on RTX-PRO-5000 needs vBIOS "
                       "98.02.73.00.00 or newer (NVIDIA MIG user guide)"),
])
def test_an_unknown_vbios_is_a_warning_not_a_refusal(vbios, warning):
    report = check_driver(vbios_node('RTX-PRO-5000', vbios), DriverPolicy())
    assert report.ok
    assert report.warnings == (warning,)


def test_boards_without_a_vbios_minimum_are_not_checked():
    for vbios in (None, '01.00.00.00.00', 'garbage'):
        report = check_driver(vbios_node('RTX-PRO-6000-SE', vbios), DriverPolicy())
        assert report.ok and report.warnings == (), vbios
        assert report.gpus[0].minimum_vbios is None
    # the driver minimum still applies beside the vBIOS one, and both are reported
    report = check_driver(vbios_node('RTX-PRO-5000', '98.02.00.00.00', driver='575.51.03'), DriverPolicy())
    assert len(report.problems) == 2
    assert 'needs driver 575.57.08 or newer for MIG on RTX-PRO-5000' in report.problems[0]
    assert 'has vBIOS 98.02.00.00.00' in report.problems[1]
