# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for the layout spec: mig-parted config parsing, inline layouts and per-GPU validation."""

from __future__ import annotations

import dataclasses
import os
import sys

import pytest
import yaml

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils import _gpu_targets, _layout_spec
from ansible_collections.gpufleet.mig.plugins.module_utils import _planner
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import ComputeInstance, GpuInstance, GpuState, layout_of
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import GpuLayout, InstanceSpec, LayoutError

FIXTURE = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'mig-parted-default-config.yaml')
with open(FIXTURE, encoding='utf-8') as _handle:
    DEFAULT_TEXT = _handle.read()
DEFAULT = yaml.safe_load(DEFAULT_TEXT)
LABELS = list(DEFAULT['mig-configs'])
MIG_MODELS = [m for m in _catalog.MODELS if m.mig_capable]
PARSED = dict((label, _layout_spec.parse_mig_parted_config(DEFAULT, label)) for label in LABELS)


def model(key):
    return _catalog.model_by_key(key)


def make_gpu(key, index=0, instances=(), subsystem=0, mig=True):
    m = model(key)
    return GpuState(index=index, uuid='GPU-%d' % index, name=m.names[0], pci_bus_id='00000000:%02X:00.0' % index,
                    pci_device_id=(m.pci_device_ids[0] << 16) | 0x10DE, pci_subsystem_id=subsystem, memory_total_mib=m.memory_mib,
                    architecture=m.nvml_architecture, compute_capability=m.compute_capability, mig_capable=m.mig_capable,
                    mig_current=mig if m.mig_capable else None, mig_pending=mig if m.mig_capable else None,
                    gpu_instances=tuple(instances), model=m.key)


def entry(mig_devices, **extra):
    data = {'devices': 'all', 'mig-enabled': True, 'mig-devices': mig_devices}
    data.update(dict((k.replace('_', '-'), v) for k, v in extra.items()))
    return data


def problems_of(call, *args, **kwargs):
    with pytest.raises(LayoutError) as info:
        call(*args, **kwargs)
    assert str(info.value) == '; '.join(info.value.problems)
    return info.value.problems


# --------------------------------------------------------------------------------------------------
# The default config (fixture transcribed from mig.md 2.1)
# --------------------------------------------------------------------------------------------------

# Which catalog models each label is meant for (the table's comment column and the entries' device filters).
A100_40 = ('A100-SXM4-40GB', 'A100-PCIE-40GB')
G80 = ('A100-SXM4-80GB', 'A100-PCIE-80GB', 'H100-SXM5-80GB', 'H100-PCIE-80GB')
MEANT_FOR = {
    'all-disabled': tuple(m.key for m in MIG_MODELS),
    'all-enabled': tuple(m.key for m in MIG_MODELS),
    'all-balanced': tuple(m.key for m in MIG_MODELS),
    'all-1g.10gb': A100_40 + G80,
    'all-1g.5gb': A100_40, 'all-1g.5gb.me': A100_40, 'all-2g.10gb': A100_40, 'all-3g.20gb': A100_40, 'all-4g.20gb': A100_40,
    'all-7g.40gb': A100_40,
    'all-1g.10gb.me': G80, 'all-1g.20gb': G80, 'all-2g.20gb': G80, 'all-3g.40gb': G80, 'all-4g.40gb': G80, 'all-7g.80gb': G80,
    'all-1g.6gb': ('A30',), 'all-1g.6gb.me': ('A30',), 'all-2g.12gb': ('A30',), 'all-2g.12gb.me': ('A30',), 'all-4g.24gb': ('A30',),
    'all-1g.12gb': ('H100-NVL', 'GH200-96GB'), 'all-1g.12gb.me': ('H100-NVL', 'GH200-96GB'), 'all-1g.24gb': ('H100-NVL', 'GH200-96GB'),
    'all-2g.24gb': ('H100-NVL', 'GH200-96GB'),
    'all-3g.47gb': ('H100-NVL',), 'all-4g.47gb': ('H100-NVL',), 'all-7g.94gb': ('H100-NVL',),
    'all-3g.48gb': ('GH200-96GB',), 'all-4g.48gb': ('GH200-96GB',), 'all-7g.96gb': ('GH200-96GB',),
    'all-1g.18gb': ('H200-141GB',), 'all-1g.18gb.me': ('H200-141GB',), 'all-1g.35gb': ('H200-141GB',), 'all-2g.35gb': ('H200-141GB',),
    'all-3g.71gb': ('H200-141GB',), 'all-4g.71gb': ('H200-141GB',), 'all-7g.141gb': ('H200-141GB',),
    'all-1g.23gb': ('B200',), 'all-1g.23gb.me': ('B200',), 'all-1g.45gb': ('B200',), 'all-2g.45gb': ('B200',), 'all-3g.90gb': ('B200',),
    'all-4g.90gb': ('B200',), 'all-7g.180gb': ('B200',),
}
# Issue 18 item 8: the models added for NVIDIA's default configs. H100 SXM5 94GB and H20 take the 94GB / 96GB Hopper labels;
# NVIDIA's all-balanced has no entry for the H100 SXM5 94GB (0x2339), so it selects none of its GPUs.
for _label, _keys in (
        (('all-1g.12gb', 'all-1g.12gb.me', 'all-1g.24gb', 'all-2g.24gb'), ('H100-SXM5-94GB', 'H20')),
        (('all-3g.47gb', 'all-4g.47gb', 'all-7g.94gb'), ('H100-SXM5-94GB',)),
        (('all-3g.48gb', 'all-4g.48gb', 'all-7g.96gb'), ('H20',)),
        (('all-1g.18gb', 'all-1g.18gb.me', 'all-1g.36gb', 'all-2g.36gb', 'all-3g.72gb', 'all-4g.72gb', 'all-7g.144gb'), ('GH200-144G',)),
        (('all-1g.23gb', 'all-1g.23gb.me', 'all-1g.47gb', 'all-2g.47gb', 'all-3g.93gb', 'all-4g.93gb', 'all-7g.186gb'), ('GB200',)),
        (('all-1g.34gb', 'all-1g.34gb.me', 'all-1g.67gb', 'all-2g.67gb', 'all-3g.135gb', 'all-4g.135gb', 'all-7g.269gb'), ('B300',)),
        (('all-1g.35gb', 'all-1g.35gb.me', 'all-1g.70gb', 'all-2g.70gb', 'all-3g.139gb', 'all-4g.139gb', 'all-7g.278gb'), ('GB300',)),
        (('all-1g.24gb', 'all-1g.24gb.me', 'all-1g.24gb.gfx', 'all-1g.24gb.me.all', 'all-1g.24gb-me', 'all-2g.48gb', 'all-2g.48gb.gfx',
          'all-2g.48gb.me.all', 'all-2g.48gb-me', 'all-4g.96gb', 'all-4g.96gb.gfx'), ('RTX-PRO-6000-SE', 'RTX-PRO-6000-WS', 'RTX-PRO-6000-MAXQ')),
        # the RTX PRO 5000 has these two 6000 profiles under the same names, once each (mig.md 4.10)
        (('all-1g.24gb.me', 'all-1g.24gb.me.all'), ('RTX-PRO-5000',))):
    for _one in _label:
        MEANT_FOR[_one] = MEANT_FOR.get(_one, ()) + _keys
