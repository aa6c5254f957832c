# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for the placement planner (exact placements, minimal change, busy instances)."""

from __future__ import annotations

import collections
import dataclasses
import itertools
import os
import random

import pytest
import yaml

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils import _planner
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import ComputeInstance, GpuInstance, GpuProcess, GpuState
from ansible_collections.gpufleet.mig.plugins.module_utils._gpu_targets import targets_for_gpus
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import GpuLayout, InstanceSpec, LayoutError, parse_mig_parted_config

A100_40 = _catalog.model_by_key('A100-SXM4-40GB')
A100_80 = _catalog.model_by_key('A100-SXM4-80GB')
A30 = _catalog.model_by_key('A30')


def make_gi(model, gi_id, profile, start, cis=None, first_ci_id=0):
    """A current GI; ``cis`` is a list of CI names (default: one full-size CI), placed at consecutive multiples."""
    gi_profile = model.profile(profile)
    cis = [profile] if cis is None else cis
    computes = []
    offset = 0
    for number, name in enumerate(cis):
        compute = gi_profile.default_compute_profile if name == profile else [c for c in gi_profile.compute_profiles if c.name == name][0]
        computes.append(ComputeInstance(id=first_ci_id + number, profile=name, profile_id=compute.nvml_enum, start=offset, size=compute.slices))
        offset += compute.slices
    return GpuInstance(id=gi_id, profile=profile, profile_id=gi_profile.profile_id, start=start, size=gi_profile.memory_slices,
                       compute_slices=gi_profile.compute_slices, compute_instances=tuple(computes))


def make_gpu(model, instances=(), processes=(), index=0):
    return GpuState(index=index, uuid='GPU-%d' % index, name=model.names[0], pci_bus_id='00000000:%02X:00.0' % index,
                    pci_device_id=(model.pci_device_ids[0] << 16) | 0x10DE, pci_subsystem_id=0, memory_total_mib=model.memory_mib,
                    architecture=model.nvml_architecture, compute_capability=model.compute_capability, mig_capable=True,
                    mig_current=True, mig_pending=True, gpu_instances=tuple(instances), processes=tuple(processes), model=model.key)


def layout(*specs):
    return GpuLayout(True, tuple(InstanceSpec(s, (s,)) if isinstance(s, str) else s for s in specs))


def placed(plan_or_tuple):
    items = plan_or_tuple.after if isinstance(plan_or_tuple, _planner.GpuPlan) else plan_or_tuple
    return [(p.profile, p.start, p.size) for p in items]


# --------------------------------------------------------------------------------------------------
# Layouts mig-parted users hit "Insufficient Resources" with (mig.md 3.3, 6 row 4)
# --------------------------------------------------------------------------------------------------

def test_4g_plus_3g_on_a100_80gb_gets_placements():
    assert placed(_planner.find_placements(A100_80, ['3g.40gb', '4g.40gb'])) == [('4g.40gb', 0, 4), ('3g.40gb', 4, 4)]
    plan = _planner.plan_gpu(A100_80, make_gpu(A100_80), layout('4g.40gb', '3g.40gb'))
    assert [(p.profile, p.start) for p in plan.create] == [('4g.40gb', 0), ('3g.40gb', 4)]


def test_1g_2g_4g_on_a100_40gb_gets_placements():
    assert placed(_planner.find_placements(A100_40, ['1g.5gb', '2g.10gb', '4g.20gb'])) == [
        ('4g.20gb', 0, 4), ('2g.10gb', 4, 2), ('1g.5gb', 6, 1)]


@pytest.mark.parametrize('order', sorted(set(itertools.permutations(['1g.5gb', '1g.5gb', '2g.10gb', '3g.20gb']))))
def test_3_2_1_1_in_every_order_gets_the_same_placements(order):
    expected = [('2g.10gb', 0, 2), ('1g.5gb', 2, 1), ('1g.5gb', 3, 1), ('3g.20gb', 4, 4)]
    assert placed(_planner.find_placements(A100_40, list(order))) == expected
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40), layout(*order))
    assert placed(plan) == expected
    # creation order: largest first, then start
    assert [(p.profile, p.start) for p in plan.create] == [('3g.20gb', 4), ('2g.10gb', 0), ('1g.5gb', 2), ('1g.5gb', 3)]


def test_find_placements_none_when_nothing_fits():
    assert _planner.find_placements(A100_40, ['3g.20gb', '3g.20gb', '1g.5gb']) is None
    assert _planner.find_placements(A100_40, ['4g.20gb', '3g.20gb', '1g.5gb']) is None
    assert _planner.find_placements(A30, ['2g.12gb', '2g.12gb', '1g.6gb']) is None


