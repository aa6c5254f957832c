# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Planner + executor through the real pynvml against the simulator.

The transition matrix: for every MIG model of the catalog, every layout of mig-parted's default
config meant for it, to every other one.  Each transition checks that the applied result equals the
plan with its exact placements, that only the instances the plan destroys are gone (the others keep
their ids), that the steps predicted before the change are the steps done, and that planning again
gives no change.  The fault tests check the rollback at each mutating NVML call.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils._apply import (
    ApplyError,
    apply_with_rollback,
    canonical_gpu,
    exact_layout_of,
    steps_to,
)
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import ComputeInstance, GpuInstance
from ansible_collections.gpufleet.mig.plugins.module_utils._gpu_targets import targets_for_gpus
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import LayoutError, parse_mig_parted_config
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml
from ansible_collections.gpufleet.mig.plugins.module_utils._planner import plan_gpu

FIXTURE = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'mig-parted-default-config.yaml')
with open(FIXTURE) as fixture_file:
    DEFAULT = yaml.safe_load(fixture_file)

MIG_MODELS = [m.key for m in _catalog.MODELS if m.mig_capable]


def labels_for(model_key, gpu):
    """The default config's labels that validate on this model, with their layouts (deterministic order)."""
    found = []
    for label in sorted(DEFAULT['mig-configs']):
        if label in ('all-disabled',):
            continue
        try:
            targets = targets_for_gpus(parse_mig_parted_config(DEFAULT, label), [gpu], '595.58.03')
        except LayoutError:
            continue
        if 0 in targets and targets[0].layout.mig_enabled:
            found.append((label, targets[0].layout))
    return found


def uniform_layouts(model, gpu):
    """Each of the model's profiles at its max count, for a board NVIDIA's default config has (almost) no label for."""
    found = []
    for profile in model.gi_profiles:
        entries = [{'devices': 'all', 'mig-enabled': True, 'mig-devices': {profile.name: profile.max_count}}]
        found.append(('uniform-%s' % profile.name, targets_for_gpus(entries, [gpu], '595.58.03')[0].layout))
    return found


def exact(target):
    return tuple(GpuInstance(inst.profile, inst.start, inst.size, tuple(ComputeInstance(c.profile, c.start, c.size) for c in inst.compute_instances))
                 for inst in target)


def read(nvml, model):
    return canonical_gpu(nvml.read_gpu(0), model)


def apply(nvml, model, layout):
    gpu = read(nvml, model)
    plan = plan_gpu(model, gpu, layout)
    predicted = steps_to(gpu, plan.after)
    done = apply_with_rollback(nvml, model, gpu, plan.after) if plan.changed else []
    return gpu, plan, predicted, done


@pytest.mark.parametrize('model_key', MIG_MODELS)
def test_transition_matrix(node, model_key):
    node(model_key)
    model = _catalog.model_by_key(model_key)
    transitions = 0
    with Nvml(hostname='matrix') as nvml:
        layouts = labels_for(model_key, nvml.read_gpu(0))
        if len(layouts) < 3:   # the RTX PRO 4500: no label of NVIDIA's default config names its profiles
            layouts += uniform_layouts(model, nvml.read_gpu(0))
        assert len(layouts) >= 3, 'too few default-config labels validate on %s: %s' % (model_key, [label for label, dummy in layouts])
        for source_label, source in layouts:
            apply(nvml, model, source)
            for target_label, target in layouts:
                if target_label == source_label:
                    continue
                apply(nvml, model, source)
                before, plan, predicted, done = apply(nvml, model, target)
                after = read(nvml, model)
                where = '%s: %s -> %s' % (model_key, source_label, target_label)
                assert exact_layout_of(after) == exact(plan.after), where
                assert [str(s) for s in done] == [str(s) for s in predicted], where
                destroyed = {gi.id for gi in plan.destroy}
                survivors = {gi.id for gi in before.gpu_instances} - destroyed
                assert survivors <= {gi.id for gi in after.gpu_instances}, where
                assert len([s for s in done if s.kind == 'destroy-gi']) == len(destroyed), where
                assert not plan_gpu(model, after, target).changed, where
                transitions += 1
    assert transitions == len(layouts) * (len(layouts) - 1)


