# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Per-GPU targets: which of a host's GPUs a parsed layout selects, and each one's layout checked against its model.

:func:`targets_for_gpus` applies the entries of ``_layout_spec`` to a host's GPUs the way mig-parted does and validates
every selected GPU against its catalog model before anything changes (profile names, drift, counts, fit, pins, drivers),
collecting every problem into one ``LayoutError``. It uses the planner's fit search, so a layout that passes here can be
placed.

mig-devices semantics (mig-parted 3.2): a GI-profile key (``'3g.20gb': 2``) is one GPU instance per count, each
with its full-size compute instance. Compute-instance keys (``'1c.3g.20gb': 3``) are packed into GPU instances
of that GI profile: all CI keys of one GI profile are taken largest first (then by name), and each CI goes into the
first already opened GI of that profile where it still fits (compute slices, CI placements and CI counts,
``_planner.place_compute_instances``); when it fits in none, a new GI is opened. mig-parted only tries the GI
created just before, so this first-fit packing never needs more GIs than mig-parted, and the resulting
``mig-devices`` counts are the same. ``{}`` with ``mig-enabled: true`` means MIG on with no instances.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog
from ansible_collections.gpufleet.mig.plugins.module_utils import _planner
from ansible_collections.gpufleet.mig.plugins.module_utils._layout_spec import (
    GpuLayout,
    InstanceSpec,
    LayoutError,
    load_jmespath,
    parse_inline_layout,
)

__all__ = (
    'GpuTarget',
    'targets_for_gpus',
)


@dataclasses.dataclass(frozen=True)
class GpuTarget:
    """The validated target of one GPU; ``model`` is its catalog key."""

    index: int
    model: str
    layout: GpuLayout
    warnings: t.Tuple[str, ...] = ()


def _filter_matches(filters, gpu):
    """mig-parted DeviceID.Matches: device+vendor, and with the ':0xSSSSVVVV' qualifier also the subsystem ids."""
    if not filters:
        return True
    for text in filters:
        parts = text.split(':')
        if int(parts[0], 16) != gpu.pci_device_id & 0xFFFFFFFF:
            continue
        if len(parts) == 2 and int(parts[1], 16) != (gpu.pci_subsystem_id or 0) & 0xFFFFFFFF:
            continue
        return True
    return False


def _select(selector, gpus, where, problems):
    jmespath = load_jmespath()
    try:
        found = jmespath.search(selector, [gpu.to_dict() for gpu in gpus])
    except jmespath.exceptions.JMESPathError as exc:
        # Type and arity errors only show when the expression runs over the GPU dicts.
        problems.append('%s.device-selector: %r failed on the GPU list: %s; it must return GPU dicts (with index) or GPU indices'
                        % (where, selector, exc))
        return set()
    if found is None:
        return set()
    if not isinstance(found, list):
        found = [found]
    indices = set()
    for item in found:
        index = item.get('index') if isinstance(item, dict) else item
        # bool is an int in Python; `true` is not GPU 1.
        if isinstance(index, int) and not isinstance(index, bool):
            indices.add(index)
        else:
            problems.append('%s.device-selector: %r returned %r; it must return GPU dicts (with index) or GPU indices' % (where, selector, item))
    return indices


def _model_of(gpu):
    if gpu.model:
        try:
            return _catalog.model_by_key(gpu.model)
        except _catalog.UnknownModelError:
            pass
    return _catalog.find_model(gpu.pci_device_id, gpu.name, gpu.memory_total_mib)


