# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmarks that are pure Python over the collection's own module_utils (no simulator).

* :func:`transition_matrix`: for every catalog GPU model and every ordered pair of the named configs of mig-parted's
  default config that are valid on it, the GPU instances our planner destroys to go from one to the other, against a
  full rebuild (mig-parted: every instance of a GPU whose layout differs is destroyed), and whether a minimal change
  exists (some current GPU instance can stay: the target still has a placement with that instance pinned where it is).
* :func:`catalog_validation`: validating and placing every named config on every catalog GPU, in CPU seconds.
* :func:`fleet_plan`: validating and planning a 1,000-node fleet (8 GPUs a node, each with a current layout), in CPU
  seconds.
"""

from __future__ import annotations

import dataclasses
import os
import time

import yaml

# pylint: disable=wrong-import-position
from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog, _planner
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import ComputeInstance, GpuInstance, GpuState
from ansible_collections.gpufleet.mig.plugins.module_utils._gpu_targets import targets_for_gpus
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import (
    GpuLayout,
    InstanceSpec,
    LayoutError,
    parse_inline_layout,
    parse_mig_parted_config,
)
from ansible_collections.gpufleet.mig.plugins.module_utils._planner import PlanError, find_placements, plan_gpu

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_CONFIG = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'mig-parted-default-config.yaml')
# New enough for every profile of every catalog model (B200 needs R570).
DRIVER = '575.57.08'


def load_default_config(path=DEFAULT_CONFIG):
    with open(path) as handle:
        return yaml.safe_load(handle)


def mig_models():
    return [model for model in _catalog.MODELS if model.mig_capable]


def empty_gpu(model, index=0):
    """A GPU of ``model`` with MIG on and no instances, as gpu_info would read it."""
    return GpuState(index=index, uuid='GPU-bench-%s-%d' % (model.key, index), name=model.names[0],
                    pci_bus_id='00000000:%02X:00.0' % (index + 1), pci_device_id=(model.pci_device_ids[0] << 16) | 0x10DE,
                    pci_subsystem_id=0, memory_total_mib=model.memory_mib or 0, architecture=model.nvml_architecture,
                    compute_capability=model.compute_capability, mig_capable=True, mig_current=True, mig_pending=True,
                    model=model.key)


def gpu_with(model, planned, index=0):
    """A GPU of ``model`` holding the planned instances (ids as a driver would give them: in creation order)."""
    instances = []
    for number, inst in enumerate(planned):
        profile = model.profile(inst.profile)
        cis = tuple(ComputeInstance(id=ci_number, profile=ci.profile, profile_id=ci.profile_id, start=ci.start, size=ci.size)
                    for ci_number, ci in enumerate(inst.compute_instances))
        instances.append(GpuInstance(id=number + 1, profile=inst.profile, profile_id=profile.profile_id, start=inst.start,
                                     size=inst.size, compute_slices=profile.compute_slices, compute_instances=cis))
    return dataclasses.replace(empty_gpu(model, index), gpu_instances=tuple(instances))


def valid_layouts(model, config, labels=None):
    """``{label: GpuLayout}`` of the named configs that validate on one GPU of ``model``."""
    result = {}
    gpu = empty_gpu(model)
    for label in labels or sorted(config['mig-configs']):
        try:
            targets = targets_for_gpus(parse_mig_parted_config(config, label), [gpu], DRIVER)
        except LayoutError:
            continue
        if 0 in targets:
            result[label] = targets[0].layout
    return result


def _signature(layout):
    """What mig-parted compares: MIG on/off and the multiset of (GI profile, CI profiles)."""
    return (layout.mig_enabled, tuple(sorted((spec.profile, tuple(sorted(spec.compute))) for spec in layout.instances)))


def _minimal_change_exists(model, current, target):
    """True when some current GPU instance can stay: the target fits with one instance of its profile pinned there."""
    if not target.mig_enabled:
        return False
    for gi in current.gpu_instances:
        for position, spec in enumerate(target.instances):
            if spec.profile != gi.profile or (spec.start is not None and spec.start != gi.start):
                continue
            pinned = list(target.instances)
            pinned[position] = InstanceSpec(spec.profile, spec.compute, gi.start)
            try:
                if find_placements(model, pinned) is not None:
                    return True
            except PlanError:
                continue
    return False


def maximal_partitions(model):
    """``{name: GpuLayout}``: every maximal set of GPU instances of the model's plain profiles (no +me/+gfx/-me) that fits.

    Maximal: no further instance of any plain profile fits beside them. These are the partitions of NVIDIA's tables of
    supported combinations; the named configs of mig-parted's default config are mostly the homogeneous ones among them.
    """
    profiles = sorted((p for p in model.gi_profiles if not p.attribute), key=lambda p: (-p.memory_slices, -p.compute_slices, p.name))
    fits = {}

    def feasible(names):
        key = tuple(sorted(names))
        if key not in fits:
            try:
                fits[key] = bool(key) and sum(model.profile(n).memory_slices for n in key) <= model.memory_slices \
                    and find_placements(model, list(key)) is not None
            except PlanError:   # more instances of a profile than its max count, or than the GPU's media engines
                fits[key] = False
        return fits[key]

    found = []

    def walk(position, chosen):
        if position == len(profiles):
            if chosen and not any(feasible(chosen + [p.name]) for p in profiles):
                found.append(tuple(chosen))
            return
        profile = profiles[position]
        for count in range(profile.max_count, -1, -1):
            names = chosen + [profile.name] * count
            if count and not feasible(names):
                continue
            walk(position + 1, names)

    walk(0, [])
    layouts = {}
    for names in found:
        counts = {}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        label = '+'.join('%dx%s' % (counts[name], name) for name in sorted(counts, key=lambda n: (-model.profile(n).memory_slices, n)))
        layouts[label] = GpuLayout(True, tuple(InstanceSpec(name, (name,)) for name in names))
    return layouts


def transition_matrix(config=None):
    """Per model and over all ordered pairs of its layouts: GIs destroyed by the planner vs a full rebuild.

    The layouts of a model are the named configs of ``config`` (mig-parted's default config) that validate on it, or,
    without ``config``, its maximal partitions (:func:`maximal_partitions`).
    """
    per_model = []
    worse, not_fewer = [], []
    totals = {'pairs': 0, 'changes': 0, 'minimal_possible': 0, 'planner_destroyed': 0, 'rebuild_destroyed': 0, 'strictly_fewer': 0,
              'planner_recomputed': 0}
    for model in mig_models():
        layouts = valid_layouts(model, config) if config is not None else maximal_partitions(model)
        placed = {}
        for label, layout in layouts.items():
            if layout.mig_enabled:
                placed[label] = gpu_with(model, plan_gpu(model, empty_gpu(model), layout).after)
            else:
                placed[label] = empty_gpu(model)
        row = {'model': model.key, 'layouts': len(layouts), 'pairs': 0, 'planner_destroyed': 0, 'rebuild_destroyed': 0,
               'strictly_fewer': 0, 'minimal_possible': 0}
        for source in sorted(layouts):
            current = placed[source]
            for target_label in sorted(layouts):
                if target_label == source:
                    continue
                target = layouts[target_label]
                same = _signature(layouts[source]) == _signature(target)
                plan = plan_gpu(model, current, target) if target.mig_enabled or current.gpu_instances else None
                planner = len(plan.destroy) if plan is not None else 0
                rebuild = 0 if same else len(current.gpu_instances)
                possible = not same and _minimal_change_exists(model, current, target)
                row['pairs'] += 1
                row['planner_destroyed'] += planner
                row['rebuild_destroyed'] += rebuild
                row['strictly_fewer'] += planner < rebuild
                row['minimal_possible'] += possible
                totals['planner_recomputed'] += len(plan.recompute) if plan is not None else 0
                totals['changes'] += not same
                pair = '%s: %s -> %s (planner %d, rebuild %d)' % (model.key, source, target_label, planner, rebuild)
                if planner > rebuild:
                    worse.append(pair)
                if possible and planner >= rebuild:
                    not_fewer.append(pair)
        for key in ('pairs', 'planner_destroyed', 'rebuild_destroyed', 'strictly_fewer', 'minimal_possible'):
            totals[key] += row[key]
        per_model.append(row)
    return {'models': per_model, 'totals': totals, 'worse': worse, 'not_fewer_where_possible': not_fewer}


def _cold():
    """Empty the planner's per-process memos, so that every timed pass pays what one module run pays (a module is a
    fresh process: its memos start empty)."""
    _planner._TARGETS.clear()  # pylint: disable=protected-access
    _planner._FOUND.clear()  # pylint: disable=protected-access


def catalog_validation(config, repeat=3):
    """CPU seconds (best of ``repeat``) to validate and place every named config on one GPU of every catalog model."""
    best = None
    for dummy in range(repeat):
        valid = invalid = 0
        _cold()
        started = time.process_time()
        for model in mig_models():
            gpu = empty_gpu(model)
            for label in sorted(config['mig-configs']):
                try:
                    targets_for_gpus(parse_mig_parted_config(config, label), [gpu], DRIVER)
                    valid += 1
                except LayoutError:
                    invalid += 1
        spent = time.process_time() - started
        best = spent if best is None else min(best, spent)
    return {'cpu_s': best, 'models': len(mig_models()), 'labels': len(config['mig-configs']), 'valid': valid, 'invalid': invalid}


# The fleet of the 1,000-node plan: node kinds (model, GPUs per node) and, per kind, layouts from the default config that
# nodes start in and move to. A third of the GPUs already match their target, as in a real rollout where part of the
# fleet is converged.
FLEET_KINDS = (
    ('A100-SXM4-40GB', 8, ('all-1g.5gb', 'all-balanced', 'all-3g.20gb')),
    ('A100-SXM4-80GB', 8, ('all-1g.10gb', 'all-balanced', 'all-2g.20gb')),
    ('H100-SXM5-80GB', 8, ('all-1g.10gb', 'all-balanced', 'all-3g.40gb')),
    ('H200-141GB', 8, ('all-1g.18gb', 'all-balanced', 'all-3g.71gb')),
    ('B200', 8, ('all-1g.23gb', 'all-balanced', 'all-2g.45gb')),
    ('A30', 4, ('all-1g.6gb', 'all-balanced', 'all-2g.12gb')),
)


def _fleet(config, nodes):
    """(gpus, target entries) per node: every GPU in one of its kind's layouts, the target another (or the same)."""
    fleet = []
    for number in range(nodes):
        key, count, labels = FLEET_KINDS[number % len(FLEET_KINDS)]
        model = _catalog.model_by_key(key)
        layouts = valid_layouts(model, config, labels)
        missing = [label for label in labels if label not in layouts]
        if missing:
            raise RuntimeError('%s: configs %s do not validate' % (key, ', '.join(missing)))
        gpus = []
        for index in range(count):
            source = labels[(number + index) % len(labels)]
            gpus.append(gpu_with(model, plan_gpu(model, empty_gpu(model, index), layouts[source]).after, index))
        target = labels[(number // len(FLEET_KINDS)) % len(labels)]
        entries = [dict(entry) for entry in config['mig-configs'][target]]
        fleet.append((tuple(gpus), entries))
    return fleet


def fleet_plan(config, nodes=1000, repeat=2):
    """CPU seconds (best of ``repeat``) to validate and plan every GPU of ``nodes`` nodes, as the rollout's checks do.

    Also: where that CPU goes (validation, plans of GPUs already at their target, plans of GPUs that change), how many
    distinct (model, current instances, target) plans the fleet holds (what a cache of plans could save), and the
    slowest single GPU plan.
    """
    fleet = _fleet(config, nodes)
    best = None
    clock = time.process_time
    for dummy in range(repeat):
        changed = planned = 0
        split = {'validate_s': 0.0, 'plan_unchanged_s': 0.0, 'plan_changed_s': 0.0}
        _cold()
        started = clock()
        for gpus, entries in fleet:
            began = clock()
            targets = targets_for_gpus(parse_inline_layout(entries), gpus, DRIVER)
            split['validate_s'] += clock() - began
            for gpu in gpus:
                target = targets.get(gpu.index)
                if target is None:
                    continue
                began = clock()
                plan = plan_gpu(_catalog.model_by_key(target.model), gpu, target.layout)
                split['plan_changed_s' if plan.changed else 'plan_unchanged_s'] += clock() - began
                planned += 1
                changed += plan.changed
        spent = clock() - started
        if best is None or spent < best[0]:
            best = (spent, split)
    distinct = {}
    for gpus, entries in fleet:
        targets = targets_for_gpus(parse_inline_layout(entries), gpus, DRIVER)
        for gpu in gpus:
            target = targets.get(gpu.index)
            current = tuple((gi.profile, gi.start, tuple((ci.start, ci.size) for ci in gi.compute_instances)) for gi in gpu.gpu_instances)
            key = (target.model, current, target.layout)
            if key not in distinct:
                model = _catalog.model_by_key(target.model)
                _cold()
                began = clock()
                plan_gpu(model, gpu, target.layout)
                described = '%s: %s -> %s' % (model.key, '+'.join(c[0] for c in current), '+'.join(i.profile for i in target.layout.instances))
                distinct[key] = (clock() - began, described)
    slowest = max(distinct.values())
    return {'cpu_s': best[0], 'split': best[1], 'nodes': nodes, 'gpus': sum(len(gpus) for gpus, dummy in fleet), 'planned': planned,
            'changed': changed, 'distinct_plans': len(distinct), 'slowest_plan_ms': slowest[0] * 1000.0, 'slowest_plan': slowest[1]}
