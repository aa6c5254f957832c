# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Placement planning: explicit GPU-instance placements and the smallest change from the current state.

mig-parted lets the driver choose slots and rebuilds a whole GPU for any change (mig.md 3.2, 3.3). This planner
instead chooses an explicit placement for every GPU instance (GI) and keeps every current GI that the target can
use, so ``Insufficient Resources`` caused by creation order cannot happen and unchanged instances keep running.

Search. The target instances are put in a canonical order (memory slices descending, compute slices descending,
profile name, pinned start with unpinned last, compute-instance names). Each one is given, in turn, either a
current GI of the same catalog profile (at the pinned start when pinned) or a new valid start; every choice must
not overlap the memory slices of the choices made before. Identical target instances (same profile, pin and
compute instances) take their choices in strictly increasing option order, which removes the permutations of
identical instances without losing any distinct plan. The space is small (at most 7 instances of at most 7 starts
each), so the search is exhaustive, exact and deterministic; it only skips branches that provably hold no plan as
good as the best one found (branch and bound, see ``_search``). Its results and the prepared targets are memoized
per process on everything they depend on, because a fleet repeats a few (layout, current instances) pairs.

Objective, compared in this order (smaller wins):

0. busy instances touched (only with ``force``; without it every busy GI must be kept untouched, see below);
1. current GIs destroyed;
2. current CIs destroyed (those of destroyed GIs plus those of recomputed GIs);
3. GIs recomputed (kept, but their CIs destroyed and re-created);
4. tie-break: the tuple of placement starts of the target instances in canonical order, i.e. the largest
   instances get the lowest starts. It is a total order on distinct plans, so the result never depends on
   the order in which current instances or target instances were given.

A current GI matches a target instance when its catalog profile (found by profile id, else by its possibly
drifted name) is the target's profile. It is kept untouched when its CI multiset (CI profiles by catalog name)
equals the target's, else kept and its CIs rebuilt (``recompute``).

Busy rule. A GI is busy when a process in ``gpu.processes`` runs in it (its ``gpu_instance_id``; a busy CI makes
its GI busy). Processes without a GI id (MIG off, or not attributable) do not pin any instance; the mode step
deals with them. Without ``force`` every busy GI must be kept untouched: plans that destroy or recompute one are
not considered, and when none is left a PlanError names the instance, its placement and the pids. With ``force``
busy GIs may be destroyed, but plans touching fewer busy GIs are still preferred (objective 0); NVML itself may
still refuse to destroy an instance in use.

Compute instances. A CI of C slices starts at one of the starts the catalog's CI placement table gives for a GI of G
compute slices (``GpuInstanceProfile.compute_starts``; partly uncertain, see ``_catalog._CI_STARTS``). CIs are placed largest first, each at the
lowest start that still lets the rest fit (an exhaustive search over at most 7 CIs), so the result is exact and
deterministic.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils._gpustate import ComputeInstance, GpuInstance

__all__ = (
    'GpuPlan',
    'PlanError',
    'find_placements',
    'place_compute_instances',
    'plan_gpu',
)


class PlanError(Exception):
    """No plan exists: the message names the GPU, what cannot be done and why."""


@dataclasses.dataclass(frozen=True)
class GpuPlan:
    """What to do on one GPU to reach a target layout."""

    index: int
    keep: t.Tuple[int, ...]
    recompute: t.Tuple[int, ...]
    destroy: t.Tuple[GpuInstance, ...]     # current instances, as read
    create: t.Tuple[GpuInstance, ...]      # new instances (no id)
    after: t.Tuple[GpuInstance, ...]       # the whole exact layout after the change; kept instances have their id

    @property
    def changed(self):
        """True when the plan destroys, creates or recomputes anything."""
        return bool(self.destroy or self.create or self.recompute)


# --------------------------------------------------------------------------------------------------
# Compute instances inside one GI
# --------------------------------------------------------------------------------------------------

