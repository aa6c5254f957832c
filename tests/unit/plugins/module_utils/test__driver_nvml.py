# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The driver checks against an NVML that refuses what an older driver refuses (fidelity-2026-12 D4).

Through the real pynvml on the simulator, whose driver gating is generated from the catalog: the catalog's verdict
(driver_check's ``check_driver``, mig_layout's ``targets_for_gpus``) and NVML's own answers agree at every driver level,
and a layout the checks would refuse really fails on that NVML, with the GPU restored.
"""

from __future__ import annotations


import pytest

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils._apply import ApplyError, apply_with_rollback, canonical_gpu
from ansible_collections.gpufleet.mig.plugins.module_utils._driver import DriverPolicy, check_driver
from ansible_collections.gpufleet.mig.plugins.module_utils._gpu_targets import targets_for_gpus
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import LayoutError, parse_inline_layout
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import Nvml
from ansible_collections.gpufleet.mig.plugins.module_utils._planner import plan_gpu


# Driver levels around every documented minimum (mig.md 5.1, 3.3).
LEVELS = {
    'A100-SXM4-40GB': ('460.106.00', '470.82.01', '510.47.03', '525.60.13'),
    'A100-SXM4-80GB': ('460.106.00', '470.82.01', '525.60.13'),
    'A30': ('465.19.01', '470.82.01', '525.60.13'),
}


@pytest.mark.parametrize('model_key, driver', [(key, driver) for key, drivers in sorted(LEVELS.items()) for driver in drivers])
def test_nvml_offers_exactly_the_profiles_the_catalog_allows(node, model_key, driver):
    node(model_key, driver)
    model = _catalog.model_by_key(model_key)
    with Nvml() as nvml:
        state = nvml.read_host()
        offered = set(nvml.gpu_instance_profiles(nvml.handle(0), 0))
    assert state.driver_version == driver
    allowed = {p.profile_id for p in model.gi_profiles if _catalog.driver_at_least(driver, p.min_driver)}
    assert offered == allowed
    for profile in model.gi_profiles:
        report = check_driver(state, DriverPolicy(profiles=(profile.name,)))
        assert report.ok is (profile.profile_id in offered), (profile.name, report.problems)


@pytest.mark.parametrize('model_key, driver, layout, layout_refusal, driver_refusal', [
    ('A100-SXM4-40GB', '470.82.01', {'1g.10gb': 1}, 'profile 1g.10gb on A100-SXM4-40GB needs driver 525 or newer; this node has 470.82.01',
     'needs driver R525 or newer for profile 1g.10gb on A100-SXM4-40GB; the node has 470.82.01'),
    ('A100-SXM4-40GB', '460.106.00', {'1g.5gb+me': 1}, 'profile 1g.5gb+me on A100-SXM4-40GB needs driver 470 or newer',
     'needs driver R470 or newer for profile 1g.5gb+me'),
    ('A100-SXM4-40GB', '470.82.01', {'4g.20gb': 1, '3g.20gb': 1},
     'profiles 4g + 3g together on one A100-SXM4-40GB needs driver 510 or newer; this node has 470.82.01', None),
    ('A30', '470.82.01', {'2g.12gb+me': 1}, 'profile 2g.12gb+me on A30 needs driver 525 or newer',
     'needs driver R525 or newer for profile 2g.12gb+me'),
])
def test_a_refused_layout_is_refused_by_the_checks_and_by_nvml(node, model_key, driver, layout, layout_refusal, driver_refusal):
    node(model_key, driver)
    model = _catalog.model_by_key(model_key)
    entries = parse_inline_layout([{'devices': 'all', 'mig-enabled': True, 'mig-devices': layout}])
    with Nvml() as nvml:
        state = nvml.read_host()
        gpu = canonical_gpu(state.gpus[0], model)
        driver_report = check_driver(state, DriverPolicy(profiles=tuple(layout)))
        with pytest.raises(LayoutError) as exc:
            targets_for_gpus(entries, state.gpus, state.driver_version)
        # Without the driver check, the same layout is planned, and the NVML of that driver refuses it.
        target = targets_for_gpus(entries, state.gpus, None)[0]
        plan = plan_gpu(model, gpu, target.layout)
        with pytest.raises(ApplyError) as failed:
            apply_with_rollback(nvml, model, gpu, plan.after)
        after = nvml.read_gpu(0)
    assert any(layout_refusal in problem for problem in exc.value.problems), exc.value.problems
    if driver_refusal is not None:   # driver_check judges profiles one by one, not their combinations
        assert not driver_report.ok and driver_refusal in ' '.join(driver_report.problems), driver_report.problems
    assert failed.value.restored is True
    assert 'Not Supported' in str(failed.value) or 'Insufficient Resources' in str(failed.value) or 'Invalid Argument' in str(failed.value)
    assert after.gpu_instances == ()


def test_the_same_layout_applies_on_a_new_enough_driver(node):
    node('A100-SXM4-40GB', '510.47.03')
    model = _catalog.model_by_key('A100-SXM4-40GB')
    entries = parse_inline_layout([{'devices': 'all', 'mig-enabled': True, 'mig-devices': {'4g.20gb': 1, '3g.20gb': 1}}])
    with Nvml() as nvml:
        state = nvml.read_host()
        target = targets_for_gpus(entries, state.gpus, state.driver_version)[0]
        gpu = canonical_gpu(state.gpus[0], model)
        apply_with_rollback(nvml, model, gpu, plan_gpu(model, gpu, target.layout).after)
        after = nvml.read_gpu(0)
    assert sorted((gi.profile, gi.start) for gi in after.gpu_instances) == [('3g.20gb', 4), ('4g.20gb', 0)]