class _Validator(object):
    """Builds and validates the instances of one GPU, collecting problems and warnings."""

    def __init__(self, gpu, model, problems):
        self.gpu = gpu
        self.model = model
        self.label = 'GPU %d (%s)' % (gpu.index, model.key)
        self.problems = problems
        self.warnings = []

    def problem(self, text):
        self.problems.append('%s: %s' % (self.label, text))

    def warn(self, text):
        text = '%s: %s' % (self.label, text)
        if text not in self.warnings:
            self.warnings.append(text)

    def gi_profile(self, name):
        try:
            profile, warning = self.model.resolve_profile(name)
        except _catalog.UnknownProfileError:
            hint = self.model.unknown_profile_hint(name)
            self.problem('unknown MIG profile %r; valid profiles on %s: %s%s'
                         % (name, self.model.key, ', '.join(self.model.profile_names), ' (%s)' % hint if hint else ''))
            return None
        if warning:
            self.warn(warning)
        return profile

    def compute_profile(self, name, gi_profile=None):
        """Return (gi_profile, compute_profile) for a CI or GI name; a full-size name gives the default CI."""
        parsed = _catalog.parse_profile_name(name)
        full = parsed['compute_slices'] is None or parsed['compute_slices'] == parsed['gpu_slices']
        gi_part = name.split('.', 1)[1] if parsed['compute_slices'] is not None else name
        profile = self.gi_profile(gi_part)
        if profile is None:
            return None
        if gi_profile is not None and profile is not gi_profile:
            self.problem('compute instance %r cannot be created in a %s GPU instance; valid: %s'
                         % (name, gi_profile.name, ', '.join(gi_profile.compute_profile_names)))
            return None
        if full:
            return profile, profile.default_compute_profile
        for compute in profile.compute_profiles:
            if compute.slices == parsed['compute_slices']:
                return profile, compute
        self.problem('unknown MIG compute profile %r; valid compute profiles of %s: %s'
                     % (name, profile.name, ', '.join(profile.compute_profile_names)))
        return None

    def from_mig_devices(self, devices):
        whole = []
        packs = {}
        for name in sorted(devices):
            count = devices[name]
            found = self.compute_profile(name)
            if found is None:
                continue
            gi_profile, compute = found
            # Refuse impossible counts before building one spec per instance: a count can be any integer.
            if compute.is_default and count > gi_profile.max_count:
                self.problem('%d instances of %s requested; at most %d fit on %s' % (count, gi_profile.name, gi_profile.max_count, self.model.key))
                continue
            if count > self.model.max_mig_devices:
                self.problem('%d compute instances %s requested; at most %d MIG devices fit on %s' % (count, name, self.model.max_mig_devices, self.model.key))
                continue
            if compute.is_default:
                whole.extend([InstanceSpec(gi_profile.name, (compute.name,))] * count)
            else:
                packs.setdefault(gi_profile.name, (gi_profile, []))[1].extend([compute] * count)
        instances = list(whole)
        for gi_name in sorted(packs):
            gi_profile, computes = packs[gi_name]
            opened = []
            for compute in sorted(computes, key=lambda c: (-c.slices, c.name)):
                for group in opened:
                    if _planner.place_compute_instances(gi_profile, group + [compute]) is not None:
                        group.append(compute)
                        break
                else:
                    opened.append([compute])
            for group in opened:
                placed = _planner.place_compute_instances(gi_profile, group)
                instances.append(InstanceSpec(gi_profile.name, tuple(c.name for c, dummy in placed)))
        return instances

    def from_placements(self, placements):
        instances = []
        for number, placement in enumerate(placements):
            gi_profile = self.gi_profile(placement['profile'])
            if gi_profile is None:
                continue
            start = placement['start']
            if start is not None and start not in gi_profile.starts:
                self.problem('placement %d: %s cannot start at memory slice %d; valid starts: %s'
                             % (number + 1, gi_profile.name, start, ', '.join(str(s) for s in gi_profile.starts)))
                continue
            computes = []
            for name in placement['compute_instances']:
                found = self.compute_profile(name, gi_profile)
                if found is not None:
                    computes.append(found[1])
            if len(computes) != len(placement['compute_instances']):
                continue
            placed = _planner.place_compute_instances(gi_profile, computes)
            if placed is None:
                self.problem('placement %d: compute instances %s do not fit in one %s GPU instance (%d compute slices)'
                             % (number + 1, ', '.join(c.name for c in computes), gi_profile.name, gi_profile.compute_slices))
                continue
            instances.append(InstanceSpec(gi_profile.name, tuple(c.name for c, dummy in placed), start))
        pinned = sorted((s for s in instances if s.start is not None), key=lambda s: s.start)
        for first, spec in enumerate(pinned):
            size = self.model.profile(spec.profile).memory_slices
            for other in pinned[first + 1:]:
                if other.start < spec.start + size:
                    self.problem('pinned %s at memory slice %d (slices %d-%d) overlaps pinned %s at memory slice %d'
                                 % (spec.profile, spec.start, spec.start, spec.start + size - 1, other.profile, other.start))
        return instances

    def check(self, instances, driver_version):
        before = len(self.problems)
        counts = {}
        for spec in instances:
            counts[spec.profile] = counts.get(spec.profile, 0) + 1
        for text in self.model.instance_problems([spec.profile for spec in instances]):
            self.problem(text)
        if driver_version is not None:
            for minimum, reason in self.model.driver_requirements(sorted(counts)):
                if not _catalog.driver_at_least(driver_version, minimum):
                    self.problem('%s needs driver %s or newer; this node has %s' % (reason, minimum, driver_version))
        if len(self.problems) == before and instances:
            if _planner.find_placements(self.model, instances) is None:
                self.problem('no placement fits the instances %s on %s (%d memory slices); valid starts: %s'
                             % (', '.join(_describe(s) for s in sorted(instances, key=lambda spec: spec.order)), self.model.key, self.model.memory_slices,
                                '; '.join('%s %s' % (n, list(self.model.profile(n).starts)) for n in sorted(counts))))