def place_compute_instances(gi_profile, compute_profiles):
    """Place CIs inside one GI of ``gi_profile``; return ``((compute_profile, start), ...)`` or None when they cannot fit.

    ``compute_profiles`` is a sequence of ``_catalog.ComputeProfile`` of ``gi_profile`` (repeats allowed). The result is
    ordered largest first (then by name) and each CI takes the lowest start that lets the others fit. Placement rule:
    ``GpuInstanceProfile.compute_starts``.
    """
    ordered = sorted(compute_profiles, key=lambda c: (-c.slices, c.name))
    counts = {}
    for compute in ordered:
        counts[compute.name] = counts.get(compute.name, 0) + 1
        if counts[compute.name] > compute.max_count:
            return None
    if sum(c.slices for c in ordered) > gi_profile.compute_slices:
        return None
    starts = [gi_profile.compute_starts(c) for c in ordered]
    chosen = []

    def search(position, used):
        if position == len(ordered):
            return True
        size = ordered[position].slices
        minimum = 0
        if position and ordered[position - 1].name == ordered[position].name:
            minimum = chosen[-1] + 1   # identical CIs in increasing start order
        for start in starts[position]:
            mask = ((1 << size) - 1) << start
            if start < minimum or used & mask:
                continue
            chosen.append(start)
            if search(position + 1, used | mask):
                return True
            chosen.pop()
        return False

    if not search(0, 0):
        return None
    return tuple(zip(ordered, chosen))


def _planned_compute(placed):
    return tuple(sorted((ComputeInstance(profile=c.name, profile_id=c.nvml_enum, start=start, size=c.slices) for c, start in placed),
                        key=lambda p: (p.start, p.size)))


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------

def _gpu_label(model, index):
    return 'GPU %s (%s)' % ('?' if index is None else index, model.key)


def _target_profile(model, name, where):
    try:
        return model.profile(name)
    except _catalog.UnknownProfileError:
        pass
    try:
        return model.resolve_profile(name)[0]
    except _catalog.UnknownProfileError as exc:
        raise PlanError('%s: %s' % (where, exc)) from exc


def _target_compute(model, gi_profile, name, where):
    """The ComputeProfile of ``gi_profile`` named ``name`` ('1c.3g.20gb', '3g.20gb'; a drifted GI part is resolved).

    Where two compute profiles share a name (a Hopper double-memory GI's 1_SLICE and 1_SLICE_REV1), the default one wins.
    """
    for compute in sorted(gi_profile.compute_profiles, key=lambda c: not c.is_default):
        if compute.name == name:
            return compute
    try:
        parsed = _catalog.parse_profile_name(name)
        gi_part = name.split('.', 1)[1] if parsed['compute_slices'] is not None else name
        slices = parsed['compute_slices'] or parsed['gpu_slices']
        if model.resolve_profile(gi_part)[0] is gi_profile:
            for compute in gi_profile.compute_profiles:
                if compute.slices == slices:
                    return compute
    except (_catalog.UnknownProfileError, ValueError):
        pass
    raise PlanError('%s: compute-instance profile %r cannot be created in a %s GPU instance; valid: %s'
                    % (where, name, gi_profile.name, ', '.join(gi_profile.compute_profile_names)))