# NVIDIA's all-balanced has no entry for the H100 SXM5 94GB (0x2339) or the RTX PRO boards other than 0x2BB5.
MEANT_FOR['all-balanced'] = tuple(key for key in MEANT_FOR['all-balanced']
                                  if key not in ('H100-SXM5-94GB', 'RTX-PRO-6000-WS', 'RTX-PRO-6000-MAXQ', 'RTX-PRO-5000', 'RTX-PRO-4500'))
# Labels that use a name DOCUMENTED_DRIFT lists for the board: accepted with the drift warning. all-1g.24gb (1g.24gb x 4, an
# H100 NVL / GH200 name) is the name early GB200 boards gave their 1g.23gb profile, and 4 of them fit.
DRIFTED = {('all-1g.24gb', 'GB200'): ('1g.24gb', '1g.23gb')}
# A driver new enough for every model of the catalog (GB300 needs R595).
NEWEST_MINIMUM = max((m.min_driver for m in MIG_MODELS), key=_catalog.parse_driver_version)
# Labels whose filtered entries select only some models: on other models they select no GPU, which is refused (issue 18
# item 10: the node would be labelled with a config that changed nothing).
FILTERED = ('all-1g.10gb', 'all-1g.35gb', 'all-balanced')
# Every other label meant for other boards is refused by name, also where a profile of the same slice class and a close
# GB figure exists (all-3g.72gb, a GH200 144G name, on an H200; all-3g.93gb, a GB200 name, on a B200); these used to be
# adapted "by drift" with a warning (issue 18 item 9). No label of this config uses a drifted name documented for the
# board it would run on (_catalog.DOCUMENTED_DRIFT).
SAME_CLASS_ELSEWHERE = {
    ('all-1g.24gb', 'B200'), ('all-1g.24gb.me', 'B200'),
    ('all-3g.47gb', 'GH200-96GB'), ('all-4g.47gb', 'GH200-96GB'), ('all-7g.94gb', 'GH200-96GB'),
    ('all-3g.48gb', 'H100-NVL'), ('all-4g.48gb', 'H100-NVL'), ('all-7g.96gb', 'H100-NVL'),
    ('all-1g.36gb', 'H200-141GB'), ('all-2g.36gb', 'H200-141GB'), ('all-3g.72gb', 'H200-141GB'), ('all-4g.72gb', 'H200-141GB'),
    ('all-7g.144gb', 'H200-141GB'),
    ('all-1g.47gb', 'B200'), ('all-2g.47gb', 'B200'), ('all-3g.93gb', 'B200'), ('all-4g.93gb', 'B200'), ('all-7g.186gb', 'B200'),
    ('all-3g.95gb', 'B200'), ('all-4g.95gb', 'B200'), ('all-7g.189gb', 'B200'),
}


def test_fixture_has_every_label_of_the_table():
    assert len(LABELS) == 81
    assert LABELS[:3] == ['all-disabled', 'all-enabled', 'all-1g.5gb']
    assert LABELS[-1] == 'all-balanced'
    assert len(DEFAULT['mig-configs']['all-balanced']) == 12


def test_the_fixture_text_parses_as_yaml():
    assert _layout_spec.parse_mig_parted_config(DEFAULT_TEXT, 'all-balanced') == _layout_spec.parse_mig_parted_config(DEFAULT, 'all-balanced')


@pytest.mark.parametrize('label', LABELS)
def test_every_label_of_the_default_config_parses(label):
    entries = _layout_spec.parse_mig_parted_config(DEFAULT, label)
    raw = DEFAULT['mig-configs'][label]
    assert len(entries) == len(raw)
    for parsed, original in zip(entries, raw):
        assert parsed['devices'] == 'all'
        assert parsed['mig-enabled'] is original['mig-enabled']
        assert parsed['mig-devices'] == original.get('mig-devices', {})
        assert (parsed['placements'], parsed['device-selector']) == (None, None)
    # parsing the parsed data again changes nothing
    assert _layout_spec.parse_inline_layout(entries) == entries


def test_parsed_entries_are_normalised():
    assert _layout_spec.parse_mig_parted_config(DEFAULT, 'all-balanced')[10] == {
        'devices': 'all', 'device-filter': ('0x20B710DE',), 'mig-enabled': True,
        'mig-devices': {'1g.6gb': 2, '2g.12gb': 1}, 'placements': None, 'device-selector': None,
    }


def _expected_outcome(label, key):
    if (label, key) in DRIFTED:
        return 'drift'
    if key in MEANT_FOR.get(label, ()):
        return 'ok'
    if label in FILTERED:
        return 'none'
    return 'reject'


@pytest.mark.parametrize('label', LABELS)
@pytest.mark.parametrize('key', [m.key for m in MIG_MODELS])
def test_default_label_on_each_model(label, key):
    entries = PARSED[label]
    gpus = [make_gpu(key, 0), make_gpu(key, 1)]
    expected = _expected_outcome(label, key)
    m = model(key)
    if expected == 'reject':
        problems = problems_of(_gpu_targets.targets_for_gpus, entries, gpus, NEWEST_MINIMUM)
        text = '; '.join(problems)
        for name in entries[0]['mig-devices']:
            try:
                m.resolve_profile(name)
            except _catalog.UnknownProfileError:
                hint = m.unknown_profile_hint(name)
                assert hint is not None or (label, key) not in SAME_CLASS_ELSEWHERE
                assert "GPU 0 (%s): unknown MIG profile %r; valid profiles on %s: %s%s" % (
                    key, name, key, ', '.join(m.profile_names), ' (%s)' % hint if hint else '') in problems
                break
        else:
            assert 'at most' in text or 'no placement fits' in text
        return
    if expected == 'none':
        problems = problems_of(_gpu_targets.targets_for_gpus, entries, gpus, NEWEST_MINIMUM)
        assert problems == (_gpu_targets._selects_nothing(entries, gpus),)
        assert problems[0].startswith("the layout selects none of this node's GPUs, so it would change nothing while the node is "
                                      "labelled with it: the node has GPUs 0, 1 (%s, PCI id 0x%04X10DE); the layout selects entry 1: "
                                      "device-filter [" % (m.names[0], m.pci_device_ids[0]))
        assert all(f in problems[0] for e in entries for f in e['device-filter'])
        return
    targets = _gpu_targets.targets_for_gpus(entries, gpus, NEWEST_MINIMUM)
    if expected == 'drift':
        drifted, canonical = DRIFTED[(label, key)]
        assert [spec.profile for spec in targets[0].layout.instances] == [canonical] * entries[0]['mig-devices'][drifted]
        assert targets[0].warnings == ('GPU 0 (%s): %s' % (key, m.resolve_profile(drifted)[1]),)
        return
    assert sorted(targets) == [0, 1]
    target = targets[0]
    assert target.model == key
    assert target.warnings == ()
    matched = [e for e in entries if not e['device-filter'] or any(f.startswith('0x%04X' % model(key).pci_device_ids[0]) for f in e['device-filter'])]
    wanted = matched[-1]
    assert target.layout.mig_enabled is wanted['mig-enabled']
    counts = {}
    for spec in target.layout.instances:
        assert spec.compute == (spec.profile,)
        counts[spec.profile] = counts.get(spec.profile, 0) + 1
    assert counts == wanted['mig-devices']
    if target.layout.instances:
        assert _planner.find_placements(model(key), target.layout.instances) is not None


