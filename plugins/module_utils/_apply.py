# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Bring one GPU to an exact layout through NVML, and put it back exactly when that fails.

A layout here is exact: every GPU instance has its placement and every compute instance its
placement inside the GI, as the planner produces them.  :func:`steps_to` is the pure difference
between what a GPU has and such a layout; the same difference drives the change, the
verification afterwards (it must be empty) and the rollback (towards the layout read before the
change).  So a failure at any NVML call leaves the GPU in its old layout, with the same
placements, or, when even that fails, reports exactly what the GPU holds.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import ComputeInstance, GpuInstance
from ansible_collections.gpufleet.mig.plugins.module_utils._nvml import NvmlError

__all__ = (
    'ApplyError',
    'Step',
    'apply_with_rollback',
    'canonical_gpu',
    'exact_layout_of',
    'steps_to',
)


@dataclasses.dataclass(frozen=True)
class Step:
    """One NVML change; ``kind`` is destroy-ci, destroy-gi, create-gi or create-ci."""

    kind: str
    gi_profile: str
    gi_start: int
    gi_size: int
    gi_id: t.Optional[int] = None
    ci_profile: t.Optional[str] = None
    ci_start: t.Optional[int] = None
    ci_size: t.Optional[int] = None
    ci_id: t.Optional[int] = None

    def __str__(self):
        gi = 'GPU instance %s at %d:%d' % (self.gi_profile, self.gi_start, self.gi_size)
        if self.kind == 'destroy-gi':
            return 'destroy %s (id %s)' % (gi, self.gi_id)
        if self.kind == 'create-gi':
            return 'create %s' % gi
        ci = 'compute instance %s at %d:%d' % (self.ci_profile, self.ci_start, self.ci_size)
        if self.kind == 'destroy-ci':
            return 'destroy %s (id %s) in %s' % (ci, self.ci_id, gi)
        return 'create %s in %s' % (ci, gi)


class ApplyError(Exception):
    """Changing a GPU failed; ``restored`` tells whether its old layout was put back, ``state`` what it holds now."""

    def __init__(self, message, index, done=(), restored=None, state=None):
        super(ApplyError, self).__init__(message)
        self.index = index
        self.done = tuple(done)
        self.restored = restored
        self.state = state


def canonical_gpu(gpu, model):
    """Return ``gpu`` with profile names as the catalog spells them on ``model``.

    Drivers derive names from memory sizes, so the same profile can be reported as 3g.39gb or
    3g.40gb; the device-specific profile id is what identifies it.
    """
    instances = []
    for gi in gpu.gpu_instances:
        try:
            name = model.profile_by_id(gi.profile_id).name
        except LookupError:
            name = gi.profile
        cis = tuple(dataclasses.replace(ci, profile=name if ci.size >= gi.compute_slices else '%dc.%s' % (ci.size, name))
                    for ci in gi.compute_instances)
        instances.append(dataclasses.replace(gi, profile=name, compute_instances=cis))
    return dataclasses.replace(gpu, gpu_instances=tuple(instances))


def exact_layout_of(gpu):
    """The GPU's current instances as an exact layout (what a rollback restores): profiles and placements only, without
    what NVML numbers anew when it creates them again (ids, UUIDs), so that two layouts compare equal when the same."""
    return tuple(
        GpuInstance(gi.profile, gi.start, gi.size, tuple(ComputeInstance(ci.profile, ci.start, ci.size) for ci in gi.compute_instances))
        for gi in gpu.gpu_instances
    )