def test_find_placements_refuses_unknown_profile_and_invalid_pin():
    with pytest.raises(_planner.PlanError, match=r"unknown MIG profile '2g\.20gb' for GPU model A100-SXM4-40GB; valid: 1g\.5gb, "):
        _planner.find_placements(A100_40, ['2g.20gb'])
    with pytest.raises(_planner.PlanError, match=r'3g\.20gb cannot start at memory slice 2; valid starts: 0, 4'):
        _planner.find_placements(A100_40, [InstanceSpec('3g.20gb', ('3g.20gb',), 2)])


# --------------------------------------------------------------------------------------------------
# Minimal change
# --------------------------------------------------------------------------------------------------

BALANCED_40 = (
    make_gi(A100_40, 1, '3g.20gb', 4),
    make_gi(A100_40, 2, '2g.10gb', 0),
    make_gi(A100_40, 3, '1g.5gb', 2),
    make_gi(A100_40, 4, '1g.5gb', 3),
)


def test_unchanged_gpu_gets_an_empty_plan():
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, BALANCED_40), layout('1g.5gb', '1g.5gb', '2g.10gb', '3g.20gb'))
    assert not plan.changed
    assert (plan.destroy, plan.create, plan.recompute) == ((), (), ())
    assert plan.keep == (1, 2, 3, 4)
    assert [(p.profile, p.start, p.id) for p in plan.after] == [
        ('2g.10gb', 0, 2), ('1g.5gb', 2, 3), ('1g.5gb', 3, 4), ('3g.20gb', 4, 1)]


def test_mig_disabled_target_destroys_everything():
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, BALANCED_40), GpuLayout(False))
    assert plan.changed
    assert [gi.id for gi in plan.destroy] == [2, 3, 4, 1]   # by start
    assert (plan.keep, plan.create, plan.after) == ((), (), ())


def test_mig_disabled_target_on_empty_gpu_is_no_change():
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40), GpuLayout(False))
    assert not plan.changed


def test_swapping_the_2g_for_two_1g_keeps_the_3g_and_the_1gs():
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, BALANCED_40), layout('3g.20gb', '1g.5gb', '1g.5gb', '1g.5gb', '1g.5gb'))
    assert plan.keep == (1, 3, 4)
    assert [gi.id for gi in plan.destroy] == [2]
    assert [(p.profile, p.start) for p in plan.create] == [('1g.5gb', 0), ('1g.5gb', 1)]
    assert placed(plan) == [('1g.5gb', 0, 1), ('1g.5gb', 1, 1), ('1g.5gb', 2, 1), ('1g.5gb', 3, 1), ('3g.20gb', 4, 4)]


def test_keeping_needs_moving_nothing_when_a_destroy_frees_the_slot():
    # 3g@0 + 3g@4 -> 4g + 3g: the 3g at 4 is kept, the 3g at 0 makes room for the 4g.
    current = (make_gi(A100_40, 5, '3g.20gb', 0), make_gi(A100_40, 6, '3g.20gb', 4))
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, current), layout('4g.20gb', '3g.20gb'))
    assert plan.keep == (6,)
    assert [gi.id for gi in plan.destroy] == [5]
    assert [(p.profile, p.start) for p in plan.create] == [('4g.20gb', 0)]


def test_recompute_keeps_the_gi_and_rebuilds_its_cis():
    current = (make_gi(A100_40, 1, '3g.20gb', 4), make_gi(A100_40, 2, '3g.20gb', 0))
    target = layout(InstanceSpec('3g.20gb', ('1c.3g.20gb', '1c.3g.20gb', '1c.3g.20gb')), '3g.20gb')
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, current), target)
    # Both assignments cost 3 CIs; tie-break: starts in canonical order, where ('1c.3g.20gb', ...) sorts before ('3g.20gb',),
    # so the split instance takes the lower start (the GI at 0 is recomputed, the GI at 4 kept).
    assert plan.keep == (1,)
    assert plan.recompute == (2,)
    assert (plan.destroy, plan.create) == ((), ())
    recomputed = [p for p in plan.after if p.id == 2][0]
    assert [(c.profile, c.profile_id, c.start, c.size) for c in recomputed.compute_instances] == [
        ('1c.3g.20gb', 0, 0, 1), ('1c.3g.20gb', 0, 1, 1), ('1c.3g.20gb', 0, 2, 1)]


