# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Fleet planner: per-GPU target layouts from demand (pending pods, declared targets, quotas), with the least disruption.

Pure: no cluster and no GPU access; it runs on the controller and needs ``highspy`` (HiGHS, a MIP solver).

Inputs. The fleet (``Node``: name, labels, ``Gpu``: model key and current GPU instances, each ``Instance`` with the pods
that use it; an instance with pods is *busy*), the demand (``PendingPod``: MIG requests, node selector and optionally
the nodes it may run on; ``DeclaredTarget``: instances of a profile a node pool should offer; ``Quota``:
``requests.nvidia.com/mig-*`` hard limits of a namespace) and the ``Policy`` (node pools by label selector, nodes and
GPUs to leave alone, the most nodes that may change, whether busy instances may be destroyed).

Demand is counted in MIG devices (units). A pending pod's units of a profile can be served by a free (not busy) instance
of that profile on a node whose labels match its node selector and, where the pod names them (``nodes``: what its
required node affinity and tolerations allow, decided by the caller), that is one of its nodes. [UNC] A pod asking for
several devices is counted device by device: the plan does not check that all of them land on one node, as the kubelet
needs. A quota caps, per namespace and profile, the pending units worth serving at ``hard - used`` (used: busy instances
whose pods are in the namespace); pods are admitted in the order given. A declared target of ``n`` x profile in a pool
is served by every instance of the profile in the pool (busy or free), up to ``n``. With ``move_busy``, a destroyed busy
instance's pods must be served again in the same pool (a destroyed one that is not counts as a unit of demand lost).

Objective, lexicographic, each stage solved to optimality with the previous ones fixed:

1. most demand served (pending units + declared-target units, less busy units destroyed and not served again);
2. fewest busy instances destroyed (always 0 without ``move_busy``: then a busy instance keeps its placement);
3. fewest nodes changed; 4. fewest GPUs changed;
5. least fragmentation: per GPU, the free (unpartitioned) memory slices outside its largest contiguous free block;
6. tie-break: fewest memory slices carved into instances on the GPUs that change (capacity nobody asks for stays free).