def test_balanced_targets_on_a_mixed_node_follow_the_device_filters():
    gpus = [make_gpu('A100-SXM4-40GB', 0), make_gpu('A30', 1), make_gpu('H100-SXM5-80GB', 2), make_gpu('L40S', 3)]
    targets = _gpu_targets.targets_for_gpus(PARSED['all-balanced'], gpus)
    assert sorted(targets) == [0, 1, 2]
    assert targets[0].layout == GpuLayout(True, (InstanceSpec('3g.20gb', ('3g.20gb',)), InstanceSpec('2g.10gb', ('2g.10gb',)),
                                                 InstanceSpec('1g.5gb', ('1g.5gb',)), InstanceSpec('1g.5gb', ('1g.5gb',))))
    assert [s.profile for s in targets[1].layout.instances] == ['2g.12gb', '1g.6gb', '1g.6gb']
    assert [s.profile for s in targets[2].layout.instances] == ['3g.40gb', '2g.20gb', '1g.10gb', '1g.10gb']


# --------------------------------------------------------------------------------------------------
# mig-parted strictness (mig.md 1.1, 1.2)
# --------------------------------------------------------------------------------------------------

def config(*entries, **labels):
    data = {'version': 'v1', 'mig-configs': dict(labels) if labels else {'only': list(entries)}}
    return data


def test_version_must_be_v1_and_top_level_keys_are_strict():
    assert problems_of(_layout_spec.parse_mig_parted_config, {'version': 'v2', 'mig-configs': {'a': [entry({})]}}) == (
        "version: unknown version 'v2'; only v1 is supported",)
    assert problems_of(_layout_spec.parse_mig_parted_config, {'mig-configs': {'a': [entry({})]}, 'extra': 1}) == (
        'unexpected field extra at the top level; valid keys: version, mig-configs', 'version: required; set version: v1')
    assert problems_of(_layout_spec.parse_mig_parted_config, {'version': 'v1', 'mig-configs': {}}) == ('mig-configs: at least one label is required',)


def test_label_selection():
    two = config(a=[entry({'1g.5gb': 1})], b=[entry({'2g.10gb': 1})])
    assert problems_of(_layout_spec.parse_mig_parted_config, two) == ('the config has 2 labels; select one of: a, b',)
    assert problems_of(_layout_spec.parse_mig_parted_config, two, 'c') == ("label 'c' is not in the config; labels: a, b",)
    assert _layout_spec.parse_mig_parted_config(two, 'b')[0]['mig-devices'] == {'2g.10gb': 1}
    assert _layout_spec.parse_mig_parted_config(config(entry({'1g.5gb': 1})))[0]['mig-devices'] == {'1g.5gb': 1}   # auto-selected
    assert problems_of(_layout_spec.parse_mig_parted_config, config(a=[entry({})], b=[]), 'a') == (
        'mig-configs.b: expected a non-empty list of entries',)


def test_devices_7_is_refused_like_mig_parted_44():
    assert problems_of(_layout_spec.parse_mig_parted_config, config(entry({}, devices=7))) == (
        'mig-configs.only[0].devices: 7 is invalid; write [7] (a list of GPU indices) or all (see mig-parted#44)',)
    assert problems_of(_layout_spec.parse_mig_parted_config, config(entry({}, devices='7'))) == (
        "mig-configs.only[0].devices: '7' is invalid: the only string allowed is 'all'; otherwise give a list of GPU indices such as [0, 1]",)
    assert problems_of(_layout_spec.parse_mig_parted_config, config({'mig-enabled': False})) == (
        "mig-configs.only[0].devices: required ('all' or a list of GPU indices)",)


def test_unknown_entry_keys_are_errors_naming_the_valid_keys():
    assert problems_of(_layout_spec.parse_mig_parted_config, config(entry({}, mig_device={'1g.5gb': 1}))) == (
        'mig-configs.only[0]: unknown key mig-device; valid keys: devices, device-filter, mig-enabled, mig-devices',)
    problems = problems_of(_layout_spec.parse_mig_parted_config, config(entry({}, placements=[])))
    assert problems == ('mig-configs.only[0]: unknown key placements (placements and device-selector are gpufleet.mig extensions, only '
                        'allowed in inline layouts); valid keys: devices, device-filter, mig-enabled, mig-devices',)


def test_mig_devices_rules():
    disabled = {'devices': 'all', 'mig-enabled': False, 'mig-devices': {'1g.5gb': 1}}
    assert problems_of(_layout_spec.parse_mig_parted_config, config(disabled)) == (
        "mig-configs.only[0].mig-devices: MIG devices included when 'mig-enabled' is false; remove mig-devices or set mig-enabled: true",)
    assert _layout_spec.parse_mig_parted_config(config({'devices': 'all', 'mig-enabled': False, 'mig-devices': {}}))[0]['mig-devices'] == {}
    assert problems_of(_layout_spec.parse_mig_parted_config, config({'devices': 'all', 'mig-enabled': True})) == (
        'mig-configs.only[0].mig-devices: required when mig-enabled is true (use {} for MIG on without instances)',)
    assert problems_of(_layout_spec.parse_mig_parted_config, config(entry({'1g.5gb': 0, '2g.10gb': 0}))) == (
        'mig-configs.only[0].mig-devices: all counts are zero; give at least one count > 0, or use {} for MIG on without instances',)
    assert _layout_spec.parse_mig_parted_config(config(entry({'1g.5gb': 0, '2g.10gb': 2})))[0]['mig-devices'] == {'2g.10gb': 2}
    assert problems_of(_layout_spec.parse_mig_parted_config, config(entry({'1g.5gb': -1, '2g.10gb': True}))) == (
        "mig-configs.only[0].mig-devices['1g.5gb']: count -1 is invalid: expected an integer >= 0",
        "mig-configs.only[0].mig-devices['2g.10gb']: count True is invalid: expected an integer >= 0")
    problems = problems_of(_layout_spec.parse_mig_parted_config, config(entry({'3g20gb': 1})))
    assert problems[0].startswith("mig-configs.only[0].mig-devices: invalid MIG profile name '3g20gb': expected ")
    assert problems_of(_layout_spec.parse_mig_parted_config, config({'devices': 'all', 'mig-enabled': 'yes', 'mig-devices': {}})) == (
        "mig-configs.only[0].mig-enabled: 'yes' is invalid: expected true or false",)