def test_recompute_prefers_the_gi_whose_cis_already_match():
    split = make_gi(A100_40, 1, '3g.20gb', 4, ['2c.3g.20gb', '1c.3g.20gb'])
    whole = make_gi(A100_40, 2, '3g.20gb', 0)
    target = layout(InstanceSpec('3g.20gb', ('2c.3g.20gb', '1c.3g.20gb')), InstanceSpec('3g.20gb', ('1c.3g.20gb',) * 3))
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, (split, whole)), target)
    assert (plan.keep, plan.recompute) == ((1,), (2,))


def test_ci_placements_largest_first_from_the_catalog_table():
    seven = A100_40.profile('7g.40gb')
    by_name = dict((c.name, c) for c in seven.compute_profiles)
    result = _planner.place_compute_instances(seven, [by_name['1c.7g.40gb'], by_name['2c.7g.40gb'], by_name['1c.7g.40gb'], by_name['3c.7g.40gb']])
    assert [(c.name, start) for c, start in result] == [('3c.7g.40gb', 0), ('2c.7g.40gb', 4), ('1c.7g.40gb', 3), ('1c.7g.40gb', 6)]
    three = A100_40.profile('3g.20gb')
    ci = dict((c.name, c) for c in three.compute_profiles)
    assert _planner.place_compute_instances(three, [ci['2c.3g.20gb'], ci['2c.3g.20gb']]) is None
    assert three.compute_starts(ci['1c.3g.20gb']) == (0, 1, 2)


def test_ci_placements_3c_at_0_and_4_in_a_7_slice_gi():
    """D2: a 3c CI starts at 0 or 4 in a 7g GI (go-nvml mock data; [UNC]), so 4c + 3c fit one 7g GI (documented by ALCF).

    Before the fix the planner used starts at multiples of C (3c at 0 or 3) and refused 4c + 3c.
    """
    seven = A100_40.profile('7g.40gb')
    by_name = dict((c.name, c) for c in seven.compute_profiles)
    assert seven.compute_starts(by_name['3c.7g.40gb']) == (0, 4)
    assert 'starts' in {n.split(':', 1)[0] for n in by_name['3c.7g.40gb'].notes}   # uncertain, and says so
    result = _planner.place_compute_instances(seven, [by_name['3c.7g.40gb'], by_name['4c.7g.40gb']])
    assert [(c.name, start) for c, start in result] == [('4c.7g.40gb', 0), ('3c.7g.40gb', 4)]
    result = _planner.place_compute_instances(seven, [by_name['3c.7g.40gb'], by_name['3c.7g.40gb']])
    assert [start for dummy, start in result] == [0, 4]
    result = _planner.place_compute_instances(seven, [by_name['3c.7g.40gb'], by_name['2c.7g.40gb'], by_name['2c.7g.40gb']])
    assert [(c.name, start) for c, start in result] == [('3c.7g.40gb', 4), ('2c.7g.40gb', 0), ('2c.7g.40gb', 2)]
    assert _planner.place_compute_instances(seven, [by_name['4c.7g.40gb'], by_name['2c.7g.40gb'], by_name['2c.7g.40gb']]) is None


@pytest.mark.parametrize('key, names', [
    ('A30', ['1g.6gb+me', '2g.12gb+me']),             # one JPEG and one OFA on the whole A30 (D1)
    ('A30', ['1g.6gb+me', '2g.12gb+me', '1g.6gb']),
    ('A100-SXM4-40GB', ['1g.5gb+me', '1g.5gb+me']),   # max count 1 (D7)
    ('H100-SXM5-80GB', ['1g.10gb+me', '1g.10gb+me', '1g.10gb']),
])
def test_planner_refuses_counts_and_media_engines(key, names):
    """D7: find_placements and plan_gpu refused nothing the memory slices allowed; now they refuse what NVML would."""
    model = _catalog.model_by_key(key)
    with pytest.raises(_planner.PlanError) as exc:
        _planner.find_placements(model, names)
    assert key in str(exc.value) and names[0] in str(exc.value)
    with pytest.raises(_planner.PlanError) as exc:
        _planner.plan_gpu(model, make_gpu(model, ()), layout(*names))
    assert names[0] in str(exc.value)


def test_planner_accepts_one_media_engine_gi_on_an_a30():
    a30 = _catalog.model_by_key('A30')
    assert placed(_planner.find_placements(a30, ['2g.12gb+me', '1g.6gb', '1g.6gb'])) == [('2g.12gb+me', 0, 2), ('1g.6gb', 2, 1), ('1g.6gb', 3, 1)]


def test_pinned_target_moves_an_instance():
    current = (make_gi(A100_40, 7, '3g.20gb', 4),)
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, current), layout(InstanceSpec('3g.20gb', ('3g.20gb',), 0)))
    assert [gi.id for gi in plan.destroy] == [7]
    assert placed(plan.create) == [('3g.20gb', 0, 4)]
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, current), layout(InstanceSpec('3g.20gb', ('3g.20gb',), 4)))
    assert not plan.changed