class _Target(object):
    """One target instance with its catalog profiles, planned CIs and canonical sort key."""

    def __init__(self, model, spec, where):
        if isinstance(spec, str):
            profile, compute, start = spec, None, None
        else:
            profile, compute, start = spec.profile, spec.compute, spec.start
        self.profile = _target_profile(model, profile, where)
        if compute is None:
            compute = (self.profile.name,)
        computes = [_target_compute(model, self.profile, name, where) for name in compute]
        placed = place_compute_instances(self.profile, computes)
        if placed is None:
            raise PlanError('%s: compute instances %s do not fit in one %s GPU instance (%d compute slices)'
                            % (where, ', '.join(compute), self.profile.name, self.profile.compute_slices))
        self.compute = _planned_compute(placed)
        self.ci_key = tuple(sorted(c.name for c in computes))
        if start is not None and start not in self.profile.starts:
            raise PlanError('%s: %s cannot start at memory slice %r; valid starts: %s'
                            % (where, self.profile.name, start, ', '.join(str(s) for s in self.profile.starts)))
        self.pin = start
        self.key = (-self.profile.memory_slices, -self.profile.compute_slices, self.profile.name,
                    start is None, start or 0, self.ci_key)

    def instance(self, start):
        """The new GPU instance this target gives at memory slice ``start``."""
        return GpuInstance(profile=self.profile.name, profile_id=self.profile.profile_id, start=start, size=self.profile.memory_slices,
                           compute_instances=self.compute, compute_slices=self.profile.compute_slices)


class _Current(object):
    """One current GI: its catalog profile (None when unknown), CI multiset and busy pids."""

    def __init__(self, model, gi, pids):
        self.gi = gi
        self.profile = None
        try:
            self.profile = model.profile_by_id(gi.profile_id)
            if self.profile.memory_slices != gi.size:
                self.profile = None
        except _catalog.UnknownProfileError:
            pass
        if self.profile is None:
            try:
                self.profile = model.resolve_profile(gi.profile)[0]
            except (_catalog.UnknownProfileError, ValueError):
                self.profile = None
        names = []
        for ci in gi.compute_instances:
            names.append(self._ci_name(ci))
        self.ci_key = tuple(sorted(names))
        self.pids = tuple(sorted(pids))
        self.mask = ((1 << gi.size) - 1) << gi.start

    def _ci_name(self, ci):
        if self.profile is not None:
            for compute in self.profile.compute_profiles:
                if compute.nvml_enum == ci.profile_id and compute.slices == ci.size:
                    return compute.name
            for compute in self.profile.compute_profiles:
                if compute.slices == ci.size:
                    return compute.name
        return '?' + str(ci.profile)

    def planned(self, compute=None):
        gi = self.gi
        if compute is None:
            compute = tuple(sorted((ComputeInstance(profile=self._ci_name(ci), profile_id=ci.profile_id, start=ci.start, size=ci.size)
                                    for ci in gi.compute_instances), key=lambda p: (p.start, p.size)))
        if self.profile is None:
            name, compute_slices = gi.profile, gi.compute_slices
        else:
            name, compute_slices = self.profile.name, self.profile.compute_slices
        return GpuInstance(profile=name, profile_id=gi.profile_id, start=gi.start, size=gi.size, compute_instances=compute, id=gi.id,
                           compute_slices=compute_slices)


# --------------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------------