@pytest.mark.parametrize('bad', ['20B010DE', '0x20B0', '0x20B010DEX', '0x20B010DE:', '0x20B010DE:0x1', '0x20B010DE:0x134F10DE:0x0', 7])
def test_bad_filter_strings(bad):
    problems = problems_of(_layout_spec.parse_mig_parted_config, config(entry({}, device_filter=[bad])))
    assert problems == ("mig-configs.only[0].device-filter: %r is invalid: expected '0xDDDDVVVV' (device id then vendor 10DE, e.g. "
                        "'0x20B010DE') optionally followed by ':0xSSSSVVVV' (subsystem)" % (bad,),)


def test_yaml_and_json_text_and_missing_pyyaml(monkeypatch):
    assert _layout_spec.parse_mig_parted_config('{"version": "v1", "mig-configs": {"a": [{"devices": "all", "mig-enabled": false}]}}')[0][
        'mig-enabled'] is False
    monkeypatch.setitem(sys.modules, 'yaml', None)
    assert problems_of(_layout_spec.parse_mig_parted_config, DEFAULT_TEXT, 'all-disabled') == (
        'the config is not JSON, and reading YAML needs the Python package PyYAML, which is not installed; pass the config as parsed '
        'data or as JSON',)


# --------------------------------------------------------------------------------------------------
# Matching (assert.go WalkSelectedMigConfigForEachGPU)
# --------------------------------------------------------------------------------------------------

def test_device_filter_with_and_without_subsystem_qualifier():
    gpus = [make_gpu('A100-SXM4-40GB', 0, subsystem=0x134F10DE), make_gpu('A100-SXM4-40GB', 1, subsystem=0x145F10DE)]
    plain = [entry({'7g.40gb': 1}, device_filter='0x20b010de')]
    assert sorted(_gpu_targets.targets_for_gpus(plain, gpus)) == [0, 1]
    qualified = [entry({'7g.40gb': 1}, device_filter=['0x20B010DE:0x145F10DE'])]
    assert sorted(_gpu_targets.targets_for_gpus(qualified, gpus)) == [1]
    assert _layout_spec.parse_inline_layout(qualified)[0]['device-filter'] == ('0x20B010DE:0x145F10DE',)
    other = [entry({'7g.40gb': 1}, device_filter=['0x20B710DE'])]
    assert problems_of(_gpu_targets.targets_for_gpus, other, gpus) == (
        "the layout selects none of this node's GPUs, so it would change nothing while the node is labelled with it: the node has "
        "GPUs 0, 1 (NVIDIA A100-SXM4-40GB, PCI id 0x20B010DE); the layout selects entry 1: device-filter [0x20B710DE], devices all "
        "(the MIG-capable GPUs). Use a layout written for these GPUs",)
    # with a subsystem qualifier in a filter, the GPUs' subsystem ids are named too
    missed = [entry({'7g.40gb': 1}, device_filter=['0x20B010DE:0x999910DE'])]
    assert problems_of(_gpu_targets.targets_for_gpus, missed, gpus)[0].endswith(
        "the node has GPU 0 (NVIDIA A100-SXM4-40GB, PCI id 0x20B010DE:0x134F10DE); GPU 1 (NVIDIA A100-SXM4-40GB, PCI id "
        "0x20B010DE:0x145F10DE); the layout selects entry 1: device-filter [0x20B010DE:0x999910DE], devices all (the MIG-capable "
        "GPUs). Use a layout written for these GPUs")


# A label whose every entry's device-filter misses: applied as a no-op, the node would be labelled with it (issue 18 item 10).
@pytest.mark.parametrize('label, key, pci', [
    ('all-1g.10gb', 'A30', '0x20B710DE'),
    ('all-1g.10gb', 'H200-141GB', '0x233510DE'),
    ('all-1g.35gb', 'H100-SXM5-80GB', '0x233010DE'),
])
def test_a_label_that_selects_none_of_the_gpus_is_refused(label, key, pci):
    gpus = [make_gpu(key, i) for i in range(8)]
    problems = problems_of(_gpu_targets.targets_for_gpus, PARSED[label], gpus, '580.82.07')
    selects = '; '.join('entry %d: device-filter [%s], devices all (the MIG-capable GPUs)' % (n + 1, ', '.join(e['device-filter']))
                        for n, e in enumerate(PARSED[label]))
    assert problems == (
        "the layout selects none of this node's GPUs, so it would change nothing while the node is labelled with it: the node has "
        "GPUs 0, 1, 2, 3, 4, 5, 6, 7 (%s, PCI id %s); the layout selects %s. Use a layout written for these GPUs"
        % (model(key).names[0], pci, selects),)


def test_selecting_a_gpu_to_disable_mig_is_a_selection():
    a30 = [make_gpu('A30', 0), make_gpu('A30', 1)]
    deliberate = [entry({'1g.5gb': 7}, device_filter='0x20B010DE'), {'devices': 'all', 'device-filter': '0x20B710DE', 'mig-enabled': False}]
    assert _gpu_targets.targets_for_gpus(deliberate, a30) == dict((i, _gpu_targets.GpuTarget(i, 'A30', GpuLayout(False))) for i in (0, 1))
    # a GPU without MIG named by index with MIG off is selected too (it gets no target: it is in that state already)
    assert _gpu_targets.targets_for_gpus([{'devices': [0], 'mig-enabled': False}], [make_gpu('L40S', 0)]) == {}


def test_devices_all_on_a_node_without_mig_capable_gpus():
    # A label that only disables MIG asks for what such a node is already: no error, nothing to do (a fleet-wide
    # all-disabled must not stop the preflight at its L40S nodes).
    assert _gpu_targets.targets_for_gpus(PARSED['all-disabled'], [make_gpu('L40S', 0)]) == {}
    # One that enables MIG somewhere selects nothing there, and says so.
    problems = problems_of(_gpu_targets.targets_for_gpus, PARSED['all-1g.5gb'], [make_gpu('L40S', 0)])
    assert problems == (
        "the layout selects none of this node's GPUs, so it would change nothing while the node is labelled with it: the node has "
        "GPU 0 (NVIDIA L40S, PCI id 0x26B910DE, not MIG capable); the layout selects entry 1: devices all (the MIG-capable GPUs). "
        "Use a layout written for these GPUs",)
    # A filtered disable that misses a MIG-capable node is refused like any other label meant for other boards.
    misses = [{'devices': 'all', 'device-filter': '0x20B010DE', 'mig-enabled': False}]
    assert problems_of(_gpu_targets.targets_for_gpus, misses, [make_gpu('A30', 0)])[0].startswith(
        "the layout selects none of this node's GPUs")
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({})], []) == ('the layout selects no GPU: this node has none',)
    # a broken entry is reported as such, not also as selecting nothing
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({}, devices=[3])], [make_gpu('A30', 0)]) == (
        'entry 1: devices [3]: no GPU with index 3 on this node (GPU indices: 0)',)