def test_drifted_current_name_is_matched_by_profile_id():
    gi = make_gi(A100_80, 3, '3g.40gb', 4)
    drifted = GpuInstance(id=3, profile='3g.39gb', profile_id=gi.profile_id, start=4, size=4, compute_slices=3,
                          compute_instances=(ComputeInstance(id=0, profile='3g.39gb', profile_id=2, start=0, size=3),))
    plan = _planner.plan_gpu(A100_80, make_gpu(A100_80, (drifted,)), layout('3g.40gb'))
    assert not plan.changed
    assert plan.after[0].compute_instances[0].profile == '3g.40gb'


# --------------------------------------------------------------------------------------------------
# Busy instances and force
# --------------------------------------------------------------------------------------------------

TWO_1G = (make_gi(A100_40, 11, '1g.5gb', 0), make_gi(A100_40, 12, '1g.5gb', 1))


def test_idle_gpu_tie_break_keeps_the_lowest_start():
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, TWO_1G), layout('1g.5gb', '2g.10gb'))
    assert plan.keep == (11,)
    assert [gi.id for gi in plan.destroy] == [12]
    assert placed(plan.create) == [('2g.10gb', 2, 2)]


def test_busy_instance_is_the_one_kept():
    busy = (GpuProcess(pid=4242, used_mib=100, gpu_instance_id=12, compute_instance_id=0),)
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, TWO_1G, busy), layout('1g.5gb', '2g.10gb'))
    assert plan.keep == (12,)
    assert [gi.id for gi in plan.destroy] == [11]


def test_busy_instance_that_must_go_is_a_plan_error_naming_it():
    busy = (GpuProcess(pid=4242, used_mib=100, gpu_instance_id=2, compute_instance_id=0),
            GpuProcess(pid=4243, used_mib=100, gpu_instance_id=2, compute_instance_id=0))
    gpu = make_gpu(A100_40, BALANCED_40, busy)
    with pytest.raises(_planner.PlanError) as info:
        _planner.plan_gpu(A100_40, gpu, layout('3g.20gb', '1g.5gb', '1g.5gb', '1g.5gb', '1g.5gb'))
    assert str(info.value) == (
        'GPU 0 (A100-SXM4-40GB): no placement of the target layout keeps the busy GPU instances untouched: '
        '2g.10gb (GI 2, placement 0:2) with pids 4242, 4243. Stop those processes, change the layout to keep them, '
        'or use force to destroy them')
    plan = _planner.plan_gpu(A100_40, gpu, layout('3g.20gb', '1g.5gb', '1g.5gb', '1g.5gb', '1g.5gb'), force=True)
    assert [gi.id for gi in plan.destroy] == [2]
    assert plan.keep == (1, 3, 4)


def test_busy_instance_cannot_be_recomputed_without_force():
    busy = (GpuProcess(pid=7, used_mib=None, gpu_instance_id=1, compute_instance_id=0),)
    gpu = make_gpu(A100_40, (make_gi(A100_40, 1, '3g.20gb', 4),), busy)
    target = layout(InstanceSpec('3g.20gb', ('1c.3g.20gb',) * 3))
    with pytest.raises(_planner.PlanError, match=r'3g\.20gb \(GI 1, placement 4:4\) with pids 7'):
        _planner.plan_gpu(A100_40, gpu, target)
    assert _planner.plan_gpu(A100_40, gpu, target, force=True).recompute == (1,)


def test_busy_instance_blocks_mig_disable_unless_forced():
    gpu = make_gpu(A100_40, BALANCED_40, (GpuProcess(pid=9, used_mib=1, gpu_instance_id=4, compute_instance_id=0),))
    with pytest.raises(_planner.PlanError, match=r'1g\.5gb \(GI 4, placement 3:1\) with pids 9'):
        _planner.plan_gpu(A100_40, gpu, GpuLayout(False))
    assert len(_planner.plan_gpu(A100_40, gpu, GpuLayout(False), force=True).destroy) == 4


def test_force_still_prefers_keeping_busy_instances():
    # Two busy GIs; the target can keep only one of them: force destroys exactly one.
    current = (make_gi(A100_40, 1, '3g.20gb', 0), make_gi(A100_40, 2, '3g.20gb', 4))
    procs = (GpuProcess(pid=1, used_mib=1, gpu_instance_id=1, compute_instance_id=0),
             GpuProcess(pid=2, used_mib=1, gpu_instance_id=2, compute_instance_id=0))
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, current, procs), layout('4g.20gb', '3g.20gb'), force=True)
    assert plan.keep == (2,)
    assert [gi.id for gi in plan.destroy] == [1]


