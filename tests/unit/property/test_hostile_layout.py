# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile input for the layout spec: inline layouts and mig-parted v1 configs (plugins/module_utils/_layout_spec.py,
_gpu_targets.py).

For every input, parsing and validating against catalog GPUs either accepts it, and then the result is well formed
and every targeted GPU can be planned with valid, non-overlapping placements, or raises LayoutError, and then every
problem says where it is (an entry, a GPU, a top-level field) and every planted poison is named with what would be
valid. Nothing else may escape: no TypeError, KeyError, RecursionError or a JMESPath error.
"""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import hostile_strategies as hs
from hostile_tally import budget, record

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import GpuState
from ansible_collections.gpufleet.mig.plugins.module_utils._gpu_targets import targets_for_gpus
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import LayoutError, parse_inline_layout, parse_mig_parted_config
from ansible_collections.gpufleet.mig.plugins.module_utils._planner import plan_gpu

# Where a problem can say it is: a parsed entry, a top-level field, a label, an applied entry or a GPU.
LOCATION = re.compile(r"^(layout\[\d+\]|mig-configs|entry \d+|GPU \d+ \(|the layout |the config|version: |label |unexpected field)")
FILTER = re.compile(r'^0x[0-9A-F]{8}(:0x[0-9A-F]{8})?$')
DRIVERS = ('595.58.03', '595.58.03', '550.54.15', '470.82.01')

node_models = st.lists(st.sampled_from(hs.MIG_MODELS), min_size=1, max_size=3)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def make_gpu(key, index):
    m = _catalog.model_by_key(key)
    return GpuState(index=index, uuid='GPU-%d' % index, name=m.names[0], pci_bus_id='00000000:%02X:00.0' % index,
                    pci_device_id=(m.pci_device_ids[0] << 16) | 0x10DE, pci_subsystem_id=0, memory_total_mib=m.memory_mib,
                    architecture=m.nvml_architecture, compute_capability=m.compute_capability, mig_capable=m.mig_capable,
                    mig_current=True if m.mig_capable else None, mig_pending=True if m.mig_capable else None, model=m.key)


def node(models):
    return [make_gpu(key, index) for index, key in enumerate(models)]


def check_rejection(exc, poisons, level):
    """The LayoutError is well formed, locates every problem, and names every poison of ``level``."""
    assert exc.__class__ is LayoutError, exc
    assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
    assert str(exc) == '; '.join(exc.problems)
    for problem in exc.problems:
        assert LOCATION.match(problem), 'problem does not say where it is: %r' % problem
    for poison in poisons:
        if poison.level == level:
            assert hs.problem_names(exc.problems, poison), 'poison %s (%s, hint %s) not named in %r' % (
                poison.kind, ' or '.join(poison.tokens), ' or '.join(poison.hints), exc.problems)


def check_entries(entries):
    """Normalised entries: the six keys with their documented types, and parsing them again changes nothing."""
    assert isinstance(entries, tuple) and entries
    for item in entries:
        assert set(item) == {'devices', 'device-filter', 'mig-enabled', 'mig-devices', 'placements', 'device-selector'}
        devices = item['devices']
        assert devices == 'all' or (isinstance(devices, tuple) and list(devices) == sorted(set(devices))
                                    and all(is_int(i) and i >= 0 for i in devices))
        assert isinstance(item['device-filter'], tuple) and all(FILTER.match(f) for f in item['device-filter'])
        assert isinstance(item['mig-enabled'], bool)
        assert isinstance(item['mig-devices'], dict)
        assert all(isinstance(k, str) and is_int(v) and v > 0 for k, v in item['mig-devices'].items())
        if not item['mig-enabled']:
            assert item['mig-devices'] == {} and not item['placements']
        if item['placements'] is not None:
            for placement in item['placements']:
                assert set(placement) == {'profile', 'start', 'compute_instances'}
                assert isinstance(placement['profile'], str)
                assert placement['start'] is None or (is_int(placement['start']) and placement['start'] >= 0)
                assert isinstance(placement['compute_instances'], tuple) and all(isinstance(c, str) for c in placement['compute_instances'])
        assert item['device-selector'] is None or (isinstance(item['device-selector'], str) and item['device-selector'].strip())


def check_targets(targets, gpus):
    """Every target can be planned on its (empty) GPU, with valid starts, no overlap and no more than the limits."""
    by_index = dict((gpu.index, gpu) for gpu in gpus)
    for index, target in targets.items():
        gpu = by_index[index]
        model = _catalog.model_by_key(target.model)
        assert model.key == gpu.model
        if not target.layout.mig_enabled:
            assert not target.layout.instances
            continue
        plan = plan_gpu(model, gpu, target.layout)
        used = 0
        counts = {}
        for inst in plan.after:
            profile = model.profile(inst.profile)
            assert inst.start in profile.starts and inst.size == profile.memory_slices
            mask = ((1 << inst.size) - 1) << inst.start
            assert not used & mask, 'overlapping placements in %r' % (plan.after,)
            used |= mask
            counts[profile.name] = counts.get(profile.name, 0) + 1
            assert counts[profile.name] <= profile.max_count
            assert sum(c.size for c in inst.compute_instances) <= profile.compute_slices
        assert len(plan.after) <= model.max_mig_devices
        pinned = sorted((s.profile, s.start) for s in target.layout.instances if s.start is not None)
        assert all((p, s) in [(i.profile, i.start) for i in plan.after] for p, s in pinned)


def run_layout(prop, parse, case, gpus, driver):
    """Parse, validate against ``gpus``, check the outcome and count it."""
    try:
        try:
            entries = parse()
        except LayoutError as exc:
            check_rejection(exc, case.poisons, 'parse')
            record(prop, 'rejected')
            return None
        assert not [p for p in case.poisons if p.level == 'parse'], 'accepted a layout with %s' % (case.poisons,)
        check_entries(entries)
        assert parse_inline_layout(list(entries)) == entries
        try:
            targets = targets_for_gpus(entries, gpus, driver)
        except LayoutError as exc:
            check_rejection(exc, case.poisons, 'target')
            record(prop, 'rejected')
            return None
        assert not case.poisons, 'accepted a layout with %s' % (case.poisons,)
        check_targets(targets, gpus)
    except AssertionError:
        raise
    except Exception:
        record(prop, 'traceback')
        raise
    record(prop, 'accepted')
    return targets


@settings(max_examples=budget(250))
@given(node_models.flatmap(lambda models: st.tuples(st.just(models), hs.inline_case(models))), st.sampled_from(DRIVERS))
def test_inline_layouts_are_accepted_whole_or_refused_with_named_problems(data, driver):
    models, case = data
    run_layout('inline layout (planted poisons)', lambda: parse_inline_layout(case.value), case, node(models), driver)


@settings(max_examples=budget(300))
@given(st.one_of(hs.junk_layout().map(hs.Case), hs.top_level_junk_case()), node_models)
def test_junk_inline_layouts_never_escape_as_another_exception(case, models):
    run_layout('inline layout (junk)', lambda: parse_inline_layout(case.value), case, node(models) + [make_gpu('L40S', len(models))],
               DRIVERS[0])


@settings(max_examples=budget(300))
@given(node_models.flatmap(lambda models: st.tuples(st.just(models), hs.mig_parted_case(models))), st.booleans())
def test_mig_parted_configs_as_data_or_yaml_text(data, as_text):
    models, case = data
    config = case.value
    if as_text:
        config = yaml.safe_dump(config, default_flow_style=False)
    run_layout('mig-parted config', lambda: parse_mig_parted_config(config, case.label), case, node(models), DRIVERS[0])


# Text that is not a config: unbalanced or very deep nesting, YAML oddities, binary-looking text.
config_texts = st.one_of(
    st.text(max_size=200),
    st.builds(lambda opener, depth: opener * depth, st.sampled_from(['[', '{"a": ', '- ', 'a:\n  ', '{a: ', '[{']), st.integers(1, 1500)),
    st.builds(lambda depth, key: '{"version": "v1", "%s": %s}' % (key, '[' * depth + ']' * depth), st.integers(1, 3000),
              st.sampled_from(['mig-configs', 'version', 'other'])),
    st.sampled_from(['version: v1\nmig-configs: {a: [{devices: all, mig-enabled: true, mig-devices: {1g.5gb: !!python/object:x {}}}]}',
                     '%YAML 1.1\n---\nversion: v1\n...\n---\nversion: v2', 'version: &v v1\nmig-configs: {x: [*v]}', '\x00', '\ufeff{',
                     'version: v1\nmig-configs:\n  a: [{devices: all, mig-enabled: yes, mig-devices: {}}]\n  a: []']),
)


@settings(max_examples=budget(100))
@given(config_texts, st.none() | st.text(max_size=8))
def test_mig_parted_config_text_that_is_not_a_config(text, label):
    run_layout('mig-parted config (junk text)', lambda: parse_mig_parted_config(text, label), hs.Case(text), node(['A100-SXM4-40GB']),
               DRIVERS[0])


@settings(max_examples=budget(150))
@given(st.sampled_from([k for k in hs.MIG_MODELS if hs.drifted_names(k)]).flatmap(
    lambda key: st.tuples(st.just(key), st.lists(st.sampled_from(hs.drifted_names(key)), min_size=1, max_size=2, unique=True))))
def test_drifted_names_resolve_with_a_warning_naming_both(data):
    key, pairs = data
    layout = [{'devices': 'all', 'mig-enabled': True, 'mig-devices': dict((drifted, 1) for drifted, dummy in pairs)}]
    prop = 'drifted profile names'
    try:
        targets = targets_for_gpus(parse_inline_layout(layout), [make_gpu(key, 0)], DRIVERS[0])
    except LayoutError as exc:
        for drifted, dummy in pairs:
            assert not any(repr(drifted) in p and 'unknown' in p for p in exc.problems), exc.problems
        check_rejection(exc, (), 'target')
        record(prop, 'rejected')
        return
    target = targets[0]
    for drifted, canonical in pairs:
        assert any(drifted in w and canonical in w for w in target.warnings), (drifted, canonical, target.warnings)
    assert {i.profile for i in target.layout.instances} <= set(_catalog.model_by_key(key).profile_names)
    check_targets(targets, [make_gpu(key, 0)])
    record(prop, 'accepted')


@settings(max_examples=budget(150))
@given(st.sampled_from([k for k in hs.MIG_MODELS if hs.near_names(k)]).flatmap(
    lambda key: st.tuples(st.just(key), st.sampled_from(hs.near_names(key)))))
def test_near_names_that_no_source_documents_are_refused(data):
    key, (name, profile) = data
    layout = [{'devices': 'all', 'mig-enabled': True, 'mig-devices': {name: 1}}]
    with pytest.raises(LayoutError) as exc:
        targets_for_gpus(parse_inline_layout(layout), [make_gpu(key, 0)], DRIVERS[0])
    assert exc.value.problems == ('GPU 0 (%s): unknown MIG profile %r; valid profiles on %s: %s (%s)'
                                  % (key, name, key, ', '.join(hs.gi_names(key)), _catalog.model_by_key(key).unknown_profile_hint(name)),)
    assert profile in exc.value.problems[0]
    record('undocumented near names', 'rejected')