def _selects_nothing(entries, gpus):
    """The problem of a layout that selects none of the node's GPUs, naming their PCI ids and what each entry selects.

    Applying it would change nothing, yet the rollout would label the node with it as a success (mig-parted's ``apply``
    changes nothing either, and its ``assert`` then says "not all GPUs match the specified config", assert/config.go);
    usually a label written for other boards, such as ``all-1g.10gb`` on an A30 node.
    """
    if not gpus:
        return 'the layout selects no GPU: this node has none'
    qualified = any(':' in text for entry in entries for text in entry['device-filter'])
    kinds = {}
    for gpu in gpus:
        pci = '0x%08X' % (gpu.pci_device_id & 0xFFFFFFFF)
        if qualified:
            pci += ':0x%08X' % ((gpu.pci_subsystem_id or 0) & 0xFFFFFFFF)
        kinds.setdefault((gpu.name, pci, gpu.mig_capable), []).append(gpu.index)
    found = ['%s %s (%s, PCI id %s%s)' % ('GPU' if len(indices) == 1 else 'GPUs', ', '.join(str(i) for i in indices), name, pci,
                                          '' if mig_capable else ', not MIG capable')
             for (name, pci, mig_capable), indices in sorted(kinds.items(), key=lambda item: item[1][0])]
    selects = []
    for number, entry in enumerate(entries):
        parts = []
        if entry['device-filter']:
            parts.append('device-filter [%s]' % ', '.join(entry['device-filter']))
        parts.append('devices all (the MIG-capable GPUs)' if entry['devices'] == 'all' else 'devices %s' % list(entry['devices']))
        if entry['device-selector'] is not None:
            parts.append('device-selector %r' % entry['device-selector'])
        selects.append('entry %d: %s' % (number + 1, ', '.join(parts)))
    return ('the layout selects none of this node\'s GPUs, so it would change nothing while the node is labelled with it: the node has '
            '%s; the layout selects %s. Use a layout written for these GPUs' % ('; '.join(found), '; '.join(selects)))


def _describe(spec):
    text = spec.profile
    if spec.compute != (spec.profile,):
        text += '[%s]' % ', '.join(spec.compute)
    if spec.start is not None:
        text += '@%d' % spec.start
    return text