def test_unfittable_target_is_a_plan_error():
    with pytest.raises(_planner.PlanError, match=r'no placement fits the target instances 3g\.20gb, 3g\.20gb, 1g\.5gb'):
        _planner.plan_gpu(A100_40, make_gpu(A100_40), layout('3g.20gb', '3g.20gb', '1g.5gb'))


# --------------------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------------------

def test_same_input_twice_and_permuted_input_give_identical_plans():
    target = ('3g.20gb', '1g.5gb', '1g.5gb', '1g.5gb', '1g.5gb')
    first = _planner.plan_gpu(A100_40, make_gpu(A100_40, BALANCED_40), layout(*target))
    assert _planner.plan_gpu(A100_40, make_gpu(A100_40, BALANCED_40), layout(*target)) == first
    for order in itertools.permutations(BALANCED_40):
        gpu = make_gpu(A100_40, order)
        specs = [InstanceSpec(s, (s,)) for s in reversed(target)]
        assert _planner.plan_gpu(A100_40, gpu, GpuLayout(True, tuple(specs))) == first


# --------------------------------------------------------------------------------------------------
# Brute force: the planner destroys the minimum number of GIs
# --------------------------------------------------------------------------------------------------

def _placements(model):
    return [(p.name, s, p.memory_slices) for p in model.gi_profiles for s in p.starts]


def _mask(start, size):
    return ((1 << size) - 1) << start


def _disjoint(items):
    used = 0
    for dummy_name, start, size in items:
        if used & _mask(start, size):
            return False
        used |= _mask(start, size)
    return True


def _fits(model, names, used):
    """Naive: can these profile names be placed in the memory slices not in ``used``? (product of all starts)."""
    choices = [[(n, s, model.profile(n).memory_slices) for s in model.profile(n).starts] for n in names]
    for combo in itertools.product(*choices):
        if all(not used & _mask(s, z) for dummy_name, s, z in combo) and _disjoint(combo):
            return True
    return False


def _naive_min_destroyed(model, current, target):
    best = None
    for keep_count in range(len(current), -1, -1):
        for kept in itertools.combinations(current, keep_count):
            rest = list(target)
            ok = True
            for name, dummy_start, dummy_size in kept:
                if name in rest:
                    rest.remove(name)
                else:
                    ok = False
                    break
            if not ok:
                continue
            used = 0
            for dummy_name, start, size in kept:
                used |= _mask(start, size)
            if _fits(model, rest, used):
                best = len(current) - keep_count
                break
        if best is not None:
            return best
    return None


def _counts_ok(model, names):
    """Max counts, and no more JPEG/OFA engines than the whole GPU's profile has (A30: one +me GI at most)."""
    whole = model.profile_by_id(0)
    engines_ok = all(sum(getattr(model.profile(n), engine) or 0 for n in names) <= getattr(whole, engine)
                     for engine in ('jpeg', 'ofa') if getattr(whole, engine) is not None)
    return engines_ok and all(names.count(n) <= model.profile(n).max_count for n in set(names))


@pytest.mark.parametrize('key, max_current, max_target, stride', [
    ('A30', 3, 3, 1),              # every pair
    ('A100-SXM4-40GB', 2, 3, 3),   # every 3rd pair with up to 2 current GIs
    ('A100-SXM4-40GB', 3, 3, 13),  # every 13th pair with 3 current GIs (the space is 10x larger)
])
def test_planner_destroys_the_naive_minimum(key, max_current, max_target, stride):
    model = _catalog.model_by_key(key)
    placements = _placements(model)
    currents = [c for k in range(max_current + 1) for c in itertools.combinations(placements, k)
                if _disjoint(c) and _counts_ok(model, [n for n, dummy_s, dummy_z in c])]
    if stride > 1:
        currents = [c for c in currents if len(c) == max_current]
    targets = [list(t) for k in range(max_target + 1) for t in itertools.combinations_with_replacement(model.profile_names, k)
               if _counts_ok(model, list(t)) and _fits(model, list(t), 0)]
    checked = 0
    for number, (current, target) in enumerate(itertools.product(currents, targets)):
        if number % stride:
            continue
        gis = [make_gi(model, 100 + i, name, start) for i, (name, start, dummy_size) in enumerate(current)]
        plan = _planner.plan_gpu(model, make_gpu(model, gis), layout(*target))
        expected = _naive_min_destroyed(model, current, target)
        assert len(plan.destroy) == expected, (current, target, plan)
        assert sorted(p.profile for p in plan.after) == sorted(target)
        assert _disjoint([(p.profile, p.start, p.size) for p in plan.after])
        assert not plan.changed or expected or len(target) != len(current)
        checked += 1
    assert checked > 1000