def _search(targets, currents, busy_allowed):
    """Best assignment: a tuple with, per target (canonical order), ('keep', current position) or ('new', start); None if none.

    Branch and bound: the exhaustive depth-first search, cut where a branch cannot match the best plan found so far.
    A branch's cost counts the current GIs it can no longer keep (another choice took their slices, or no later
    target can keep them) as destroyed and its kept GIs with other CIs as recomputed, after the starts it chose: a
    lower bound of every plan below it, and the exact cost of a complete plan. A branch is cut only when that is
    strictly worse than the best plan, and the visiting order is unchanged, so the result is the plan the full search
    returns (the first of the cheapest, in that order).
    """
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
            recompute = 1 << position if current.ci_key != target.ci_key else 0
            opts.append((0, position, current.gi.start, current.mask, recompute))
        size = target.profile.memory_slices
        for start in (target.profile.starts if target.pin is None else (target.pin,)):
            opts.append((1, start, start, ((1 << size) - 1) << start, 0))
        options.append(opts)
    # orphans[i]: the current GIs (a bit per position) that no target from i on can keep; at the end, all of them.
    orphans = [(1 << len(currents)) - 1] * (len(targets) + 1)
    for index in range(len(targets) - 1, -1, -1):
        orphans[index] = orphans[index + 1]
        for option in options[index]:
            if option[0] == 0:
                orphans[index] &= ~(1 << option[1])
    best = [None, None]
    choice = [None] * len(targets)
    same_as_previous = [i > 0 and targets[i].key == targets[i - 1].key for i in range(len(targets))]
    covering = {}
    counted = {}

    def covered(used_mask):
        """The current GIs that overlap the memory slices ``used_mask``."""
        if used_mask not in covering:
            covering[used_mask] = sum(1 << position for position, current in enumerate(currents) if current.mask & used_mask)
        return covering[used_mask]

    def counts(destroyed, recomputed):
        """(busy GIs touched, GIs destroyed, CIs destroyed, GIs recomputed) for these current GIs."""
        if (destroyed, recomputed) not in counted:
            touched = [current for position, current in enumerate(currents) if (destroyed | recomputed) >> position & 1]
            counted[destroyed, recomputed] = (sum(bool(c.pids) for c in touched), bin(destroyed).count('1'),
                                              sum(len(c.gi.compute_instances) for c in touched), bin(recomputed).count('1'))
        return counted[destroyed, recomputed]

    def dfs(index, used_mask, kept, recomputed, starts):
        cost = counts((covered(used_mask) | orphans[index]) & ~kept, recomputed) + starts
        if cost[0] and not busy_allowed:
            return   # every plan below touches a busy GI
        if best[0] is not None and cost > best[0][:len(cost)]:
            return
        if index == len(targets):
            if best[0] is None or cost < best[0]:
                best[:] = [cost, tuple(option[:4] for option in choice)]
            return
        previous = choice[index - 1] if same_as_previous[index] else None
        for option in options[index]:
            if previous is not None and option[:2] <= previous[:2]:
                continue
            kind, value, start, mask, recompute = option
            if used_mask & mask:
                continue
            if kind == 0 and kept >> value & 1:
                continue
            if kind == 1 and busy_mask & mask:
                continue   # a busy GI keeps its slices
            choice[index] = option
            dfs(index + 1, used_mask | mask, kept | (1 << value if kind == 0 else 0), recomputed | recompute, starts + (start,))
        choice[index] = None

    dfs(0, 0, 0, 0, ())
    return best[1]


# Memos of the two costly pure steps: a fleet holds few distinct (layout, current instances) pairs, and the GPUs of
# a node usually share one. A key holds everything the step reads, errors are never stored, and a full memo is
# emptied, so a long-lived process stays small.
_MEMO_LIMIT = 512
_TARGETS = {}
_FOUND = {}


def _remember(memo, key, compute):
    try:
        return memo[key]
    except KeyError:
        pass
    except TypeError:
        return compute()   # unhashable input (e.g. a spec-like object holding a list): not memoized
    value = compute()
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = value
    return value


def _prepare(model, gpu_index, specs):
    """The targets of ``specs`` in canonical order (a tuple); the GPU index only names the GPU in errors."""
    specs = tuple(specs)

    def build():
        label = _gpu_label(model, gpu_index)
        targets = [_Target(model, spec, '%s, instance %d' % (label, number + 1)) for number, spec in enumerate(specs)]
        # Max counts and media engines bound the GI multiset whatever the placements; the placement search knows neither.
        problems = model.instance_problems([target.profile.name for target in targets])
        if problems:
            raise PlanError('%s: %s' % (label, '; '.join(problems)))
        # The model is stored with the targets: they hold its profile objects, which _search compares by identity, so
        # the key names the model object by id (which stays unique while the entry keeps the model alive).
        return model, tuple(sorted(targets, key=lambda target: target.key))

    return _remember(_TARGETS, (id(model), specs), build)[1]