def steps_to(gpu, exact):
    """The NVML steps that turn ``gpu`` (a canonical GpuState) into the exact layout ``exact`` (GpuInstances).

    GPU instances match by profile and placement, compute instances by size and placement.
    Destroys come first (compute instances before their GPU instance), then creates, GPU
    instances in the order of ``exact``.
    """
    wanted = {(inst.profile, inst.start, inst.size): inst for inst in exact}
    destroys = []
    creates = []
    present = set()
    for gi in gpu.gpu_instances:
        key = (gi.profile, gi.start, gi.size)
        inst = wanted.get(key)
        keep_cis = set() if inst is None else {(ci.start, ci.size) for ci in inst.compute_instances}
        for ci in gi.compute_instances:
            if (ci.start, ci.size) not in keep_cis:
                destroys.append(Step('destroy-ci', gi.profile, gi.start, gi.size, gi.id, ci.profile, ci.start, ci.size, ci.id))
        if inst is None:
            destroys.append(Step('destroy-gi', gi.profile, gi.start, gi.size, gi.id))
        else:
            present.add(key)
            have = {(ci.start, ci.size) for ci in gi.compute_instances}
            for ci in inst.compute_instances:
                if (ci.start, ci.size) not in have:
                    creates.append(Step('create-ci', gi.profile, gi.start, gi.size, gi.id, ci.profile, ci.start, ci.size))
    for inst in exact:
        if (inst.profile, inst.start, inst.size) in present:
            continue
        creates.append(Step('create-gi', inst.profile, inst.start, inst.size))
        creates.extend(Step('create-ci', inst.profile, inst.start, inst.size, None, ci.profile, ci.start, ci.size) for ci in inst.compute_instances)
    return destroys + creates


def _run(nvml, model, index, steps):
    """Execute ``steps`` on GPU ``index``; return the steps done. NvmlError propagates with the done list attached."""
    done = []
    created = {}
    for step in steps:
        try:
            if step.kind == 'destroy-ci':
                nvml.destroy_compute_instance(index, step.gi_id, step.ci_id)
            elif step.kind == 'destroy-gi':
                nvml.destroy_gpu_instance(index, step.gi_id)
            elif step.kind == 'create-gi':
                profile = model.profile(step.gi_profile)
                created[(step.gi_start, step.gi_size)] = nvml.create_gpu_instance(index, profile.nvml_enum, step.gi_start, step.gi_size)
            else:
                gi_id = step.gi_id if step.gi_id is not None else created[(step.gi_start, step.gi_size)]
                nvml.create_compute_instance(index, gi_id, step.ci_size, step.ci_start)
        except NvmlError as exc:
            exc.done = tuple(done)
            exc.step = step
            raise
        done.append(step)
    return done


def _converge(nvml, model, index, exact):
    gpu = canonical_gpu(nvml.read_gpu(index), model)
    return _run(nvml, model, index, steps_to(gpu, exact))


def apply_with_rollback(nvml, model, before, after):
    """Turn GPU ``before.index`` (canonical state read before planning) into the exact layout ``after``; verify; roll back on failure.

    Returns the steps done.  Raises :class:`ApplyError` when the change or its verification
    fails; by then the old layout has been restored with its exact placements (``restored`` is
    True), or the error says what the GPU holds.
    """
    index = before.index
    try:
        done = _run(nvml, model, index, steps_to(before, after))
        left = steps_to(canonical_gpu(nvml.read_gpu(index), model), after)
        if left:
            raise ApplyError('GPU %d does not match the plan after the change; still missing: %s'
                             % (index, '; '.join(str(s) for s in left)), index, done)
        return done
    except (NvmlError, ApplyError) as exc:
        cause = str(exc)
        if isinstance(exc, NvmlError) and getattr(exc, 'step', None) is not None:
            cause = 'step "%s" failed: %s' % (exc.step, exc)
        done = getattr(exc, 'done', ())
    old = exact_layout_of(before)
    try:
        _converge(nvml, model, index, old)
        state = canonical_gpu(nvml.read_gpu(index), model)
        restored = not steps_to(state, old)
    except NvmlError as exc:
        restored = False
        cause += '; restoring the previous layout also failed: %s' % exc
        state = _read_quietly(nvml, model, index)
    outcome = ('the previous layout was restored with its exact placements' if restored
               else 'the previous layout could NOT be fully restored; the GPU now holds: %s' % _describe(state))
    raise ApplyError('GPU %d: %s; %s' % (index, cause, outcome), index, done, restored, state)


def _read_quietly(nvml, model, index):
    try:
        return canonical_gpu(nvml.read_gpu(index), model)
    except NvmlError:
        return None


def _describe(state):
    if state is None:
        return 'unknown (NVML cannot read it)'
    if not state.gpu_instances:
        return 'no GPU instances'
    return ', '.join('%s at %d:%d with %d compute instance(s)' % (gi.profile, gi.start, gi.size, len(gi.compute_instances))
                     for gi in state.gpu_instances)