# --------------------------------------------------------------------------------------------------
# Branch and bound and memos: exactly the plans of the exhaustive, unmemoized search
# --------------------------------------------------------------------------------------------------

def _exhaustive_search(targets, currents, busy_allowed):
    """The reference: ``_planner._search`` as it was before the branch and bound (commit 1968c38), unchanged."""
    busy_mask = 0
    for current in currents:
        if current.pids and not busy_allowed:
            busy_mask |= current.mask
    options = []
    for target in targets:
        opts = []
        for position, current in enumerate(currents):
            if current.profile is not target.profile:
                continue
            if target.pin is not None and current.gi.start != target.pin:
                continue
            if current.pids and not busy_allowed and current.ci_key != target.ci_key:
                continue   # keeping a busy GI means keeping its CIs too
            opts.append((0, position, current.gi.start, current.mask))
        size = target.profile.memory_slices
        for start in (target.profile.starts if target.pin is None else (target.pin,)):
            opts.append((1, start, start, ((1 << size) - 1) << start))
        options.append(opts)
    best = [None, None]
    choice = [None] * len(targets)
    same_as_previous = [i > 0 and targets[i].key == targets[i - 1].key for i in range(len(targets))]

    def evaluate():
        kept = {}
        for index, (kind, value, dummy_start, dummy_mask) in enumerate(choice):
            if kind == 0:
                kept[value] = index
        busy_touched = 0
        destroyed = 0
        destroyed_cis = 0
        recomputed = 0
        for position, current in enumerate(currents):
            index = kept.get(position)
            if index is None:
                destroyed += 1
                destroyed_cis += len(current.gi.compute_instances)
                busy_touched += bool(current.pids)
            elif current.ci_key != targets[index].ci_key:
                recomputed += 1
                destroyed_cis += len(current.gi.compute_instances)
                busy_touched += bool(current.pids)
        if busy_touched and not busy_allowed:
            return None
        starts = tuple(option[2] for option in choice)
        return (busy_touched, destroyed, destroyed_cis, recomputed, starts)

    def dfs(index, used_mask, used_currents):
        if index == len(targets):
            cost = evaluate()
            if cost is not None and (best[0] is None or cost < best[0]):
                best[0] = cost
                best[1] = tuple(choice)
            return
        previous = choice[index - 1] if same_as_previous[index] else None
        for option in options[index]:
            if previous is not None and option[:2] <= previous[:2]:
                continue
            kind, value, dummy_start, mask = option
            if used_mask & mask:
                continue
            if kind == 0 and value in used_currents:
                continue
            if kind == 1 and busy_mask & mask:
                continue   # a busy GI keeps its slices
            choice[index] = option
            dfs(index + 1, used_mask | mask, used_currents | {value} if kind == 0 else used_currents)
        choice[index] = None

    dfs(0, 0, frozenset())
    return best[1]


def outcome(function, *args, **kwargs):
    """The result of a planner call, or the message of its PlanError (errors must match too)."""
    try:
        return function(*args, **kwargs)
    except _planner.PlanError as exc:
        return 'PlanError: %s' % exc


@pytest.fixture
def reference(monkeypatch):
    """Run a planner call as the planner did before: the exhaustive search, and nothing memoized."""
    def run(function, *args, **kwargs):
        with monkeypatch.context() as patch:
            patch.setattr(_planner, '_search', _exhaustive_search)
            patch.setattr(_planner, '_remember', lambda dummy_memo, dummy_key, compute: compute())
            return outcome(function, *args, **kwargs)
    return run


@pytest.fixture
def empty_memos():
    _planner._TARGETS.clear()
    _planner._FOUND.clear()
    yield
    _planner._TARGETS.clear()
    _planner._FOUND.clear()


def gpu_holding(model, planned, index=0, first_id=1, busy=()):
    """A GPU holding ``planned`` instances, GI ids from ``first_id``; ``busy``: positions of GIs with a process."""
    instances = []
    for number, inst in enumerate(planned):
        cis = tuple(ComputeInstance(id=position, profile=ci.profile, profile_id=ci.profile_id, start=ci.start, size=ci.size)
                    for position, ci in enumerate(inst.compute_instances))
        instances.append(GpuInstance(id=first_id + number, profile=inst.profile, profile_id=model.profile(inst.profile).profile_id,
                                     start=inst.start, size=inst.size, compute_slices=model.profile(inst.profile).compute_slices,
                                     compute_instances=cis))
    processes = tuple(GpuProcess(pid=1000 + position, used_mib=1, gpu_instance_id=first_id + position, compute_instance_id=0)
                      for position in busy if position < len(instances))
    return make_gpu(model, instances, processes, index)


DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'mig-parted-default-config.yaml')


def default_layouts(model):
    """{label: GpuLayout} of the named configs of mig-parted's default config that validate on ``model``."""
    with open(DEFAULT_CONFIG, encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    result = {}
    for label in sorted(config['mig-configs']):
        try:
            targets = targets_for_gpus(parse_mig_parted_config(config, label), [make_gpu(model)], '595.58.03')
        except LayoutError:
            continue
        if 0 in targets:
            result[label] = targets[0].layout
    if len(result) < 3:
        # the RTX PRO 4500: no label of NVIDIA's default config names its profiles; each of its profiles at its max count
        for profile in model.gi_profiles:
            entries = [{'devices': 'all', 'mig-enabled': True, 'mig-devices': {profile.name: profile.max_count}}]
            result['uniform-%s' % profile.name] = targets_for_gpus(entries, [make_gpu(model)], '595.58.03')[0].layout
    return result


MIG_MODELS = [m for m in _catalog.MODELS if m.mig_capable]


@pytest.mark.parametrize('model', MIG_MODELS, ids=lambda m: m.key)
def test_transition_matrix_plans_equal_the_exhaustive_search(model, reference, empty_memos, monkeypatch):
    """Every ordered pair of default-config layouts (the same one too), idle and with a busy GI, with and without force.

    Each pair is planned on two GPUs that differ in index and GI ids, so the second is answered from the memo, and
    both must get exactly the plan (or PlanError) of the exhaustive search without memos.
    """
    searches = []
    search = _planner._search
    monkeypatch.setattr(_planner, '_search', lambda *args: searches.append(args) or search(*args))
    layouts = default_layouts(model)
    assert len(layouts) >= 3
    placed = dict((label, _planner.plan_gpu(model, make_gpu(model), layout).after) for label, layout in layouts.items())
    compared = 0
    for source in sorted(layouts):
        for label, target in sorted(layouts.items()):
            assert outcome(_planner.find_placements, model, target.instances) == reference(_planner.find_placements, model, target.instances)
            for busy, force in (((), False), ((1,), False), ((1,), True)):
                for index, first_id in ((0, 1), (5, 40)):
                    gpu = gpu_holding(model, placed[source], index, first_id, busy)
                    searched = len(searches)
                    got = outcome(_planner.plan_gpu, model, gpu, target, force=force)
                    assert got == reference(_planner.plan_gpu, model, gpu, target, force=force), (source, label, busy, force, index)
                    if index:
                        assert len(searches) == searched, 'the second GPU was searched again, not answered from the memo'
                    compared += 1
    assert compared == 6 * len(layouts) ** 2


def random_current(model, rng):
    """Up to the model's GI count of disjoint GIs of any profile, each with a random fitting set of CIs."""
    planned = []
    used = 0
    for dummy in range(rng.randint(0, model.memory_slices)):
        profile = rng.choice(model.gi_profiles)
        start = rng.choice(profile.starts)
        mask = ((1 << profile.memory_slices) - 1) << start
        if used & mask:
            continue
        computes = [rng.choice(profile.compute_profiles) for dummy_ci in range(rng.randint(1, 3))]
        placed = _planner.place_compute_instances(profile, computes) or _planner.place_compute_instances(profile, computes[:1])
        used |= mask
        planned.append(GpuInstance(profile.name, start, profile.memory_slices, _planner._planned_compute(placed), profile.profile_id,
                                   compute_slices=profile.compute_slices))
    return sorted(planned, key=lambda p: p.start)


def random_target(model, rng, layouts):
    """A default-config layout, or random instances (CI splits, pins; some do not fit)."""
    if rng.random() < 0.3:
        return rng.choice(sorted(layouts.values(), key=repr))
    specs = []
    for dummy in range(rng.randint(0, 5)):
        profile = rng.choice(model.gi_profiles)
        computes = rng.choice([(profile.name,), tuple(c.name for c in profile.compute_profiles[:2])])
        if _planner.place_compute_instances(profile, [c for c in profile.compute_profiles if c.name in computes]) is None:
            computes = (profile.name,)
        specs.append(InstanceSpec(profile.name, computes, rng.choice([None, None, rng.choice(profile.starts)])))
    return GpuLayout(True, tuple(specs))


@pytest.mark.parametrize('model', [A100_40, A30, _catalog.model_by_key('H100-NVL'), _catalog.model_by_key('B200')], ids=lambda m: m.key)
def test_random_plans_equal_the_exhaustive_search(model, reference, empty_memos):
    """Random current GIs (any profile, split CIs, busy ones) and targets (CI splits, pins, unfittable ones), twice each."""
    rng = random.Random(model.key)
    layouts = default_layouts(model)
    kinds = collections.Counter()
    for dummy in range(300):
        current = random_current(model, rng)
        target = random_target(model, rng, layouts)
        busy = tuple(position for position in range(len(current)) if rng.random() < 0.2)
        force = rng.random() < 0.5
        for index, first_id in ((0, 1), (3, 20)):
            gpu = gpu_holding(model, current, index, first_id, busy)
            got = outcome(_planner.plan_gpu, model, gpu, target, force=force)
            assert got == reference(_planner.plan_gpu, model, gpu, target, force=force), (current, target, busy, force)
        kinds['error' if isinstance(got, str) else 'recompute' if got.recompute else 'keep' if got.keep else 'other'] += 1
    assert min(kinds[k] for k in ('error', 'recompute', 'keep', 'other')) >= 5, kinds   # the sample covers every case


def test_memo_never_mixes_equal_model_objects(empty_memos):
    # An equal but distinct model (its own profile objects) must not get targets built from the catalog's model: the
    # search matches current GIs to targets by profile identity, so it would keep nothing.
    twin = dataclasses.replace(A100_40, gi_profiles=tuple(dataclasses.replace(p) for p in A100_40.gi_profiles))
    assert twin == A100_40 and twin.profile('3g.20gb') is not A100_40.profile('3g.20gb')
    target = layout('1g.5gb', '1g.5gb', '2g.10gb', '3g.20gb')
    assert not _planner.plan_gpu(A100_40, make_gpu(A100_40), target).keep   # the memo now holds A100_40's targets
    for model in (twin, A100_40):
        gpu = make_gpu(model, (make_gi(model, 1, '3g.20gb', 4), make_gi(model, 2, '2g.10gb', 0),
                               make_gi(model, 3, '1g.5gb', 2), make_gi(model, 4, '1g.5gb', 3)))
        assert _planner.plan_gpu(model, gpu, target).keep == (1, 2, 3, 4)


def test_memo_tells_apart_current_gis_that_differ_only_in_their_cis(empty_memos):
    target = layout(InstanceSpec('3g.20gb', ('2c.3g.20gb', '1c.3g.20gb')), InstanceSpec('3g.20gb', ('1c.3g.20gb', '1c.3g.20gb')))
    for first, second in ((['2c.3g.20gb', '1c.3g.20gb'], ['1c.3g.20gb', '1c.3g.20gb']), (['1c.3g.20gb', '1c.3g.20gb'], ['2c.3g.20gb', '1c.3g.20gb'])):
        gpu = make_gpu(A100_40, (make_gi(A100_40, 1, '3g.20gb', 0, first), make_gi(A100_40, 2, '3g.20gb', 4, second)))
        plan = _planner.plan_gpu(A100_40, gpu, target)
        assert (plan.keep, plan.recompute) == ((1, 2), ())


def test_memo_keeps_errors_naming_each_gpu_and_unhashable_specs_work(empty_memos):
    bad = layout('1g.5gb', '9g.80gb')
    for index in (0, 6):
        with pytest.raises(_planner.PlanError, match=r"^GPU %d \(A100-SXM4-40GB\), instance 1: unknown MIG profile '9g\.80gb'" % index):
            _planner.plan_gpu(A100_40, make_gpu(A100_40, index=index), bad)
    listed = [InstanceSpec('1g.5gb', ['1g.5gb']), InstanceSpec('3g.20gb', ['1c.3g.20gb', '2c.3g.20gb'])]
    assert _planner.find_placements(A100_40, listed) == _planner.find_placements(A100_40, [
        InstanceSpec('1g.5gb', ('1g.5gb',)), InstanceSpec('3g.20gb', ('1c.3g.20gb', '2c.3g.20gb'))])


def test_memo_stays_bounded(monkeypatch, empty_memos):
    monkeypatch.setattr(_planner, '_MEMO_LIMIT', 3)
    for profile in A100_40.gi_profiles:
        for start in profile.starts:
            expected = [(profile.name, start, profile.memory_slices)]
            assert placed(_planner.find_placements(A100_40, [InstanceSpec(profile.name, (profile.name,), start)])) == expected
            assert len(_planner._TARGETS) <= 3 and len(_planner._FOUND) <= 3