def test_all_skips_non_mig_gpus_but_an_explicit_index_is_an_error():
    gpus = [make_gpu('A100-SXM4-40GB', 0), make_gpu('L40S', 1)]
    assert sorted(_gpu_targets.targets_for_gpus([entry({'7g.40gb': 1})], gpus)) == [0]
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({}, devices=[0, 1])], gpus) == (
        'GPU 1 (NVIDIA L40S): mig-enabled is true but this GPU is not MIG capable',)
    # MIG off on a non-MIG GPU is already true: no target, no error.
    assert sorted(_gpu_targets.targets_for_gpus([{'devices': [0, 1], 'mig-enabled': False}], gpus)) == [0]


def test_missing_index_and_unknown_model_are_errors():
    gpus = [make_gpu('A100-SXM4-40GB', 0)]
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({}, devices=[0, 3])], gpus) == (
        'entry 1: devices [0, 3]: no GPU with index 3 on this node (GPU indices: 0)',)
    # PG506-96GB (0x20B6) is in a filter group of NVIDIA's default config but not in the catalog.
    unknown = GpuState(index=0, uuid='GPU-x', name='NVIDIA PG506-96GB', pci_bus_id='0', pci_device_id=0x20B610DE, pci_subsystem_id=0,
                       memory_total_mib=1, architecture=9, compute_capability=(9, 0), mig_capable=True, mig_current=True, mig_pending=True)
    problems = problems_of(_gpu_targets.targets_for_gpus, [entry({'1g.12gb': 1})], [unknown])
    assert problems[0].startswith('GPU 0 (NVIDIA PG506-96GB, PCI id 0x20B610DE): mig-enabled is true but the GPU model is not in the catalog')
    # MIG off is not validated against the catalog, but a target always names a catalog model: no target.
    assert _gpu_targets.targets_for_gpus([{'devices': 'all', 'mig-enabled': False}], [unknown]) == {}


@pytest.mark.parametrize('name,device_id,memory,hint', [
    # one PCI id (0x2BB3) for the 48GB and the 72GB RTX PRO 5000; the 72GB board's MIG profiles are in no source
    ('NVIDIA RTX PRO 5000 72GB Blackwell', 0x2BB310DE, 73000,
     '; PCI id 0x2BB3 is catalogued as RTX-PRO-5000 only for a memory total of 40960 to 61439 MiB; this GPU reports 73000 MiB'),
    # the 141GB H20 (H20 HBM3e, 0x232C): its MIG profiles are in no NVIDIA config
    ('NVIDIA H20 HBM3e', 0x232C10DE, 143771, ')'),
])
def test_a_board_the_catalog_lacks_is_refused_naming_pci_id_name_and_memory(name, device_id, memory, hint):
    gpu = GpuState(index=0, uuid='GPU-x', name=name, pci_bus_id='0', pci_device_id=device_id, pci_subsystem_id=0,
                   memory_total_mib=memory, architecture=10, compute_capability=(12, 0), mig_capable=True, mig_current=True, mig_pending=True)
    problems = problems_of(_gpu_targets.targets_for_gpus, [entry({'1g.24gb': 2})], [gpu])
    assert len(problems) == 1
    assert problems[0].startswith('GPU 0 (%s, PCI id 0x%08X): mig-enabled is true but the GPU model is not in the catalog, so its layout '
                                  'cannot be validated (the GPU reports %d MiB of memory%s' % (name, device_id, memory, hint)), problems
    # the 48GB board with the same id is planned with its own table
    if device_id == 0x2BB310DE:
        small = dataclasses.replace(gpu, name='NVIDIA RTX PRO 5000 Blackwell', memory_total_mib=48 * 1024 - 1000)
        targets = _gpu_targets.targets_for_gpus([entry({'1g.24gb': 2})], [small])
        assert targets[0].model == 'RTX-PRO-5000'
        assert sorted(i.profile for i in targets[0].layout.instances) == ['1g.24gb', '1g.24gb']


def test_later_entry_overrides_earlier_for_the_same_gpu():
    gpus = [make_gpu('A100-SXM4-40GB', i) for i in range(3)]
    entries = [entry({'7g.40gb': 1}), entry({'3g.20gb': 2}, devices=[1]), {'devices': [2], 'mig-enabled': False}]
    targets = _gpu_targets.targets_for_gpus(entries, gpus)
    assert [s.profile for s in targets[0].layout.instances] == ['7g.40gb']
    assert [s.profile for s in targets[1].layout.instances] == ['3g.20gb', '3g.20gb']
    assert targets[2].layout == GpuLayout(False)


def test_unmatched_gpu_gets_no_target():
    gpus = [make_gpu('A100-SXM4-40GB', 0), make_gpu('A100-SXM4-40GB', 1)]
    assert sorted(_gpu_targets.targets_for_gpus([entry({}, devices=[1])], gpus)) == [1]


# --------------------------------------------------------------------------------------------------
# Validation against the catalog
# --------------------------------------------------------------------------------------------------

def test_drifted_name_resolves_with_a_warning():
    targets = _gpu_targets.targets_for_gpus([entry({'3g.39gb': 2})], [make_gpu('A100-SXM4-80GB')])
    assert [s.profile for s in targets[0].layout.instances] == ['3g.40gb', '3g.40gb']
    assert targets[0].warnings == (
        'GPU 0 (A100-SXM4-80GB): MIG profile 3g.39gb is a documented driver name for 3g.40gb on A100-SXM4-80GB (NVIDIA/mig-parted#31: '
        'drivers 535.x and 545.x named the A100 80GB 3g profile 3g.39gb; mig.md 4.6, 5.3); using 3g.40gb. Profile names are derived '
        'from driver-reported memory.',)


@pytest.mark.parametrize('key, name, same', [
    ('H200-141GB', '3g.72gb', "H200-141GB's 3g profile is 3g.71gb"),       # all-3g.72gb: a GH200 144G name
    ('H200-141GB', '7g.144gb', "H200-141GB's 7g profile is 7g.141gb"),     # all-7g.144gb: a GH200 144G name
    ('B200', '3g.93gb', "B200's 3g profile is 3g.90gb"),                   # all-3g.93gb: a GB200 name
    ('H100-SXM5-80GB', '3g.39gb', "H100-SXM5-80GB's 3g profile is 3g.40gb"),   # the 3g.39gb drift is documented for A100 80GB only
])
def test_a_name_of_another_board_is_refused_not_adapted(key, name, same):
    problems = problems_of(_gpu_targets.targets_for_gpus, [entry({name: 1})], [make_gpu(key)])
    assert problems == ("GPU 0 (%s): unknown MIG profile %r; valid profiles on %s: %s (%s; names of other boards and undocumented renames "
                        "are not adapted)" % (key, name, key, ', '.join(model(key).profile_names), same),)