def test_unchanged_gpu_gets_no_nvml_change(node, simnode):
    state = node('A100-SXM4-40GB')
    model = _catalog.model_by_key('A100-SXM4-40GB')
    with Nvml() as nvml:
        layout = dict(labels_for('A100-SXM4-40GB', nvml.read_gpu(0)))['all-balanced']
        apply(nvml, model, layout)
        calls_before = json.loads(simnode('calls', state, '--json'))
        dummy, plan, predicted, done = apply(nvml, model, layout)
    calls_after = json.loads(simnode('calls', state, '--json'))
    assert not plan.changed and predicted == [] and done == []
    assert calls_after['mutating'] == calls_before['mutating']


def whole_board(model, layouts):
    """The label that gives the GPU one instance over all memory slices (all-7g.* or the A30's all-4g.24gb)."""
    return [label for label, layout in sorted(layouts.items()) if len(layout.instances) == 1
            and model.profile(layout.instances[0].profile).memory_slices == model.memory_slices][0]


# Destroys are exercised going from all-balanced to the whole board, creates going back.
@pytest.mark.parametrize('function, nth, destroying', [
    ('nvmlComputeInstanceDestroy', 1, True),
    ('nvmlComputeInstanceDestroy', 3, True),
    ('nvmlGpuInstanceDestroy', 1, True),
    ('nvmlGpuInstanceDestroy', 3, True),
    ('nvmlDeviceCreateGpuInstanceWithPlacement', 1, False),
    ('nvmlDeviceCreateGpuInstanceWithPlacement', 3, False),
    ('nvmlGpuInstanceCreateComputeInstanceWithPlacement', 1, False),
    ('nvmlGpuInstanceCreateComputeInstanceWithPlacement', 3, False),
    ('nvmlGpuInstanceGetInfo', 2, False),
])
@pytest.mark.parametrize('model_key', ['A100-SXM4-40GB', 'H100-SXM5-80GB', 'A30'])
def test_failure_at_each_mutating_call_restores_the_exact_layout(node, simnode, model_key, function, nth, destroying):
    state = node(model_key)
    model = _catalog.model_by_key(model_key)
    with Nvml() as nvml:
        layouts = dict(labels_for(model_key, nvml.read_gpu(0)))
        source, target = layouts['all-balanced'], layouts[whole_board(model, layouts)]
        if not destroying:
            source, target = target, source
        apply(nvml, model, source)
        before = read(nvml, model)
        simnode('fault', 'add', state, '--function', function, '--nth', nth, '--error', 'UNKNOWN')
        plan = plan_gpu(model, before, target)
        with pytest.raises(ApplyError) as exc:
            apply_with_rollback(nvml, model, before, plan.after)
        after = read(nvml, model)
    assert exc.value.restored is True
    assert 'the previous layout was restored with its exact placements' in str(exc.value)
    assert function in str(exc.value)
    assert exact_layout_of(after) == exact_layout_of(before)


def test_failed_restore_says_what_the_gpu_holds(node, simnode):
    state = node('A100-SXM4-40GB')
    model = _catalog.model_by_key('A100-SXM4-40GB')
    with Nvml() as nvml:
        layouts = dict(labels_for('A100-SXM4-40GB', nvml.read_gpu(0)))
        apply(nvml, model, layouts['all-balanced'])
        before = read(nvml, model)
        simnode('fault', 'add', state, '--function', 'nvmlDeviceCreateGpuInstanceWithPlacement', '--nth', '2', '--error', 'UNKNOWN',
                '--repeat')
        plan = plan_gpu(model, before, layouts['all-1g.5gb'])
        with pytest.raises(ApplyError) as exc:
            apply_with_rollback(nvml, model, before, plan.after)
    assert exc.value.restored is False
    assert 'could NOT be fully restored; the GPU now holds: ' in str(exc.value)
    assert exc.value.state is not None