def _find(targets, currents, busy_allowed):
    """:func:`_search`, memoized on what it reads of the current GIs (not their ids, pids or CI placements)."""
    shapes = tuple((c.profile, c.gi.start, c.mask, c.ci_key, bool(c.pids), len(c.gi.compute_instances)) for c in currents)
    return _remember(_FOUND, (targets, shapes, busy_allowed), lambda: _search(targets, currents, busy_allowed))


def find_placements(model, instances):
    """Placements for ``instances`` (InstanceSpec-like objects with profile/compute/start, or profile names) on an empty GPU.

    Returns the planned instances sorted by start, or None when no placement exists. Raises PlanError for a
    profile, compute instance or pinned start that the model does not offer, and for instances that exceed a profile's
    max count or the GPU's media engines (``GpuModel.instance_problems``).
    """
    if not model.mig_capable:
        raise PlanError('GPU model %s is not MIG capable' % model.key)
    targets = _prepare(model, None, instances)
    found = _find(targets, (), False)
    if found is None:
        return None
    result = []
    for target, (dummy_kind, dummy_value, start, dummy_mask) in zip(targets, found):
        result.append(target.instance(start))
    return tuple(sorted(result, key=lambda p: (p.start, p.size)))


def _describe(gi):
    return '%s (GI %d, placement %d:%d)' % (gi.profile, gi.id, gi.start, gi.size)


def plan_gpu(model, gpu, layout, force=False):
    """Plan the change of one GPU from its current instances to ``layout`` (see the module docstring)."""
    label = _gpu_label(model, gpu.index)
    pids = {}
    for process in gpu.processes:
        if process.gpu_instance_id is not None:
            pids.setdefault(process.gpu_instance_id, []).append(process.pid)
    currents = [_Current(model, gi, pids.get(gi.id, ())) for gi in sorted(gpu.gpu_instances, key=lambda g: (g.start, g.size, g.id))]
    if layout.mig_enabled and not model.mig_capable:
        raise PlanError('%s: the GPU model is not MIG capable; MIG cannot be enabled' % label)
    specs = layout.instances if layout.mig_enabled else ()
    targets = _prepare(model, gpu.index, specs)
    found = _find(targets, currents, False)
    if found is None:
        busy = [c for c in currents if c.pids]
        if not force or not busy:
            if busy:
                raise PlanError('%s: no placement of the target layout keeps the busy GPU instances untouched: %s. Stop those processes, '
                                'change the layout to keep them, or use force to destroy them'
                                % (label, '; '.join('%s with pids %s' % (_describe(c.gi), ', '.join(str(p) for p in c.pids)) for c in busy)))
            raise PlanError('%s: no placement fits the target instances %s'
                            % (label, ', '.join(t.profile.name for t in targets)))
        found = _find(targets, currents, True)
        if found is None:
            raise PlanError('%s: no placement fits the target instances %s' % (label, ', '.join(t.profile.name for t in targets)))
    return _build_plan(gpu.index, targets, currents, found)


def _build_plan(index, targets, currents, found):
    keep, recompute, create, after = [], [], [], []
    kept_positions = set()
    for target, (kind, value, start, dummy_mask) in zip(targets, found):
        if kind == 0:
            current = currents[value]
            kept_positions.add(value)
            if current.ci_key == target.ci_key:
                keep.append(current.gi.id)
                after.append(current.planned())
            else:
                recompute.append(current.gi.id)
                after.append(current.planned(target.compute))
        else:
            planned = target.instance(start)
            create.append(planned)
            after.append(planned)
    destroy = tuple(c.gi for position, c in enumerate(currents) if position not in kept_positions)
    return GpuPlan(
        index=index,
        keep=tuple(sorted(keep)),
        recompute=tuple(sorted(recompute)),
        destroy=destroy,
        create=tuple(sorted(create, key=lambda p: (-p.size, p.start))),
        after=tuple(sorted(after, key=lambda p: (p.start, p.size))),
    )