def test_unknown_profile_lists_the_valid_names_and_all_problems_come_at_once():
    gpus = [make_gpu('A100-SXM4-80GB', 0), make_gpu('A30', 1)]
    problems = problems_of(_gpu_targets.targets_for_gpus, [entry({'2g.10gb': 1}, devices=[0]), entry({'1g.5gb': 8}, devices=[1])], gpus)
    assert problems == (
        "GPU 0 (A100-SXM4-80GB): unknown MIG profile '2g.10gb'; valid profiles on A100-SXM4-80GB: 1g.10gb, 1g.10gb+me, 1g.20gb, "
        "2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb (A100-SXM4-80GB's 2g profile is 2g.20gb; names of other boards and undocumented renames "
        "are not adapted)",
        "GPU 1 (A30): unknown MIG profile '1g.5gb'; valid profiles on A30: 1g.6gb, 1g.6gb+me, 2g.12gb, 2g.12gb+me, 4g.24gb (A30's 1g "
        "profile is 1g.6gb; names of other boards and undocumented renames are not adapted)",
    )


def test_too_many_instances():
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({'1g.5gb': 8})], [make_gpu('A100-SXM4-40GB')]) == (
        'GPU 0 (A100-SXM4-40GB): 8 instances of 1g.5gb requested; at most 7 fit on A100-SXM4-40GB',)
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({'1g.5gb+me': 2})], [make_gpu('A100-SXM4-40GB')]) == (
        'GPU 0 (A100-SXM4-40GB): 2 instances of 1g.5gb+me requested; at most 1 fit on A100-SXM4-40GB',)


def test_unfittable_multiset():
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({'3g.20gb': 2, '1g.5gb': 1})], [make_gpu('A100-SXM4-40GB')]) == (
        'GPU 0 (A100-SXM4-40GB): no placement fits the instances 3g.20gb, 3g.20gb, 1g.5gb on A100-SXM4-40GB (8 memory slices); '
        'valid starts: 1g.5gb [0, 1, 2, 3, 4, 5, 6]; 3g.20gb [0, 4]',)
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({'2g.12gb': 2, '1g.6gb': 1})], [make_gpu('A30')])[0].startswith(
        'GPU 0 (A30): no placement fits the instances 2g.12gb, 2g.12gb, 1g.6gb on A30 (4 memory slices)')


def test_pinned_starts_invalid_and_overlapping():
    placements = [{'profile': '3g.20gb', 'start': 2}, {'profile': '4g.20gb', 'start': 0}, {'profile': '2g.10gb', 'start': 2}]
    problems = problems_of(_gpu_targets.targets_for_gpus, [{'mig-enabled': True, 'placements': placements}], [make_gpu('A100-SXM4-40GB')])
    assert problems == (
        'GPU 0 (A100-SXM4-40GB): placement 1: 3g.20gb cannot start at memory slice 2; valid starts: 0, 4',
        'GPU 0 (A100-SXM4-40GB): pinned 4g.20gb at memory slice 0 (slices 0-3) overlaps pinned 2g.10gb at memory slice 2',
    )


def test_pinned_placements_are_kept_in_the_target():
    placements = [{'profile': '1g.5gb', 'start': 6}, {'profile': '3g.20gb'}, {'profile': '1g.5gb', 'start': 4}]
    targets = _gpu_targets.targets_for_gpus([{'mig-enabled': True, 'placements': placements}], [make_gpu('A100-SXM4-40GB')])
    assert targets[0].layout.instances == (InstanceSpec('1g.5gb', ('1g.5gb',), 4), InstanceSpec('1g.5gb', ('1g.5gb',), 6),
                                           InstanceSpec('3g.20gb', ('3g.20gb',)))
    plan = _planner.plan_gpu(model('A100-SXM4-40GB'), make_gpu('A100-SXM4-40GB'), targets[0].layout)
    assert [(p.profile, p.start) for p in plan.after] == [('3g.20gb', 0), ('1g.5gb', 4), ('1g.5gb', 6)]
    # the same pins with the 1g at 0 leave no slot for the 3g
    placements[2]['start'] = 0
    assert problems_of(_gpu_targets.targets_for_gpus, [{'mig-enabled': True, 'placements': placements}], [make_gpu('A100-SXM4-40GB')])[0].startswith(
        'GPU 0 (A100-SXM4-40GB): no placement fits the instances 1g.5gb@0, 1g.5gb@6, 3g.20gb on A100-SXM4-40GB')


def test_driver_too_old_for_a_profile_and_for_the_4g_3g_combination():
    gpus = [make_gpu('A100-SXM4-40GB')]
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({'1g.10gb': 1})], gpus, '520.61.05') == (
        'GPU 0 (A100-SXM4-40GB): profile 1g.10gb on A100-SXM4-40GB needs driver 525 or newer; this node has 520.61.05',)
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({'4g.20gb': 1, '3g.20gb': 1})], gpus, '470.82.01') == (
        'GPU 0 (A100-SXM4-40GB): profiles 4g + 3g together on one A100-SXM4-40GB needs driver 510 or newer; this node has 470.82.01',)
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({'7g.40gb': 1})], gpus, '450.51.06') == (
        'GPU 0 (A100-SXM4-40GB): MIG on A100-SXM4-40GB needs driver 450.80.02 or newer; this node has 450.51.06',)
    assert sorted(_gpu_targets.targets_for_gpus([entry({'4g.20gb': 1, '3g.20gb': 1})], gpus, '510.47.03')) == [0]


# --------------------------------------------------------------------------------------------------
# Inline layouts: placements, agreement with mig-devices, exported layouts, selectors
# --------------------------------------------------------------------------------------------------

def test_inline_placements_must_agree_with_mig_devices():
    good = {'mig-enabled': True, 'mig-devices': {'3g.20gb': 1, '1c.3g.20gb': 2},
            'placements': [{'profile': '3g.20gb', 'start': 4}, {'profile': '3g.20gb', 'compute_instances': ['1c.3g.20gb', '1c.3g.20gb']}]}
    parsed = _layout_spec.parse_inline_layout(good)
    assert parsed[0]['devices'] == 'all'
    assert parsed[0]['placements'] == ({'profile': '3g.20gb', 'start': 4, 'compute_instances': ('3g.20gb',)},
                                       {'profile': '3g.20gb', 'start': None, 'compute_instances': ('1c.3g.20gb', '1c.3g.20gb')})
    bad = dict(good, **{'mig-devices': {'3g.20gb': 2}})
    assert problems_of(_layout_spec.parse_inline_layout, bad) == (
        'layout[0]: mig-devices {3g.20gb: 2} does not agree with placements, which give {1c.3g.20gb: 2, 3g.20gb: 1}; give one of them, '
        'or make them agree',)
    assert problems_of(_layout_spec.parse_inline_layout, {'mig-enabled': True, 'placements': [{'profile': '3g.20gb', 'slot': 4}]}) == (
        'layout[0].placements[0]: unknown key slot; valid keys: profile, start, compute_instances',)


