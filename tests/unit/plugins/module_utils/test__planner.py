# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for the placement planner (exact placements, minimal change, busy instances)."""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils import _planner
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import ComputeInstance, GpuInstance, GpuProcess, GpuState
from ansible_collections.gpufleet.mig.plugins.module_utils._layout import GpuLayout, InstanceSpec

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
    items = plan_or_tuple.target if isinstance(plan_or_tuple, _planner.GpuPlan) else plan_or_tuple
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
    assert [(p.profile, p.start, p.existing_id) for p in plan.target] == [
        ('2g.10gb', 0, 2), ('1g.5gb', 2, 3), ('1g.5gb', 3, 4), ('3g.20gb', 4, 1)]


def test_mig_disabled_target_destroys_everything():
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, BALANCED_40), GpuLayout(False))
    assert plan.changed
    assert [gi.id for gi in plan.destroy] == [2, 3, 4, 1]   # by start
    assert (plan.keep, plan.create, plan.target) == ((), (), ())


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
    recomputed = [p for p in plan.target if p.existing_id == 2][0]
    assert [(c.profile, c.profile_id, c.start, c.size) for c in recomputed.compute] == [
        ('1c.3g.20gb', 0, 0, 1), ('1c.3g.20gb', 0, 1, 1), ('1c.3g.20gb', 0, 2, 1)]


def test_recompute_prefers_the_gi_whose_cis_already_match():
    split = make_gi(A100_40, 1, '3g.20gb', 4, ['2c.3g.20gb', '1c.3g.20gb'])
    whole = make_gi(A100_40, 2, '3g.20gb', 0)
    target = layout(InstanceSpec('3g.20gb', ('2c.3g.20gb', '1c.3g.20gb')), InstanceSpec('3g.20gb', ('1c.3g.20gb',) * 3))
    plan = _planner.plan_gpu(A100_40, make_gpu(A100_40, (split, whole)), target)
    assert (plan.keep, plan.recompute) == ((1,), (2,))


def test_ci_placements_largest_first_at_multiples_of_their_size():
    seven = A100_40.profile('7g.40gb')
    by_name = dict((c.name, c) for c in seven.compute_profiles)
    result = _planner.place_compute_instances(seven, [by_name['1c.7g.40gb'], by_name['2c.7g.40gb'], by_name['1c.7g.40gb'], by_name['3c.7g.40gb']])
    assert [(c.name, start) for c, start in result] == [('3c.7g.40gb', 0), ('2c.7g.40gb', 4), ('1c.7g.40gb', 3), ('1c.7g.40gb', 6)]
    assert _planner.place_compute_instances(seven, [by_name['4c.7g.40gb'], by_name['3c.7g.40gb']]) is None
    three = A100_40.profile('3g.20gb')
    ci = dict((c.name, c) for c in three.compute_profiles)
    assert _planner.place_compute_instances(three, [ci['2c.3g.20gb'], ci['2c.3g.20gb']]) is None
    assert seven.compute_starts(by_name['3c.7g.40gb']) == (0, 3)
    assert three.compute_starts(ci['1c.3g.20gb']) == (0, 1, 2)


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
    assert plan.target[0].compute[0].profile == '3g.40gb'


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
    return all(names.count(n) <= model.profile(n).max_count for n in set(names))


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
        assert sorted(p.profile for p in plan.target) == sorted(target)
        assert _disjoint([(p.profile, p.start, p.size) for p in plan.target])
        assert not plan.changed or expected or len(target) != len(current)
        checked += 1
    assert checked > 1000