def targets_for_gpus(entries, gpus, driver_version=None):
    """Apply layout entries to a host's GPUs and validate every selected GPU; return ``{index: GpuTarget}``.

    ``entries``: the output of :func:`parse_mig_parted_config` or :func:`parse_inline_layout` (raw inline entries are
    parsed here). ``gpus``: a sequence of ``_gpustate.GpuState``. ``driver_version``: the node's driver, or None to skip
    the driver checks.

    Matching follows mig-parted (``assert.go: WalkSelectedMigConfigForEachGPU``): for each entry in order, for each GPU,
    skip it unless ``device-filter`` matches (device+vendor, plus the subsystem ids when the ':0xSSSSVVVV' qualifier is
    given), unless ``devices`` is ``all`` or contains its index (``all`` means all MIG-capable GPUs), and, our extension,
    unless the ``device-selector`` returns it. mig-parted walks every entry and applies each matching one in turn, so for
    a GPU matched by several entries the last one wins; this function does the same. A GPU matched by no entry gets no
    target: the caller decides what that means (mig-parted's full ``assert`` would fail). A layout that matches none of
    the node's GPUs is an error, naming their PCI ids and each entry's filters (it would change nothing, and the node would
    be labelled with it; an entry that selects a GPU with ``mig-enabled: false`` selects it), except on a node without
    MIG-capable GPUs when every entry disables MIG (the node is in that state already). A GPU
    that is not MIG capable and is selected with ``mig-enabled: false`` is already in that state and gets no target
    either; neither does a MIG-capable GPU whose model the catalog does not know when it is selected with
    ``mig-enabled: false`` (a target always carries a catalog model).

    Errors (all collected into one LayoutError): a ``devices`` index that does not exist on the node, ``mig-enabled:
    true`` for a GPU that is not MIG capable or whose model the catalog does not know, unknown profile names (with the
    valid names of that model), compute profiles that a GI cannot hold, too many instances of a profile, instances that
    no placement fits, pinned starts that are invalid or overlap, and profiles or combinations that need a newer
    driver than ``driver_version``. Drifted names (``3g.39gb`` on an A100 80GB) resolve with a warning.
    """
    if not (isinstance(entries, tuple) and all(isinstance(e, dict) and 'device-selector' in e for e in entries)):
        entries = parse_inline_layout(entries)
    gpus = sorted(gpus, key=lambda g: g.index)
    by_index = dict((gpu.index, gpu) for gpu in gpus)
    problems = []
    selected = {}
    for number, entry in enumerate(entries):
        where = 'entry %d' % (number + 1)
        if entry['devices'] != 'all':
            missing = [i for i in entry['devices'] if i not in by_index]
            if missing:
                problems.append('%s: devices %s: no GPU with index %s on this node (GPU indices: %s)'
                                % (where, list(entry['devices']), ', '.join(str(i) for i in missing),
                                   ', '.join(str(i) for i in sorted(by_index)) or 'none'))
        chosen = None
        if entry['device-selector'] is not None:
            try:
                chosen = _select(entry['device-selector'], gpus, where, problems)
            except LayoutError as exc:
                problems.append('%s.device-selector: %s' % (where, exc))
                continue
        for gpu in gpus:
            if not _filter_matches(entry['device-filter'], gpu):
                continue
            if entry['devices'] == 'all':
                if not gpu.mig_capable:
                    continue
            elif gpu.index not in entry['devices']:
                continue
            if chosen is not None and gpu.index not in chosen:
                continue
            selected[gpu.index] = entry
    # A broken entry is reported as such, not as selecting nothing. A node without MIG-capable GPUs already is what a
    # label that only disables MIG asks for (``all-disabled`` on an L40S node): that is no error.
    mig_free = not any(gpu.mig_capable for gpu in gpus) and not any(entry['mig-enabled'] for entry in entries)
    if not selected and not problems and not mig_free:
        problems.append(_selects_nothing(entries, gpus))
    targets = {}
    for index in sorted(selected):
        entry = selected[index]
        gpu = by_index[index]
        model = _model_of(gpu)
        if not entry['mig-enabled']:
            if gpu.mig_capable and model is not None:
                targets[index] = GpuTarget(index=index, model=model.key, layout=GpuLayout(False))
            continue
        if not gpu.mig_capable or (model is not None and not model.mig_capable):
            problems.append('GPU %d (%s): mig-enabled is true but this GPU is not MIG capable' % (index, gpu.name))
            continue
        if model is None:
            hint = _catalog.unknown_model_hint(gpu.pci_device_id, gpu.name, gpu.memory_total_mib)
            problems.append('GPU %d (%s, PCI id 0x%08X): mig-enabled is true but the GPU model is not in the catalog, so its layout cannot '
                            'be validated (the GPU reports %s MiB of memory%s); known models: %s'
                            % (index, gpu.name, gpu.pci_device_id, gpu.memory_total_mib, '; ' + hint if hint else '',
                               ', '.join(m.key for m in _catalog.MODELS if m.mig_capable)))
            continue
        validator = _Validator(gpu, model, problems)
        before = len(problems)
        if entry['placements'] is not None:
            instances = validator.from_placements(entry['placements'])
        else:
            instances = validator.from_mig_devices(entry['mig-devices'])
        if len(problems) == before:
            validator.check(instances, driver_version)
        targets[index] = GpuTarget(index=index, model=model.key, layout=GpuLayout(True, tuple(instances)), warnings=tuple(validator.warnings))
    if problems:
        raise LayoutError(problems)
    return targets