def _gi(m, gi_id, profile, start, cis):
    gi_profile = m.profile(profile)
    computes = []
    offset = 0
    for number, name in enumerate(cis):
        compute = [c for c in gi_profile.compute_profiles if c.name == name][0]
        computes.append(ComputeInstance(id=number, profile=name, profile_id=compute.nvml_enum, start=offset, size=compute.slices))
        offset += compute.slices
    return GpuInstance(id=gi_id, profile=profile, profile_id=gi_profile.profile_id, start=start, size=gi_profile.memory_slices,
                       compute_slices=gi_profile.compute_slices, compute_instances=tuple(computes))


def test_exported_gpu_info_layout_fed_back_unchanged_plans_nothing():
    m = model('A100-SXM4-40GB')
    instances = (_gi(m, 1, '3g.20gb', 4, ['2c.3g.20gb', '1c.3g.20gb']), _gi(m, 2, '2g.10gb', 0, ['2g.10gb']),
                 _gi(m, 3, '1g.5gb', 3, ['1g.5gb']), _gi(m, 4, '1g.5gb', 2, []))
    gpu = make_gpu('A100-SXM4-40GB', instances=instances)
    exported = layout_of(gpu)
    targets = _gpu_targets.targets_for_gpus(exported, [gpu])
    assert targets[0].layout.to_dict() == exported
    plan = _planner.plan_gpu(m, gpu, targets[0].layout)
    assert not plan.changed
    assert plan.keep == (1, 2, 3, 4)


def test_gpu_layout_to_dict_and_sorting():
    layout = GpuLayout(True, (InstanceSpec('1g.5gb', ('1g.5gb',)), InstanceSpec('3g.20gb', ('1c.3g.20gb', '2c.3g.20gb')),
                              InstanceSpec('2g.10gb', ('2g.10gb',), 2)))
    assert layout.to_dict() == {
        'mig-enabled': True,
        'mig-devices': {'2g.10gb': 1, '1c.3g.20gb': 1, '2c.3g.20gb': 1, '1g.5gb': 1},
        'placements': [
            {'profile': '2g.10gb', 'start': 2, 'compute_instances': ['2g.10gb']},
            {'profile': '3g.20gb', 'start': None, 'compute_instances': ['1c.3g.20gb', '2c.3g.20gb']},
            {'profile': '1g.5gb', 'start': None, 'compute_instances': ['1g.5gb']},
        ],
    }
    assert GpuLayout(False).to_dict() == {'mig-enabled': False, 'mig-devices': {}, 'placements': []}


def test_jmespath_selector_restricts_the_gpus():
    gpus = [make_gpu('A100-SXM4-40GB', 0), make_gpu('A100-SXM4-80GB', 1), make_gpu('A100-SXM4-80GB', 2)]
    by_dict = [entry({'7g.80gb': 1}, device_selector='[?memory_total_mib > `50000`]')]
    assert sorted(_gpu_targets.targets_for_gpus(by_dict, gpus)) == [1, 2]
    by_index = [entry({'7g.80gb': 1}, device_selector="[?model=='A100-SXM4-80GB' && index > `1`].index")]
    assert sorted(_gpu_targets.targets_for_gpus(by_index, gpus)) == [2]
    assert problems_of(_layout_spec.parse_inline_layout, entry({}, device_selector='[?index >'))[0].startswith(
        "layout[0].device-selector: '[?index >' is not a valid JMESPath expression")
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({'7g.80gb': 1}, device_selector='[].name')], gpus)[0] == (
        "entry 1.device-selector: '[].name' returned 'NVIDIA A100-SXM4-40GB'; it must return GPU dicts (with index) or GPU indices")


def test_jmespath_missing_gives_a_clear_error(monkeypatch):
    parsed = _layout_spec.parse_inline_layout([entry({'7g.40gb': 1}, device_selector='[].index')])
    monkeypatch.setitem(sys.modules, 'jmespath', None)
    message = 'device-selector needs the Python package jmespath, which is not installed on this host (pip install jmespath)'
    assert problems_of(_layout_spec.parse_inline_layout, [entry({}, device_selector='[].index')]) == ('layout[0].device-selector: ' + message,)
    assert problems_of(_gpu_targets.targets_for_gpus, parsed, [make_gpu('A100-SXM4-40GB')]) == ('entry 1.device-selector: ' + message,)
    # without a selector, nothing needs jmespath
    assert sorted(_gpu_targets.targets_for_gpus([entry({'7g.40gb': 1})], [make_gpu('A100-SXM4-40GB')])) == [0]


# --------------------------------------------------------------------------------------------------
# Compute-instance packing
# --------------------------------------------------------------------------------------------------

def test_ci_keys_pack_into_gpu_instances():
    gpus = [make_gpu('A100-SXM4-40GB')]
    three = _gpu_targets.targets_for_gpus([entry({'1c.3g.20gb': 3})], gpus)[0].layout
    assert three.instances == (InstanceSpec('3g.20gb', ('1c.3g.20gb',) * 3),)
    four = _gpu_targets.targets_for_gpus([entry({'1c.3g.20gb': 4})], gpus)[0].layout
    assert four.instances == (InstanceSpec('3g.20gb', ('1c.3g.20gb',)), InstanceSpec('3g.20gb', ('1c.3g.20gb',) * 3))
    mixed = _gpu_targets.targets_for_gpus([entry({'2c.3g.20gb': 2, '1c.3g.20gb': 2})], gpus)[0].layout
    assert mixed.instances == (InstanceSpec('3g.20gb', ('2c.3g.20gb', '1c.3g.20gb')),) * 2
    whole_and_split = _gpu_targets.targets_for_gpus([entry({'3g.20gb': 1, '1c.3g.20gb': 1})], gpus)[0].layout
    assert whole_and_split.instances == (InstanceSpec('3g.20gb', ('1c.3g.20gb',)), InstanceSpec('3g.20gb', ('3g.20gb',)))
    assert whole_and_split.to_dict()['mig-devices'] == {'1c.3g.20gb': 1, '3g.20gb': 1}