Candidates. Per GPU: its current layout, and (unless policy leaves it alone) every multiset of the profiles the demand
names that fits the GPU beside its busy instances, checked with the collection's placement planner
(``_planner.find_placements``, which applies the catalog's placements, max counts and media engines). A changed GPU's free
capacity is left unpartitioned; instances of profiles nobody asks for are not offered. Fragmentation is measured on the
placement ``find_placements`` gives (largest instances first, lowest starts; busy instances where they are); the rollout
later places instances to keep the current ones, which can differ.

Scale. GPUs of one model with the same current instances, the same busy ones and the same policy are interchangeable, and
so are nodes with the same pool, labels that matter and GPUs: the MIP counts layouts per class of GPUs in a class of nodes
(integers) rather than per GPU, so a 1,000-node fleet of a few node kinds stays small. This aggregation is exact: a
class's count of changed GPUs can always be spread over its count of changed nodes.

Exact and heuristic mode. Up to ``EXACT_COLUMNS`` candidate columns every stage is solved to optimality. Above it (a
large or varied fleet) the plan is a documented heuristic: each GPU class keeps only its maximal candidates (no other
candidate offers as much of every profile), stages 5 and 6 are not solved, and afterwards the instances the served
demand does not use are given back to free capacity (a changed GPU left with nothing new keeps its current layout).
Stages 1 and 2 stay exact (a maximal candidate serves whatever a smaller one serves); nodes and GPUs changed may be
above the optimum. Every stage also has a share of ``Policy.time_limit_s``, CPU seconds for the whole solve; where a stage
stops at it, the best solution found is kept and the plan says ``optimal: False`` with the solver's gap. make bench
measures both against the exact optimum (tests/bench/fleetplan.py).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import math
import time
import traceback
import typing as t

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import GpuLayout, InstanceSpec
from ansible_collections.gpufleet.mig.plugins.module_utils._planner import PlanError, find_placements
from ansible_collections.gpufleet.mig.plugins.module_utils._resources import MIG_RESOURCE_PREFIX, mig_resource_name

try:
    import highspy
except ImportError:
    HIGHSPY_IMPORT_ERROR = traceback.format_exc()
    highspy = None
else:
    HIGHSPY_IMPORT_ERROR = None

__all__ = (
    'DeclaredTarget',
    'Demand',
    'FleetPlan',
    'FleetPlanError',
    'Gpu',
    'HIGHSPY_IMPORT_ERROR',
    'Instance',
    'Node',
    'PendingPod',
    'PlannedGpu',
    'Policy',
    'Pool',
    'Quota',
    'Unmet',
    'evaluate_layouts',
    'plan_fleet',
)

QUOTA_PREFIX = 'requests.'


class FleetPlanError(ValueError):
    """Bad input (fleet, demand or policy): the message names the value and what would be valid."""


def _frozen_mapping(value, what):
    if value is None:
        return ()
    if isinstance(value, tuple) and all(isinstance(item, tuple) and len(item) == 2 for item in value):
        return tuple(sorted(value))
    if not isinstance(value, collections.abc.Mapping):
        raise FleetPlanError('%s must be a mapping, got %r' % (what, value))
    return tuple(sorted(value.items()))


# --------------------------------------------------------------------------------------------------
# Input types
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Instance:
    """A current GPU instance: its profile, placement start (memory slices) and the pods ('namespace/name') using it."""

    profile: str
    start: int
    pods: t.Tuple[str, ...] = ()

    @property
    def busy(self):
        return bool(self.pods)


@dataclasses.dataclass(frozen=True)
class Gpu:
    """A GPU of a node: its index, catalog model key and current instances (none when MIG is off)."""

    index: int
    model: str
    instances: t.Tuple[Instance, ...] = ()
    mig_enabled: bool = True


@dataclasses.dataclass(frozen=True)
class Node:
    """A node: name, labels (a mapping; stored as sorted pairs) and GPUs."""

    name: str
    gpus: t.Tuple[Gpu, ...]
    labels: t.Any = ()

    def __post_init__(self):
        object.__setattr__(self, 'labels', _frozen_mapping(self.labels, 'labels of node %r' % (self.name,)))
        object.__setattr__(self, 'gpus', tuple(self.gpus))


@dataclasses.dataclass(frozen=True)
class PendingPod:
    """A pending pod: 'namespace/name', its MIG requests (``nvidia.com/mig-<profile>`` or a profile name -> count),
    its node selector (a mapping) and ``nodes``: the names of the nodes the scheduler may give it besides the selector
    (its required node affinity and tolerations), None when nothing else limits it. Stored as a sorted tuple."""

    name: str
    requests: t.Any
    node_selector: t.Any = ()
    nodes: t.Any = None

    def __post_init__(self):
        object.__setattr__(self, 'requests', _frozen_mapping(self.requests, 'requests of pod %r' % (self.name,)))
        object.__setattr__(self, 'node_selector', _frozen_mapping(self.node_selector, 'node selector of pod %r' % (self.name,)))
        if self.nodes is not None:
            if isinstance(self.nodes, (str, bytes)) or not isinstance(self.nodes, collections.abc.Iterable):
                raise FleetPlanError('nodes of pod %r must be a collection of node names or None, got %r' % (self.name, self.nodes))
            object.__setattr__(self, 'nodes', tuple(sorted(set(self.nodes))))

    @property
    def scope(self):
        """Where the pod may be served: (node selector pairs, node names or None)."""
        return (self.node_selector, self.nodes)

    @property
    def namespace(self):
        return self.name.split('/', 1)[0] if '/' in self.name else 'default'


@dataclasses.dataclass(frozen=True)
class DeclaredTarget:
    """``count`` instances of ``profile`` that node pool ``pool`` should offer (busy ones included)."""

    pool: str
    profile: str
    count: int


@dataclasses.dataclass(frozen=True)
class Quota:
    """A namespace's ResourceQuota hard limits, ``requests.nvidia.com/mig-<profile>`` -> count (other keys are ignored)."""

    namespace: str
    hard: t.Any

    def __post_init__(self):
        object.__setattr__(self, 'hard', _frozen_mapping(self.hard, 'hard limits of the quota of namespace %r' % (self.namespace,)))


@dataclasses.dataclass(frozen=True)
class Demand:
    pods: t.Tuple[PendingPod, ...] = ()
    targets: t.Tuple[DeclaredTarget, ...] = ()
    quotas: t.Tuple[Quota, ...] = ()


@dataclasses.dataclass(frozen=True)
class Pool:
    """A node pool: the nodes whose labels hold every pair of ``selector``."""

    name: str
    selector: t.Any

    def __post_init__(self):
        object.__setattr__(self, 'selector', _frozen_mapping(self.selector, 'selector of pool %r' % (self.name,)))


@dataclasses.dataclass(frozen=True)
class Policy:
    """Pools, what to leave alone (node names; (node, GPU index) pairs), the most nodes that may change (None: any),
    whether busy instances may be destroyed, and the solver's time limit: CPU seconds for the whole solve, shared by
    the objective stages."""

    pools: t.Tuple[Pool, ...] = ()
    frozen_nodes: t.Tuple[str, ...] = ()
    frozen_gpus: t.Tuple[t.Tuple[str, int], ...] = ()
    max_nodes_changed: t.Optional[int] = None
    move_busy: bool = False
    time_limit_s: float = 3.0


# --------------------------------------------------------------------------------------------------
# Output types
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PlannedGpu:
    """One GPU of the plan: its target layout, whether it changes, the busy instances it destroys, its fragmentation."""

    node: str
    index: int
    model: str
    current: GpuLayout
    target: GpuLayout
    changed: bool
    destroyed_busy: t.Tuple[Instance, ...]
    fragmentation: int


@dataclasses.dataclass(frozen=True)
class Unmet:
    """Demand units of one profile that the plan does not serve, and why."""

    profile: str
    count: int
    reason: str

    def __str__(self):
        return '%d x %s cannot be placed: %s' % (self.count, self.profile, self.reason)


@dataclasses.dataclass(frozen=True)
class FleetPlan:
    """The plan and its explanation; ``demand``, ``served`` and ``served_before`` map profiles to units.

    ``stats['stages']`` holds each stage's optimum as the solver saw it (in heuristic mode, before unused instances are
    given back, so nodes and GPUs changed there can be above the plan's own counts) and ``exact``, the mode."""

    gpus: t.Tuple[PlannedGpu, ...]
    demand: t.Mapping[str, int]
    served: t.Mapping[str, int]
    served_before: t.Mapping[str, int]
    unmet: t.Tuple[Unmet, ...]
    nodes_changed: t.Tuple[str, ...]
    gpus_changed: int
    busy_destroyed: int
    evicted_pods: t.Tuple[str, ...]
    fragmentation: int
    optimal: bool
    gap: float
    stats: t.Mapping[str, t.Any]

    @property
    def served_total(self):
        return sum(self.served.values())

    def layouts(self):
        """``{node: {gpu index: GpuLayout}}`` of the GPUs that change."""
        result = {}
        for gpu in self.gpus:
            if gpu.changed:
                result.setdefault(gpu.node, {})[gpu.index] = gpu.target
        return result

    def explain(self):
        """Sentences: what is served, what is not and why, and what changes."""
        lines = []
        for profile in sorted(self.demand):
            lines.append('%s: %d of %d served (%d before)' % (profile, self.served.get(profile, 0), self.demand[profile],
                                                              self.served_before.get(profile, 0)))
        lines.extend(str(unmet) for unmet in self.unmet)
        lines.append('%d nodes and %d GPUs change; %d busy instances destroyed; fragmentation %d free slices outside the largest free block'
                     % (len(self.nodes_changed), self.gpus_changed, self.busy_destroyed, self.fragmentation))
        if not self.optimal:
            lines.append('the solver stopped at its time limit: the plan may not be optimal (gap %.3g)' % self.gap)
        return lines


# --------------------------------------------------------------------------------------------------
# Validation and demand rows
# --------------------------------------------------------------------------------------------------

def _model(key, where):
    try:
        return _catalog.model_by_key(key)
    except _catalog.UnknownModelError as exc:
        raise FleetPlanError('%s: %s' % (where, exc)) from exc


def _in_scope(node, scope):
    """Whether a pending pod with ``scope`` (``PendingPod.scope``) may be served on ``node``."""
    selector, names = scope
    return _matches(node.labels, selector) and (names is None or node.name in names)


def _matches(labels, selector):
    labels = dict(labels)
    return all(labels.get(key) == value for key, value in selector)


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _current_profile(model, instance, where):
    try:
        profile = model.resolve_profile(instance.profile)[0]
    except _catalog.UnknownProfileError as exc:
        raise FleetPlanError('%s: %s' % (where, exc)) from exc
    if instance.start not in profile.starts:
        raise FleetPlanError('%s: %s cannot start at memory slice %r; valid starts: %s'
                             % (where, profile.name, instance.start, ', '.join(str(s) for s in profile.starts)))
    return profile


def _check_fleet(fleet, policy):
    """Models, current instances (valid and not overlapping), pools, frozen names; returns {node name: pool name or None}."""
    names = set()
    pools = {}
    pool_names = [pool.name for pool in policy.pools]
    if len(set(pool_names)) != len(pool_names):
        raise FleetPlanError('pool names must be unique; got %s' % ', '.join(pool_names))
    for node in fleet:
        if node.name in names:
            raise FleetPlanError('node %r is given twice' % node.name)
        names.add(node.name)
        matching = [pool.name for pool in policy.pools if _matches(node.labels, pool.selector)]
        if len(matching) > 1:
            raise FleetPlanError('node %r matches pools %s; a node must be in one pool at most (make their selectors exclusive)'
                                 % (node.name, ' and '.join(matching)))
        pools[node.name] = matching[0] if matching else None
        indices = set()
        for gpu in node.gpus:
            where = 'node %s GPU %s' % (node.name, gpu.index)
            if gpu.index in indices:
                raise FleetPlanError('%s is given twice' % where)
            indices.add(gpu.index)
            model = _model(gpu.model, where)
            used = 0
            for instance in gpu.instances:
                profile = _current_profile(model, instance, where)
                mask = ((1 << profile.memory_slices) - 1) << instance.start
                if used & mask:
                    raise FleetPlanError('%s: instance %s at %d overlaps another current instance' % (where, profile.name, instance.start))
                used |= mask
            if gpu.instances and not gpu.mig_enabled:
                raise FleetPlanError('%s has instances but MIG off' % where)
    for name in policy.frozen_nodes:
        if name not in names:
            raise FleetPlanError('frozen node %r is not in the fleet; nodes: %s' % (name, ', '.join(sorted(names))))
    gpus = set((node.name, gpu.index) for node in fleet for gpu in node.gpus)
    for pair in policy.frozen_gpus:
        if tuple(pair) not in gpus:
            raise FleetPlanError('frozen GPU %r is not in the fleet (give (node name, GPU index) pairs)' % (pair,))
    if policy.max_nodes_changed is not None and (not _is_count(policy.max_nodes_changed) or policy.max_nodes_changed < 0):
        raise FleetPlanError('max_nodes_changed must be a whole number of nodes, 0 or more, or None; got %r' % (policy.max_nodes_changed,))
    return pools


def _fleet_profiles(fleet):
    """{resource name: profile name} and the sorted profile names over the models of the fleet."""
    by_resource = {}
    for key in sorted(set(gpu.model for node in fleet for gpu in node.gpus)):
        for profile in _catalog.model_by_key(key).gi_profiles:
            by_resource[mig_resource_name(profile.name)] = profile.name
    return by_resource, sorted(set(by_resource.values()))


def _profile_of(name, by_resource, valid, where):
    """The profile a request key names: ``nvidia.com/mig-<profile>`` or a bare profile name, offered by a fleet model."""
    if isinstance(name, str) and name in by_resource:
        return by_resource[name]
    if isinstance(name, str) and name in valid:
        return name
    offered_elsewhere = []
    if isinstance(name, str):
        bare = name[len(MIG_RESOURCE_PREFIX):] if name.startswith(MIG_RESOURCE_PREFIX) else name
        for model in _catalog.MODELS:
            for profile in model.gi_profiles:
                if bare in (profile.name, profile.name.replace('+', '.')):
                    offered_elsewhere.append(model.key)
    if offered_elsewhere:
        raise FleetPlanError('%s: %s is demand no GPU model of the fleet can serve (offered by %s only); the fleet offers: %s'
                             % (where, name, ', '.join(sorted(set(offered_elsewhere))), ', '.join(valid)))
    raise FleetPlanError('%s: unknown MIG profile or resource %r; valid: %s (or %s<profile>)' % (where, name, ', '.join(valid), MIG_RESOURCE_PREFIX))


@dataclasses.dataclass
class _Row:
    """Demand units of one profile: 'pods' (with a scope: node selector and node names, see ``PendingPod.scope``), 'target'
    (of a pool) or 'rehome' (a pool's evicted pods)."""

    kind: str
    profile: str
    units: int
    scope: tuple = ((), None)
    pool: t.Optional[str] = None


def _demand_rows(fleet, demand, pools):
    """Rows of pending and declared demand, the quota-capped units, and {profile: units asked}."""
    by_resource, valid = _fleet_profiles(fleet)
    pool_names = set(pools.values()) | set()
    used = collections.Counter()
    for node in fleet:
        for gpu in node.gpus:
            model = _catalog.model_by_key(gpu.model)
            for instance in gpu.instances:
                profile = model.resolve_profile(instance.profile)[0].name
                for namespace in sorted(set(pod.split('/', 1)[0] for pod in instance.pods if '/' in pod)):
                    used[namespace, profile] += 1
    headroom = {}
    for quota in demand.quotas:
        for key, value in quota.hard:
            if not (isinstance(key, str) and key.startswith(QUOTA_PREFIX + MIG_RESOURCE_PREFIX)):
                continue
            where = 'quota of namespace %s' % quota.namespace
            if not _is_count(value) or value < 0:
                raise FleetPlanError('%s: hard limit of %s must be a whole number, 0 or more; got %r' % (where, key, value))
            profile = _profile_of(key[len(QUOTA_PREFIX):], by_resource, valid, where)
            headroom[quota.namespace, profile] = max(0, value - used[quota.namespace, profile])
    asked = collections.Counter()
    rows = {}
    over_quota = collections.Counter()
    for pod in demand.pods:
        where = 'pod %s' % pod.name
        for key, count in pod.requests:
            if not _is_count(count) or count < 1:
                raise FleetPlanError('%s: request %s must be a whole number, 1 or more; got %r' % (where, key, count))
            profile = _profile_of(key, by_resource, valid, where)
            asked[profile] += count
            limit = headroom.get((pod.namespace, profile))
            admitted = count if limit is None else min(count, limit)
            if limit is not None:
                headroom[pod.namespace, profile] = limit - admitted
                if admitted < count:
                    over_quota[pod.namespace, profile] += count - admitted
            if admitted:
                row = rows.setdefault(('pods', profile, pod.scope), _Row('pods', profile, 0, scope=pod.scope))
                row.units += admitted
    for target in demand.targets:
        where = 'declared target %s x %s in pool %s' % (target.count, target.profile, target.pool)
        if target.pool not in pool_names:
            raise FleetPlanError('%s: no node is in pool %r; pools with nodes: %s'
                                 % (where, target.pool, ', '.join(sorted(p for p in pool_names if p is not None)) or 'none'))
        if not _is_count(target.count) or target.count < 0:
            raise FleetPlanError('%s: the count must be a whole number, 0 or more' % where)
        profile = _profile_of(target.profile, by_resource, valid, where)
        asked[profile] += target.count
        if target.count:
            row = rows.setdefault(('target', profile, target.pool), _Row('target', profile, 0, pool=target.pool))
            row.units += target.count
    return list(rows.values()), over_quota, used, asked


# --------------------------------------------------------------------------------------------------
# Candidate layouts of one GPU
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Candidate:
    """A layout of one GPU class: its instances ((profile, start, busy)), what it offers and what it costs."""

    instances: t.Tuple[t.Tuple[str, t.Optional[int], bool], ...]
    changed: bool
    free: t.Tuple[t.Tuple[str, int], ...]       # profile -> instances without pods
    total: t.Tuple[t.Tuple[str, int], ...]      # profile -> all instances
    destroyed: t.Tuple[t.Tuple[str, int], ...]  # busy (profile, start) destroyed
    fragmentation: int
    carved: int                                 # memory slices held by instances


def _fragmentation(memory_slices, placed):
    """Free memory slices outside the largest contiguous free block."""
    used = [False] * memory_slices
    for start, size in placed:
        for position in range(start, start + size):
            used[position] = True
    runs, run = [], 0
    for taken in used + [True]:
        if taken:
            runs.append(run)
            run = 0
        else:
            run += 1
    return sum(runs) - max(runs)


def _candidate(model, instances, changed, busy_all):
    """``instances``: (profile, start, busy) with every start known."""
    placed = [(start, model.profile(profile).memory_slices) for profile, start, dummy in instances]
    free = collections.Counter(profile for profile, dummy, busy in instances if not busy)
    total = collections.Counter(profile for profile, dummy, dummy2 in instances)
    kept = set((profile, start) for profile, start, busy in instances if busy)
    destroyed = tuple(sorted(pair for pair in busy_all if pair not in kept))
    return _Candidate(tuple(sorted(instances, key=lambda i: (i[1], i[0]))), changed, tuple(sorted(free.items())),
                      tuple(sorted(total.items())), destroyed, _fragmentation(model.memory_slices, placed),
                      sum(size for dummy, size in placed))


def _fit(model, pinned, names):
    """Placements of ``pinned`` ((profile, start)) plus ``names`` on an empty GPU, or None."""
    specs = [InstanceSpec(profile, (profile,), start) for profile, start in pinned] + list(names)
    try:
        return find_placements(model, specs)
    except PlanError:
        return None   # more than a profile's max count or the GPU's media engines: does not fit


_CANDIDATES = {}


def _candidates(model, current, relevant, frozen, move_busy):
    """The candidate layouts of a GPU: its current one first, then (unless frozen) the fitting multisets of ``relevant``."""
    key = (model.key, current, relevant, frozen, move_busy)
    if key in _CANDIDATES:
        return _CANDIDATES[key]
    busy = tuple((profile, start) for profile, start, is_busy in current if is_busy)
    result = [_candidate(model, current, False, busy)]
    if not frozen and model.mig_capable:
        seen = set()
        profiles = sorted((model.profile(name) for name in relevant), key=lambda p: (-p.memory_slices, -p.compute_slices, p.name))
        keeps = [busy]
        if move_busy:
            keeps = [combo for size in range(len(busy), -1, -1) for combo in itertools.combinations(busy, size)]
        current_shape = tuple(sorted((profile, start) for profile, start, dummy in current))
        for kept in keeps:
            def walk(position, chosen, kept=kept):
                if position == len(profiles):
                    placed = _fit(model, kept, chosen)
                    if placed is None:
                        return
                    instances = []
                    pinned = list(kept)
                    for planned in placed:
                        is_busy = (planned.profile, planned.start) in pinned
                        if is_busy:
                            pinned.remove((planned.profile, planned.start))
                        instances.append((planned.profile, planned.start, is_busy))
                    shape = tuple(sorted((profile, start) for profile, start, dummy in instances))
                    multiset = tuple(sorted(profile for profile, dummy, dummy2 in instances))
                    if multiset in seen or shape == current_shape or \
                            multiset == tuple(sorted(profile for profile, dummy, dummy2 in current)) and len(kept) == len(busy):
                        return   # the same offer as a candidate already listed, or no change
                    seen.add(multiset)
                    result.append(_candidate(model, tuple(instances), True, busy))
                    return
                profile = profiles[position]
                for count in range(profile.max_count + 1):
                    names = chosen + [profile.name] * count
                    if count and _fit(model, kept, names) is None:
                        break   # more of this profile cannot fit either
                    walk(position + 1, names)
            walk(0, [])
    if len(_CANDIDATES) > 4096:
        _CANDIDATES.clear()
    _CANDIDATES[key] = tuple(result)
    return _CANDIDATES[key]


# --------------------------------------------------------------------------------------------------
# Classes of interchangeable GPUs and nodes
# --------------------------------------------------------------------------------------------------

class _GpuClass(object):
    def __init__(self, model, candidates, per_node):
        self.model = model
        self.candidates = candidates
        self.per_node = per_node   # GPUs of this class in one node of the node class
        self.var = []              # column per candidate


class _NodeClass(object):
    def __init__(self, pool, labels_key, nodes):
        self.pool = pool
        self.labels_key = labels_key
        self.nodes = nodes         # [(node, {class key: [gpu, ...]})]
        self.gpu_classes = {}      # class key -> _GpuClass
        self.changed_var = None
        self.flows = {}            # row index -> column


def _current_of(model, gpu):
    return tuple(sorted((model.resolve_profile(i.profile)[0].name, i.start, i.busy) for i in gpu.instances))


def _classes(fleet, pools, rows, policy, relevant, aggregate, fixed):
    """Node classes with their GPU classes. ``fixed``: {(node, index): candidate} replaces the candidate sets (evaluation)."""
    frozen_nodes = set(policy.frozen_nodes)
    frozen_gpus = set(tuple(pair) for pair in policy.frozen_gpus)
    scopes = sorted(set(row.scope for row in rows if row.kind == 'pods'), key=repr)
    classes = {}
    for node in sorted(fleet, key=lambda n: n.name):
        eligible = tuple(scope for scope in scopes if _in_scope(node, scope))
        gpus = {}
        for gpu in sorted(node.gpus, key=lambda g: g.index):
            model = _catalog.model_by_key(gpu.model)
            current = _current_of(model, gpu)
            frozen = node.name in frozen_nodes or (node.name, gpu.index) in frozen_gpus
            if fixed is not None:
                chosen = fixed.get((node.name, gpu.index))
                key = (model.key, current, 'fixed', chosen)
            else:
                key = (model.key, current, frozen, relevant.get(model.key, ()))
            gpus.setdefault(key, []).append(gpu)
        shape = tuple(sorted(((key, len(members)) for key, members in gpus.items()), key=repr))
        node_key = (pools[node.name], eligible, shape) if aggregate else (node.name,)
        node_class = classes.get(node_key)
        if node_class is None:
            node_class = classes[node_key] = _NodeClass(pools[node.name], eligible, [])
            for key, members in gpus.items():
                model = _catalog.model_by_key(key[0])
                if fixed is not None:
                    base = _candidate(model, key[1], False, tuple((p, s) for p, s, b in key[1] if b))
                    candidates = (base,) if key[3] is None else (key[3],)
                else:
                    candidates = _candidates(model, key[1], key[3], key[2], policy.move_busy)
                node_class.gpu_classes[key] = _GpuClass(model, candidates, len(members))
        node_class.nodes.append((node, gpus))
    return list(classes.values())


# --------------------------------------------------------------------------------------------------
# The MIP
# --------------------------------------------------------------------------------------------------

class _Model(object):
    """Columns and rows for HiGHS, built once; each stage changes only the objective and adds one row."""

    def __init__(self):
        if highspy is None:
            raise FleetPlanError('the fleet planner needs the Python library highspy (HiGHS): %s' % HIGHSPY_IMPORT_ERROR)
        self.highs = highspy.Highs()
        self.highs.setOptionValue('output_flag', False)
        self.highs.setOptionValue('mip_rel_gap', 0.0)
        self.highs.setOptionValue('mip_abs_gap', 0.5)   # every objective is integral: a gap under 1 proves optimality
        self.highs.setOptionValue('random_seed', 0)
        self.highs.setOptionValue('threads', 1)
        self.columns = 0
        self.optimal = True
        self.gap = 0.0
        self.last = None
        self.uppers = []
        self.groups = {}
        self.stop = None
        self.repair = lambda values: None
        # The time limit is CPU time of this process (the planner's goal is stated in CPU seconds, and a busy machine
        # would shorten a wall-clock limit); HiGHS's own limit is wall time, so a callback interrupts the search.
        self.highs.cbMipInterrupt.subscribe(self._interrupt)

    def _interrupt(self, event):
        if self.stop is not None and time.process_time() > self.stop:
            event.interrupt()

    def largest(self, terms):
        """An upper bound of a sum of terms: per group of columns that share one count (the layouts of a GPU class sum
        to its GPUs), the largest coefficient times that count; a column without a group at its upper bound."""
        per_group = {}
        total = 0.0
        for column, value in terms:
            group = self.groups.get(column)
            if group is None:
                total += abs(value) * self.uppers[column]
            else:
                per_group[group] = max(per_group.get(group, 0.0), abs(value) * self.uppers[column])
        return total + sum(per_group.values())

    def column(self, upper, integer, group=None):
        if group is not None:
            self.groups[self.columns] = group
        self.uppers.append(upper)
        self.highs.addVar(0.0, float(upper))
        if integer:
            self.highs.changeColIntegrality(self.columns, highspy.HighsVarType.kInteger)
        self.columns += 1
        return self.columns - 1

    def row(self, lower, upper, terms):
        merged = collections.OrderedDict()
        for column, value in terms:
            merged[column] = merged.get(column, 0) + value   # HiGHS refuses a row that names a column twice
        terms = [(column, value) for column, value in merged.items() if value]
        status = self.highs.addRow(float(lower), float(upper), len(terms), [c for c, dummy in terms], [float(v) for dummy, v in terms])
        if status != highspy.HighsStatus.kOk:
            raise FleetPlanError('internal error: the MIP solver refused a constraint (%s)' % status)

    def optimise(self, terms, maximise, time_limit, later=()):
        """Solve for one objective (a list of (column, coefficient)) within ``time_limit`` seconds; fix its value for the
        next stages; return the value. On the time limit the best solution found is kept (at worst the previous stage's,
        which stays feasible) and the plan is marked not optimal, with the solver's gap.

        ``later``: the terms of later stages to minimise, weighted so little (their largest possible total counts less
        than half a unit) that the stage's own optimum, an integer, is unchanged; it only gives the later stages a good
        solution to start from."""
        costs = [0.0] * self.columns
        for column, value in terms:
            costs[column] += value
        bound = self.largest(later)
        for column, value in later:
            costs[column] += (-value if maximise else value) * 0.4 / (bound + 1.0)
        self.highs.changeColsCost(self.columns, list(range(self.columns)), costs)
        self.highs.changeObjectiveSense(highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize)
        self.stop = time.process_time() + max(float(time_limit), 0.01)
        if self.last is not None:
            self.repair(self.last)
            start = highspy.HighsSolution()
            start.col_value = list(self.last)
            self.highs.setSolution(start)
        self.highs.run()
        status = self.highs.getModelStatus()
        info = self.highs.getInfo()
        if info.primal_solution_status == 2:   # a feasible solution; keep the start where the solver stopped on a worse one
            found = list(self.highs.getSolution().col_value)
            if self.last is None or self._cost(found, costs, maximise) <= self._cost(self.last, costs, maximise) + 1e-9:
                self.last = found
        elif self.last is None:
            raise FleetPlanError('the MIP solver found no plan (%s)' % self.highs.modelStatusToString(status))
        if status != highspy.HighsModelStatus.kOptimal:
            self.optimal = False
            gap = info.mip_gap if info.primal_solution_status == 2 else 1.0
            self.gap = max(self.gap, gap if not math.isnan(gap) and gap < 1e30 else 1.0)
        value = round(sum(self.last[column] * coefficient for column, coefficient in terms))
        if maximise:
            self.row(value - 0.5, highspy.kHighsInf, terms)
        else:
            self.row(-highspy.kHighsInf, value + 0.5, terms)
        return value

    def values(self):
        return self.last

    @staticmethod
    def _cost(values, costs, maximise):
        total = sum(value * cost for value, cost in zip(values, costs) if cost)
        return -total if maximise else total


def _solve(node_classes, rows, policy, evaluating, exact):
    """Build and solve the MIP; returns the solution values, the model, and the stage values."""
    mip = _Model()
    served, busy_destroyed, nodes, changed, fragmentation, carved = [], [], [], [], [], []
    supply = collections.defaultdict(list)       # (node class id, profile) -> [(column, free per GPU)]
    totals = collections.defaultdict(list)       # (pool, profile) -> [(column, instances per GPU)]
    destroyed = collections.defaultdict(list)    # (pool, profile) -> [(column, busy destroyed per GPU)]
    for number, node_class in enumerate(node_classes):
        count = len(node_class.nodes)
        node_class.changed_var = mip.column(count, True)
        nodes.append((node_class.changed_var, 1))
        for gpu_class in node_class.gpu_classes.values():
            members = count * gpu_class.per_node
            gpu_class.var = [mip.column(members, True, id(gpu_class)) for dummy in gpu_class.candidates]
            mip.row(members, members, [(column, 1) for column in gpu_class.var])
            moving = [(column, 1) for column, candidate in zip(gpu_class.var, gpu_class.candidates) if candidate.changed]
            if moving and not evaluating:
                mip.row(-highspy.kHighsInf, 0, moving + [(node_class.changed_var, -gpu_class.per_node)])
            for column, candidate in zip(gpu_class.var, gpu_class.candidates):
                if candidate.changed:
                    changed.append((column, 1))
                    carved.append((column, candidate.carved))
                if candidate.fragmentation:
                    fragmentation.append((column, candidate.fragmentation))
                if candidate.destroyed:
                    busy_destroyed.append((column, len(candidate.destroyed)))
                    served.append((column, -len(candidate.destroyed)))
                    for profile, dummy in candidate.destroyed:
                        destroyed[node_class.pool, profile].append((column, 1))
                for profile, units in candidate.free:
                    supply[number, profile].append((column, units))
                for profile, units in candidate.total:
                    totals[node_class.pool, profile].append((column, units))
    all_rows = list(rows)
    if policy.move_busy:
        for pool, profile in sorted(destroyed, key=str):
            all_rows.append(_Row('rehome', profile, 0, pool=pool))
    flows = collections.defaultdict(list)     # (node class id, profile) -> flow columns
    row_columns = []
    for index, row in enumerate(all_rows):
        columns = []
        if row.kind == 'target':
            column = mip.column(row.units, True)
            mip.row(-highspy.kHighsInf, 0, [(column, 1)] + [(c, -v) for c, v in totals[row.pool, row.profile]])
            columns.append(column)
        else:
            for number, node_class in enumerate(node_classes):
                if not supply.get((number, row.profile)):
                    continue
                if row.kind == 'pods' and row.scope not in node_class.labels_key:
                    continue
                if row.kind == 'rehome' and node_class.pool != row.pool:
                    continue
                column = mip.column(highspy.kHighsInf, True)
                node_class.flows[index] = column
                flows[number, row.profile].append(column)
                columns.append(column)
            if row.kind == 'pods':
                mip.row(-highspy.kHighsInf, row.units, [(c, 1) for c in columns])
            else:
                mip.row(-highspy.kHighsInf, 0, [(c, 1) for c in columns] + [(c, -v) for c, v in destroyed[row.pool, row.profile]])
        row_columns.append(columns)
        served.extend((column, 1) for column in columns)
    for key, columns in flows.items():
        mip.row(-highspy.kHighsInf, 0, [(c, 1) for c in columns] + [(c, -v) for c, v in supply[key]])
    if policy.max_nodes_changed is not None and not evaluating:
        mip.row(-highspy.kHighsInf, policy.max_nodes_changed, nodes)

    def repair(values):
        """Lower each node class's count of changed nodes to what its changed GPUs need (a start for the next stage)."""
        for node_class in node_classes:
            need = 0
            for gpu_class in node_class.gpu_classes.values():
                moved = sum(int(round(values[c])) for c, candidate in zip(gpu_class.var, gpu_class.candidates) if candidate.changed)
                need = max(need, -(-moved // gpu_class.per_node))
            values[node_class.changed_var] = float(need)

    mip.repair = repair
    objectives = [('served', served, True)]
    if not evaluating:
        objectives += [('busy_destroyed', busy_destroyed, False), ('nodes_changed', nodes, False), ('gpus_changed', changed, False)]
    if not evaluating and exact:
        objectives += [('fragmentation', fragmentation, False), ('carved', carved, False)]
    # The time limit is shared: each stage may use what the stages before it left, split evenly over those still to run.
    deadline = time.process_time() + policy.time_limit_s
    stages = {}
    for number, (name, terms, maximise) in enumerate(objectives):
        later = [term for dummy, more, dummy2 in objectives[number + 1:number + 4] for term in more]
        stages[name] = mip.optimise(terms, maximise, (deadline - time.process_time()) / (len(objectives) - number), later)
    return mip, mip.values(), all_rows, row_columns, stages


# --------------------------------------------------------------------------------------------------
# From class counts back to GPUs
# --------------------------------------------------------------------------------------------------

def _layout_of(candidate, fixed_starts):
    """The GpuLayout of a candidate: busy instances (and, with ``fixed_starts``, all) pinned where they are."""
    specs = tuple(InstanceSpec(profile, (profile,), start if (busy or fixed_starts) else None) for profile, start, busy in candidate.instances)
    return GpuLayout(True, specs)


def _assign(node_classes, values):
    """Per GPU: its candidate. Changed GPUs of a class fill the class's nodes in name order, so few nodes change."""
    chosen = {}
    for node_class in node_classes:
        nodes = [node for node, dummy in node_class.nodes]
        for key, gpu_class in node_class.gpu_classes.items():
            counts = [int(round(values[column])) for column in gpu_class.var]
            queue = []
            for candidate, count in zip(gpu_class.candidates, counts):
                if candidate.changed:
                    queue.extend([candidate] * count)
            unchanged = gpu_class.candidates[0]
            for node_number, (node, gpus) in enumerate(node_class.nodes):
                for gpu in gpus[key]:
                    chosen[node.name, gpu.index] = (node, gpu, queue.pop(0) if queue else unchanged)
            if queue:
                raise FleetPlanError('internal error: %d changed GPUs left over in a class of %d nodes' % (len(queue), len(nodes)))
    return chosen


def _served_by_row(node_classes, values, row_columns):
    return [int(round(sum(values[c] for c in columns))) for columns in row_columns]


# --------------------------------------------------------------------------------------------------
# Explanations
# --------------------------------------------------------------------------------------------------

def _selector_text(selector):
    return '{%s}' % ', '.join('%s=%s' % pair for pair in selector) if selector else 'any node'


def _scope_text(scope):
    selector, names = scope
    text = _selector_text(selector)
    if names is None:
        return text
    shown = ', '.join(names[:5]) + (' and %d more' % (len(names) - 5) if len(names) > 5 else '')
    return '%s, on the nodes their node affinity and tolerations allow (%s)' % (text, shown or 'none')


def _why(row, fleet, pools, policy, chosen, nodes_changed):
    """Why units of ``row`` are not served: the first of no model, left alone, node budget, capacity that holds."""
    frozen_nodes = set(policy.frozen_nodes)
    frozen_gpus = set(tuple(pair) for pair in policy.frozen_gpus)
    if row.kind == 'pods':
        nodes = [node for node in fleet if _in_scope(node, row.scope)]
        scope = 'nodes matching %s' % _scope_text(row.scope)
    else:
        nodes = [node for node in fleet if pools[node.name] == row.pool]
        scope = 'pool %s' % row.pool
    if not nodes:
        return 'no node matches %s' % (_scope_text(row.scope) if row.kind == 'pods' else _selector_text(()))
    offering = [(node, gpu) for node in nodes for gpu in node.gpus if row.profile in _catalog.model_by_key(gpu.model).profile_names]
    if not offering:
        return 'no GPU model on the %s offers it (their models: %s)' % (scope, ', '.join(sorted(set(g.model for n in nodes for g in n.gpus))))
    open_gpus = [(node, gpu) for node, gpu in offering if node.name not in frozen_nodes and (node.name, gpu.index) not in frozen_gpus]
    if not open_gpus:
        return 'policy leaves alone every GPU that could offer it on the %s (%d GPUs)' % (scope, len(offering))
    if policy.max_nodes_changed is not None and len(nodes_changed) >= policy.max_nodes_changed:
        return 'the plan already changes the %d nodes that max_nodes_changed allows' % policy.max_nodes_changed
    busy = sum(1 for node, gpu in open_gpus if any(i.busy for i in gpu.instances))
    return ('no layout of the %d GPUs of the %s that may change serves more of it without serving less other demand%s'
            % (len(open_gpus), scope, '' if not busy or policy.move_busy else
               ' (%d of them hold busy instances that stay where they are)' % busy))


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------

def _relevant(fleet, rows):
    """{model key: profiles of the demand that the model offers}, sorted."""
    wanted = set(row.profile for row in rows)
    result = {}
    for key in set(gpu.model for node in fleet for gpu in node.gpus):
        model = _catalog.model_by_key(key)
        result[key] = tuple(sorted(p for p in model.profile_names if p in wanted))
    return result


def _maximal(candidates):
    """The current candidate and the changed ones whose offer no other changed candidate (same busy instances destroyed)
    covers: as many or more free instances and instances of every profile."""
    offers = [(c, dict(c.free), dict(c.total)) for c in candidates[1:]]

    def covers(big, small):
        return all(big[1].get(p, 0) >= n for p, n in small[1].items()) and all(big[2].get(p, 0) >= n for p, n in small[2].items())

    kept = [item for item in offers
            if not any(other is not item and other[0].destroyed == item[0].destroyed and covers(other, item)
                       and (other[1], other[2]) != (item[1], item[2]) for other in offers)]
    return (candidates[0],) + tuple(item[0] for item in kept)


def _trim(node_classes, values, rows, chosen):
    """Heuristic mode: give back to free capacity the instances of changed GPUs that serve nothing (per node class and
    profile, the supply the flows leave unused), from the last nodes of the class first; a changed GPU left with nothing
    new goes back to its current layout."""
    for node_class in node_classes:
        unused = collections.Counter()
        for gpu_class in node_class.gpu_classes.values():
            for column, candidate in zip(gpu_class.var, gpu_class.candidates):
                for profile, units in candidate.free:
                    unused[profile] += units * int(round(values[column]))
        for index, column in node_class.flows.items():
            unused[rows[index].profile] -= int(round(values[column]))
        members = [(node.name, gpu.index) for node, gpus in reversed(node_class.nodes) for key in gpus for gpu in gpus[key]]
        for pair in members:
            node, gpu, candidate = chosen[pair]
            if not candidate.changed:
                continue
            model = _catalog.model_by_key(gpu.model)
            busy_all = tuple((p, s) for p, s, b in _current_of(model, gpu) if b)
            kept = [(p, s) for p, s, b in candidate.instances if b]
            loose = [p for p, s, b in candidate.instances if not b]
            needed = []
            for profile in loose:
                if unused[profile] > 0:
                    unused[profile] -= 1   # serves nothing: given back
                else:
                    needed.append(profile)
            if not needed:
                if not candidate.destroyed:
                    current = _candidate(model, _current_of(model, gpu), False, busy_all)
                    chosen[pair] = (node, gpu, current)
                    for profile, units in current.free:
                        unused[profile] += units
                    continue
            placed = _fit(model, kept, needed)
            instances = []
            for item in placed:
                is_busy = (item.profile, item.start) in kept
                if is_busy:
                    kept.remove((item.profile, item.start))
                instances.append((item.profile, item.start, is_busy))
            chosen[pair] = (node, gpu, _candidate(model, tuple(instances), True, busy_all))


# Above this many candidate columns the plan is made in heuristic mode (maximal candidates, trimmed afterwards, no
# fragmentation stages); below it every stage is solved exactly. 8 nodes of the bench's fleet need about 450.
EXACT_COLUMNS = 2000


def _run(fleet, demand, policy, aggregate=True, fixed=None, exact=None):
    """Solve; ``fixed`` ({(node, index): candidate or None}) scores given layouts instead of planning; ``exact`` None
    chooses the mode by size (``EXACT_COLUMNS``)."""
    fleet = tuple(fleet)
    pools = _check_fleet(fleet, policy)
    rows, over_quota, used, asked = _demand_rows(fleet, demand, pools)
    relevant = _relevant(fleet, rows)
    node_classes = _classes(fleet, pools, rows, policy, relevant, aggregate, fixed)
    if exact is None:
        exact = fixed is not None or sum(len(g.candidates) for n in node_classes for g in n.gpu_classes.values()) <= EXACT_COLUMNS
    if not exact:
        for node_class in node_classes:
            for gpu_class in node_class.gpu_classes.values():
                gpu_class.candidates = _maximal(gpu_class.candidates)
    mip, values, all_rows, row_columns, stages = _solve(node_classes, rows, policy, fixed is not None, exact)
    chosen = _assign(node_classes, values)
    if not exact:
        _trim(node_classes, values, all_rows, chosen)
    stages['exact'] = exact
    served_rows = _served_by_row(node_classes, values, row_columns)
    return fleet, pools, rows, over_quota, used, asked, node_classes, mip, chosen, all_rows, served_rows, stages


def _plan_of(result, policy, served_before):
    fleet, pools, rows, over_quota, used, asked, node_classes, mip, chosen, all_rows, served_rows, stages = result
    planned = []
    evicted = []
    nodes_changed = set()
    for (name, index), (node, gpu, candidate) in sorted(chosen.items()):
        model = _catalog.model_by_key(gpu.model)
        current = _candidate(model, _current_of(model, gpu), False, ()).instances
        destroyed = tuple(i for i in gpu.instances if i.busy and (model.resolve_profile(i.profile)[0].name, i.start) in candidate.destroyed)
        for instance in destroyed:
            evicted.extend(instance.pods)
        if candidate.changed:
            nodes_changed.add(name)
        planned.append(PlannedGpu(
            node=name, index=index, model=gpu.model,
            current=GpuLayout(gpu.mig_enabled, tuple(InstanceSpec(p, (p,), s) for p, s, dummy in current)),
            target=_layout_of(candidate, False) if candidate.changed else GpuLayout(gpu.mig_enabled, tuple(
                InstanceSpec(p, (p,), s) for p, s, dummy in current)),
            changed=candidate.changed, destroyed_busy=destroyed, fragmentation=candidate.fragmentation))
    served = collections.Counter()
    unmet = []
    for row, units in zip(all_rows, served_rows):
        if row.kind == 'rehome':
            continue
        served[row.profile] += units
        if units < row.units:
            unmet.append(Unmet(row.profile, row.units - units, '%s%s' % (
                'pods with node selector %s: ' % _scope_text(row.scope) if row.kind == 'pods' else
                'declared target of pool %s: ' % row.pool, _why(row, fleet, pools, policy, chosen, nodes_changed))))
    for (namespace, profile), units in sorted(over_quota.items()):
        unmet.append(Unmet(profile, units, 'namespace %s is over its ResourceQuota %s%s%s (%d used by running pods)'
                           % (namespace, QUOTA_PREFIX, MIG_RESOURCE_PREFIX, mig_resource_name(profile)[len(MIG_RESOURCE_PREFIX):],
                              used[namespace, profile])))
    gpus = tuple(planned)
    return FleetPlan(
        gpus=gpus, demand=dict(asked), served=dict(served), served_before=dict(served_before), unmet=tuple(unmet),
        nodes_changed=tuple(sorted(nodes_changed)), gpus_changed=sum(g.changed for g in gpus),
        busy_destroyed=sum(len(g.destroyed_busy) for g in gpus), evicted_pods=tuple(sorted(evicted)),
        fragmentation=sum(g.fragmentation for g in gpus), optimal=mip.optimal, gap=mip.gap,
        stats={'node_classes': len(node_classes), 'gpu_classes': sum(len(n.gpu_classes) for n in node_classes),
               'columns': mip.columns, 'stages': stages})


def _served(result):
    served = collections.Counter()
    for row, units in zip(result[9], result[10]):
        if row.kind != 'rehome':
            served[row.profile] += units
    return served


def plan_fleet(fleet, demand, policy=None):
    """The plan (a FleetPlan) for ``fleet`` (Nodes) and ``demand`` (a Demand) under ``policy`` (a Policy).

    FleetPlanError for bad input: unknown models or profiles, demand no model of the fleet can serve, overlapping current
    instances, contradictory policy (a node in two pools, a target for a pool without nodes, unknown frozen names).
    """
    policy = policy or Policy()
    before = _served(_run(fleet, demand, policy, fixed={}))
    return _plan_of(_run(fleet, demand, policy), policy, before)


def evaluate_layouts(fleet, demand, layouts, policy=None):
    """Score given layouts as a plan: ``layouts`` is {node: {gpu index: GpuLayout}} (absent GPUs keep their layout).

    Instances without a start are placed beside the busy instances the layout keeps at their starts; a busy instance is
    destroyed when no instance of its profile is given at its start. FleetPlanError when a layout does not fit its GPU.
    """
    policy = policy or Policy()
    result = _run(fleet, demand, policy, fixed=_fixed(fleet, layouts))
    before = _served(_run(fleet, demand, policy, fixed={}))
    return _plan_of(result, policy, before)


def _fixed(fleet, layouts):
    """{(node, index): candidate} of given layouts (see evaluate_layouts); a layout that changes nothing is left out."""
    fixed = {}
    by_name = dict((node.name, node) for node in fleet)
    for name, per_gpu in layouts.items():
        node = by_name.get(name)
        if node is None:
            raise FleetPlanError('layout for node %r, which is not in the fleet' % (name,))
        gpus = dict((gpu.index, gpu) for gpu in node.gpus)
        for index, layout in per_gpu.items():
            gpu = gpus.get(index)
            if gpu is None:
                raise FleetPlanError('layout for GPU %r of node %s, which has no such GPU' % (index, name))
            model = _model(gpu.model, 'node %s GPU %s' % (name, index))
            current = _current_of(model, gpu)
            busy = tuple((p, s) for p, s, b in current if b)
            pinned = [(spec.profile, spec.start) for spec in layout.instances if spec.start is not None]
            loose = [spec.profile for spec in layout.instances if spec.start is None]
            placed = _fit(model, pinned, loose) if layout.mig_enabled else ()
            if placed is None:
                raise FleetPlanError('the layout given for node %s GPU %s does not fit a %s' % (name, index, model.key))
            instances = []
            remaining = list(busy)
            for item in placed:
                is_busy = (item.profile, item.start) in remaining
                if is_busy:
                    remaining.remove((item.profile, item.start))
                instances.append((item.profile, item.start, is_busy))
            same = sorted(p for p, dummy, dummy2 in instances) == sorted(p for p, dummy, dummy2 in current)
            if same and len(remaining) == 0 and layout.mig_enabled == gpu.mig_enabled:
                continue   # the rollout's placement planner keeps every instance: no change
            fixed[name, index] = _candidate(model, tuple(instances), True, busy)
    return fixed
