# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""driver_check and gpu_info on simulated RTX PRO boards whose vBIOS NVML reports (nvmlDeviceGetVbiosVersion), or not.

The MIG user guide gives a minimum vBIOS for the RTX PRO 6000 Workstation and Max-Q editions and the RTX PRO 5000
(mig.md 4.10); the fake NVML reports a per-GPU vBIOS set with ``simnode gpu --vbios`` and NOT_SUPPORTED without one.
"""

from __future__ import annotations

import pytest
from ansible.module_utils.common import warnings as ansible_warnings

from ansible_collections.gpufleet.mig.plugins.modules import driver_check, gpu_info

from modrun import run_module  # tests/unit/plugins/modules/modrun.py


@pytest.fixture(autouse=True)
def module_warnings(monkeypatch):
    """Module warnings as a module's result carries them: Ansible keeps them in a process-wide list (cleared here), and sends
    them to the controller's display instead once controller code has been imported into this process (other test files)."""
    monkeypatch.setattr(ansible_warnings._internal, 'is_controller', False)   # pylint: disable=protected-access
    ansible_warnings._global_warnings.clear()   # pylint: disable=protected-access


def warnings_of(result):
    return [w['event']['msg'] if isinstance(w, dict) else w for w in result.get('warnings') or []]


@pytest.mark.parametrize('key, vbios, minimum, ok', [
    ('RTX-PRO-6000-WS', '98.02.54.00.00', '98.02.55.00.00', False),
    ('RTX-PRO-6000-WS', '98.02.55.00.00', '98.02.55.00.00', True),
    ('RTX-PRO-6000-MAXQ', '98.02.69.00.00', '98.02.6A.00.00', False),
    ('RTX-PRO-6000-MAXQ', '98.02.6A.00.00', '98.02.6A.00.00', True),
    ('RTX-PRO-5000', '98.02.72.00.00', '98.02.73.00.00', False),
    ('RTX-PRO-5000', '98.02.A0.00.00', '98.02.73.00.00', True),
])
def test_driver_check_refuses_a_vbios_below_the_minimum(node, simnode, key, vbios, minimum, ok):
    state = node(key)
    simnode('gpu', state, '--gpu', 0, '--vbios', vbios)
    result = run_module(driver_check.main, {})
    assert result['gpus'][0]['vbios_version'] == vbios
    assert result['gpus'][0]['minimum_vbios'] == minimum
    if ok:
        assert not result.get('failed'), result
        assert warnings_of(result) == []
    else:
        assert result['failed'] is True
        assert result['problems'] == ['GPU 0 (%s) has vBIOS %s; MIG on %s needs vBIOS %s or newer (NVIDIA MIG user guide) (update the '
                                      'board firmware)' % (result['gpus'][0]['name'], vbios, key, minimum)]
    assert run_module(gpu_info.main, {})['node']['gpus'][0]['vbios_version'] == vbios


def test_driver_check_warns_where_nvml_does_not_report_the_vbios(node):
    node('RTX-PRO-5000')   # no vBIOS set: the fake answers NOT_SUPPORTED
    result = run_module(driver_check.main, {})
    assert not result.get('failed'), result
    assert result['gpus'][0]['vbios_version'] is None
    assert any('NVML does not report its vBIOS version, so it was not checked; MIG on RTX-PRO-5000 needs vBIOS 98.02.73.00.00'
               in warning for warning in warnings_of(result)), result
    assert run_module(gpu_info.main, {})['node']['gpus'][0]['vbios_version'] is None


def test_a_board_without_a_vbios_minimum_is_not_checked(node, simnode):
    state = node('RTX-PRO-6000-SE')
    simnode('gpu', state, '--gpu', 0, '--vbios', '01.00.00.00.00')
    result = run_module(driver_check.main, {})
    assert not result.get('failed') and warnings_of(result) == [], result
    assert result['gpus'][0]['minimum_vbios'] is None