def test_4c_and_3c_share_one_7_slice_gpu_instance():
    """D13: {4c.7g.40gb: 1, 3c.7g.40gb: 1} is one 7g GI with two CIs (3c at compute slice 4), not "2 instances of 7g.40gb"."""
    gpus = [make_gpu('A100-SXM4-40GB')]
    target = _gpu_targets.targets_for_gpus([entry({'4c.7g.40gb': 1, '3c.7g.40gb': 1})], gpus)[0]
    assert target.layout.instances == (InstanceSpec('7g.40gb', ('4c.7g.40gb', '3c.7g.40gb')),)
    assert target.layout.to_dict()['mig-devices'] == {'3c.7g.40gb': 1, '4c.7g.40gb': 1}
    plan = _planner.plan_gpu(model('A100-SXM4-40GB'), gpus[0], target.layout)
    assert [(c.profile, c.start, c.size) for c in plan.create[0].compute_instances] == [('4c.7g.40gb', 0, 4), ('3c.7g.40gb', 4, 3)]
    two = _gpu_targets.targets_for_gpus([entry({'3c.7g.40gb': 2, '1c.7g.40gb': 1})], gpus)[0].layout
    assert two.instances == (InstanceSpec('7g.40gb', ('3c.7g.40gb', '3c.7g.40gb', '1c.7g.40gb')),)


def test_a30_media_engine_gpu_instances_are_exclusive():
    """D1: one JPEG and one OFA per A30, so 1g.6gb+me and 2g.12gb+me cannot coexist; refused before anything changes."""
    gpus = [make_gpu('A30')]
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({'1g.6gb+me': 1, '2g.12gb+me': 1})], gpus) == (
        'GPU 0 (A30): GPU instances 1g.6gb+me + 2g.12gb+me need 2 JPEG and 2 OFA; A30 has 1 JPEG and 1 OFA in all, and each of '
        'these GPU instances holds its own',)
    assert _gpu_targets.targets_for_gpus([entry({'1g.6gb+me': 1, '1g.6gb': 1, '2g.12gb': 1})], gpus)[0].layout.instances


def test_ci_packing_that_needs_too_many_gpu_instances_and_bad_ci_names():
    gpus = [make_gpu('A100-SXM4-40GB')]
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({'1c.3g.20gb': 7})], gpus) == (
        'GPU 0 (A100-SXM4-40GB): 3 instances of 3g.20gb requested; at most 2 fit on A100-SXM4-40GB',)
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({'3c.3g.20gb': 1, '2c.2g.10gb': 1, '3c.4g.20gb': 1})], gpus) == (
        "GPU 0 (A100-SXM4-40GB): unknown MIG compute profile '3c.4g.20gb'; valid compute profiles of 4g.20gb: 1c.4g.20gb, 2c.4g.20gb, 4g.20gb",
    )
    # 'Cc.' with C == G is the full-size compute instance, i.e. the GI name
    full = _gpu_targets.targets_for_gpus([entry({'3c.3g.20gb': 1, '2c.2g.10gb': 1})], gpus)[0].layout
    assert full.instances == (InstanceSpec('3g.20gb', ('3g.20gb',)), InstanceSpec('2g.10gb', ('2g.10gb',)))
    placements = [{'profile': '3g.20gb', 'compute_instances': ['2c.3g.20gb', '2c.3g.20gb']}, {'profile': '2g.10gb', 'compute_instances': ['1c.3g.20gb']}]
    assert problems_of(_gpu_targets.targets_for_gpus, [{'mig-enabled': True, 'placements': placements}], gpus) == (
        'GPU 0 (A100-SXM4-40GB): placement 1: compute instances 2c.3g.20gb, 2c.3g.20gb do not fit in one 3g.20gb GPU instance (3 compute slices)',
        "GPU 0 (A100-SXM4-40GB): compute instance '1c.3g.20gb' cannot be created in a 2g.10gb GPU instance; valid: 1c.2g.10gb, 2g.10gb",
    )


def test_drifted_ci_names_resolve():
    targets = _gpu_targets.targets_for_gpus([entry({'1c.3g.39gb': 2})], [make_gpu('A100-SXM4-80GB')])
    assert targets[0].layout.instances == (InstanceSpec('3g.40gb', ('1c.3g.40gb', '1c.3g.40gb')),)
    assert len(targets[0].warnings) == 1


# --------------------------------------------------------------------------------------------------
# Hostile input found by tests/unit/property (issue 7): each used to escape as another exception
# --------------------------------------------------------------------------------------------------

def test_a_selector_nested_too_deeply_is_a_named_problem_not_a_recursion_error():
    selector = '(' * 5000 + 'index' + ')' * 5000
    problems = problems_of(_layout_spec.parse_inline_layout, [entry({}, device_selector=selector)])
    assert problems == ('layout[0].device-selector: the JMESPath expression is nested too deeply to compile; write a flatter expression',)


@pytest.mark.parametrize('selector', ['abs(`"x"`)', 'sort(@)', 'not_null()'])
def test_a_selector_that_fails_on_the_gpus_is_a_named_problem(selector):
    problems = problems_of(_gpu_targets.targets_for_gpus, [entry({'1g.5gb': 1}, device_selector=selector)], [make_gpu('A100-SXM4-40GB')])
    assert len(problems) == 1 and problems[0].startswith('entry 1.device-selector: %r failed on the GPU list: ' % selector)
    assert problems[0].endswith('it must return GPU dicts (with index) or GPU indices')


@pytest.mark.parametrize('name, count, problem', [
    ('1g.5gb', 10 ** 20, '100000000000000000000 instances of 1g.5gb requested; at most 7 fit on A100-SXM4-40GB'),
    ('1c.7g.40gb', 10 ** 7, '10000000 compute instances 1c.7g.40gb requested; at most 7 MIG devices fit on A100-SXM4-40GB'),
])
def test_huge_counts_are_refused_before_anything_is_built(name, count, problem):
    # 10**20 used to raise OverflowError, 10**7 compute instances took minutes to pack.
    assert problems_of(_gpu_targets.targets_for_gpus, [entry({name: count})], [make_gpu('A100-SXM4-40GB')]) == ('GPU 0 (A100-SXM4-40GB): ' + problem,)


@pytest.mark.parametrize('text', ['[' * 100000, 'a: ' + '[' * 100000, 'version: ' + '[' * 3000 + ']' * 3000])
def test_config_text_nested_too_deeply_is_a_layout_error(text):
    problems = problems_of(_layout_spec.parse_mig_parted_config, text)
    assert problems == ('the config is nested too deeply to read; a mig-parted config is a mapping of version and mig-configs, with entries '
                        'a few levels down',)


def test_a_profile_name_with_a_trailing_newline_is_not_a_drifted_name():
    # '$' in the name grammar matched before a final newline, so '1g.5gb\n' resolved to 1g.5gb with a drift warning.
    problems = problems_of(_layout_spec.parse_inline_layout, [entry({'1g.5gb\n': 1})])
    assert problems == ("layout[0].mig-devices: invalid MIG profile name '1g.5gb\\n': expected " + _catalog._PROFILE_FORMS,)
