# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""mig_layout end to end on simulated nodes of the models added for NVIDIA's default configs (issue 18 item 8).

The fake NVML presents each model from the catalog (tests/simulator/gen_models.py); the module validates, plans and applies
through the real pynvml, and what NVML then holds is read back.
"""

from __future__ import annotations

import collections

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml
from ansible_collections.gpufleet.mig.plugins.modules import gpu_info, mig_layout

from modrun import run_module  # tests/unit/plugins/modules/modrun.py


def _apply(tmp_path, layout):
    return run_module(mig_layout.main, {'layout': layout, 'checkpoint': str(tmp_path / 'checkpoint.json')})


def _instances():
    with Nvml() as nvml:
        gpu = nvml.read_host().gpus[0]
    return gpu, sorted((gi.profile, gi.start, gi.size) for gi in gpu.gpu_instances)


def test_rtx_pro_6000_takes_a_layout_with_gfx_me_all_and_no_me_profiles(node, tmp_path):
    node('RTX-PRO-6000-SE')
    result = _apply(tmp_path, {'devices': 'all', 'mig-enabled': True,
                               'mig-devices': {'2g.48gb+gfx': 1, '1g.24gb-me': 1, '1g.24gb': 1}})
    assert not result.get('failed'), result
    assert result['changed'] is True
    gpu, instances = _instances()
    assert gpu.model == 'RTX-PRO-6000-SE'
    # 12 memory placement units: the 2g (6 units) at 0 or 6, each 1g (3 units) in one of the two others.
    assert sorted(i[0] for i in instances) == ['1g.24gb', '1g.24gb-me', '2g.48gb+gfx']
    starts = dict((i[0], (i[1], i[2])) for i in instances)
    assert starts['2g.48gb+gfx'][1] == 6 and starts['1g.24gb'][1] == 3 and starts['1g.24gb-me'][1] == 3
    assert len({start for start, size in starts.values()}) == 3
    # applying it again changes nothing
    assert _apply(tmp_path, {'devices': 'all', 'mig-enabled': True,
                             'mig-devices': {'2g.48gb+gfx': 1, '1g.24gb-me': 1, '1g.24gb': 1}})['changed'] is False


def test_rtx_pro_6000_refuses_me_all_with_another_media_instance(node, tmp_path):
    node('RTX-PRO-6000-SE')
    result = _apply(tmp_path, {'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.24gb+me.all': 1, '1g.24gb': 1}})
    assert result['failed'] is True
    assert 'need 5 JPEG' in result['msg'], result['msg']
    assert _instances()[1] == []


def test_rtx_pro_6000_pinned_placements(node, tmp_path):
    node('RTX-PRO-6000-SE')
    result = _apply(tmp_path, {'devices': 'all', 'mig-enabled': True, 'placements': [
        {'profile': '1g.24gb+me.all', 'start': 9}, {'profile': '1g.24gb-me', 'start': 0}, {'profile': '1g.24gb-me', 'start': 3},
        {'profile': '1g.24gb-me', 'start': 6}]})
    assert not result.get('failed'), result
    assert _instances()[1] == [('1g.24gb+me.all', 9, 3), ('1g.24gb-me', 0, 3), ('1g.24gb-me', 3, 3), ('1g.24gb-me', 6, 3)]


def test_gb200_applies_the_balanced_layout_and_the_early_board_name(node, tmp_path):
    node('GB200')
    result = _apply(tmp_path, {'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.23gb': 2, '2g.47gb': 1, '3g.93gb': 1}})
    assert not result.get('failed'), result
    assert [i[0] for i in _instances()[1]] == ['1g.23gb', '1g.23gb', '2g.47gb', '3g.93gb']
    # 1g.24gb, the name early GB200 boards reported for 1g.23gb, resolves with a warning (DOCUMENTED_DRIFT)
    result = _apply(tmp_path, {'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.24gb': 7}})
    assert not result.get('failed'), result
    assert [i[0] for i in _instances()[1]] == ['1g.23gb'] * 7
    assert any('1g.24gb is a documented driver name for 1g.23gb on GB200' in w for w in result['gpus'][0]['warnings']), result


@pytest.mark.parametrize('key,mig_devices', [
    ('GB300', {'1g.35gb': 2, '2g.70gb': 1, '3g.139gb': 1}),
    ('B300', {'7g.269gb': 1}),
    ('GH200-144G', {'1g.36gb': 4}),
    ('H20', {'3g.48gb': 2}),
    ('H100-SXM5-94GB', {'4g.47gb': 1, '3g.47gb': 1}),
])
def test_the_other_new_models_take_their_labels(node, tmp_path, key, mig_devices):
    node(key)
    result = _apply(tmp_path, {'devices': 'all', 'mig-enabled': True, 'mig-devices': mig_devices})
    assert not result.get('failed'), result
    gpu, instances = _instances()
    assert gpu.model == key
    assert collections.Counter(profile for profile, dummy, dummy2 in instances) == mig_devices


@pytest.mark.parametrize('key', ['RTX-PRO-6000-SE', 'GB200'])
def test_gpu_info_reports_the_applied_layout(node, tmp_path, key):
    node(key)
    layout = {'RTX-PRO-6000-SE': {'1g.24gb+me.all': 1, '1g.24gb-me': 3}, 'GB200': {'4g.93gb': 1, '3g.93gb': 1}}[key]
    assert not _apply(tmp_path, {'devices': 'all', 'mig-enabled': True, 'mig-devices': layout}).get('failed')
    info = run_module(gpu_info.main, {})
    assert not info.get('failed'), info
    gpu = info['node']['gpus'][0]
    assert gpu['model'] == key
    assert gpu['layout']['mig-devices'] == layout


@pytest.mark.parametrize('key,mig_devices,sizes', [
    # a 2-slice board: two 1g (3 memory units each) or one 2g (all 6)
    ('RTX-PRO-5000', {'1g.24gb+me.all': 1, '1g.24gb-me': 1}, [3, 3]),
    ('RTX-PRO-5000', {'2g.48gb+gfx': 1}, [6]),
    ('RTX-PRO-4500', {'1g.16gb+gfx': 1, '1g.16gb': 1}, [3, 3]),
    # the RTX PRO 6000 Workstation Edition takes the Server Edition's table
    ('RTX-PRO-6000-WS', {'2g.48gb-me': 1, '1g.24gb+gfx': 2}, [3, 3, 6]),
])
def test_the_other_rtx_pro_boards_take_their_layouts(node, tmp_path, key, mig_devices, sizes):
    node(key)
    layout = {'devices': 'all', 'mig-enabled': True, 'mig-devices': mig_devices}
    result = _apply(tmp_path, layout)
    assert not result.get('failed'), result
    gpu, instances = _instances()
    assert gpu.model == key
    assert collections.Counter(profile for profile, dummy, dummy2 in instances) == mig_devices
    assert sorted(size for dummy, dummy2, size in instances) == sizes
    assert len({start for dummy, start, dummy2 in instances}) == len(instances)
    assert _apply(tmp_path, layout)['changed'] is False


def test_a_2_slice_board_refuses_a_third_instance(node, tmp_path):
    node('RTX-PRO-5000')
    result = _apply(tmp_path, {'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.24gb': 1, '2g.48gb': 1}})
    assert result['failed'] is True
    assert 'RTX-PRO-5000' in result['msg'], result['msg']
    assert _instances()[1] == []


@pytest.mark.parametrize('key,name,device_id,memory,extra', [
    # shares 0x2BB3 with the 48GB board; the memory total tells them apart, and the 72GB board's profiles are in no source
    ('RTX-PRO-5000-72GB', 'NVIDIA RTX PRO 5000 72GB Blackwell', '0x2BB310DE', 73000,
     'PCI id 0x2BB3 is catalogued as RTX-PRO-5000 only for a memory total of 40960 to 61439 MiB'),
    ('H20-HBM3E', 'NVIDIA H20 HBM3e', '0x232C10DE', 143771, None),
])
def test_a_board_the_catalog_lacks_is_refused_before_any_change(node, tmp_path, key, name, device_id, memory, extra):
    state = node(key)
    result = _apply(tmp_path, {'devices': 'all', 'mig-enabled': True, 'mig-devices': {'1g.24gb': 2}})
    assert result['failed'] is True
    assert ('GPU 0 (%s, PCI id %s): mig-enabled is true but the GPU model is not in the catalog, so its layout cannot be validated '
            '(the GPU reports %d MiB of memory' % (name, device_id, memory)) in result['msg'], result['msg']
    if extra:
        assert extra in result['msg']
    gpu, instances = _instances()
    assert (gpu.model, instances) == (None, [])
    with open(state + '.calls') as handle:
        assert not [line for line in handle if line.split()[-1] == 'mut']
