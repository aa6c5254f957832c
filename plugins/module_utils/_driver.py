# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Driver policy checks: is this node's driver new enough for MIG, its profiles and site policy?

Pure functions over a ``HostState``; the minimum versions come from the GPU catalog.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog

__all__ = (
    'DriverPolicy',
    'DriverReport',
    'GpuDriverReport',
    'check_driver',
)


@dataclasses.dataclass(frozen=True)
class DriverPolicy:
    """What the operator requires beyond the hardware minimums; every field is optional."""

    minimum_version: t.Optional[str] = None
    allowed_branches: t.Tuple[str, ...] = ()
    pinned_version: t.Optional[str] = None
    profiles: t.Tuple[str, ...] = ()

    def validate(self):
        """Raise ValueError naming the bad value when a version string cannot be parsed."""
        for label, value in (('minimum_version', self.minimum_version), ('pinned_version', self.pinned_version)):
            if value is not None:
                _parse(label, value)
        for branch in self.allowed_branches:
            if len(_parse('allowed_branches', branch)) != 1:
                raise ValueError('allowed_branches: %r is not a driver branch; write the major number only, e.g. 550 or R550' % branch)
        for profile in self.profiles:
            try:
                _catalog.parse_profile_name(profile)
            except ValueError as exc:
                raise ValueError('profiles: %s' % exc)


def _parse(label, value):
    try:
        return _catalog.parse_driver_version(value)
    except ValueError as exc:
        raise ValueError('%s: %s' % (label, exc))


@dataclasses.dataclass(frozen=True)
class GpuDriverReport:
    """The verdict for one GPU."""

    index: int
    name: str
    model: t.Optional[str]
    mig_capable: bool
    minimum_driver: t.Optional[str]
    minimum_reason: t.Optional[str]
    problems: t.Tuple[str, ...]
    vbios_version: t.Optional[str] = None
    minimum_vbios: t.Optional[str] = None

    @property
    def ok(self):
        """True when nothing is wrong with this GPU's driver."""
        return not self.problems

    def to_dict(self):
        """Return JSON-friendly data."""
        data = dataclasses.asdict(self)
        data['problems'] = list(self.problems)
        data['ok'] = self.ok
        return data


@dataclasses.dataclass(frozen=True)
class DriverReport:
    """The verdict for a node."""

    driver_version: str
    gpus: t.Tuple[GpuDriverReport, ...]
    problems: t.Tuple[str, ...]
    warnings: t.Tuple[str, ...]

    @property
    def ok(self):
        """True when no problem was found on the node or any GPU."""
        return not self.problems


def _label(gpu):
    return 'GPU %d (%s)' % (gpu.index, gpu.name)


def _hardware_minimum(gpu, model, profiles, warnings):
    """Return (minimum version, reason, names offered) for MIG and the requested profiles on this GPU."""
    minimum, reason = model.min_driver, 'MIG on %s' % model.key
    offered = set()
    for requested in profiles:
        try:
            profile, warning = model.resolve_profile(requested)
        except _catalog.UnknownProfileError:
            continue
        offered.add(requested)
        if warning:
            warnings.append('%s: %s' % (_label(gpu), warning))
        if profile.min_driver and (minimum is None or not _catalog.driver_at_least(minimum, profile.min_driver)):
            minimum, reason = profile.min_driver, 'profile %s on %s' % (profile.name, model.key)
    return minimum, reason, offered


def check_driver(host, policy):
    """Check ``host`` (a HostState) against the catalog minimums and ``policy``; return a DriverReport."""
    version = _catalog.parse_driver_version(host.driver_version)
    warnings = []
    host_problems = []
    if policy.pinned_version is not None and version != _catalog.parse_driver_version(policy.pinned_version):
        host_problems.append('driver %s is not the pinned version %s' % (host.driver_version, policy.pinned_version))
    if policy.allowed_branches:
        branches = [_catalog.parse_driver_version(b)[0] for b in policy.allowed_branches]
        if version[0] not in branches:
            host_problems.append('driver %s is from branch R%d, which is not among the allowed branches %s'
                                 % (host.driver_version, version[0], ', '.join('R%d' % b for b in branches)))
    if policy.minimum_version is not None and not _catalog.driver_at_least(host.driver_version, policy.minimum_version):
        host_problems.append('driver %s is older than the required minimum %s' % (host.driver_version, policy.minimum_version))

    reports = []
    offered = set()
    for gpu in host.gpus:
        model = _catalog.find_model(pci_device_id=gpu.pci_device_id, name=gpu.name, memory_total_mib=gpu.memory_total_mib)
        minimum = reason = None
        problems = []
        if model is None:
            if gpu.mig_capable:
                warnings.append('%s with PCI id 0x%08X is not in the GPU catalog: its minimum driver for MIG is unknown, '
                                'so only the site policy was checked' % (_label(gpu), gpu.pci_device_id))
        elif model.mig_capable:
            minimum, reason, names = _hardware_minimum(gpu, model, policy.profiles, warnings)
            offered.update(names)
            if minimum is not None and not _catalog.driver_at_least(host.driver_version, minimum):
                problems.append('%s needs driver %s or newer for %s; the node has %s'
                                % (_label(gpu), _display(minimum), reason, host.driver_version))
            problems.extend(_vbios_problems(gpu, model, warnings))
        reports.append(GpuDriverReport(
            index=gpu.index, name=gpu.name, model=None if model is None else model.key, mig_capable=gpu.mig_capable,
            minimum_driver=None if minimum is None else _display(minimum), minimum_reason=reason, problems=tuple(problems),
            vbios_version=gpu.vbios_version, minimum_vbios=None if model is None else model.min_vbios))

    for requested in policy.profiles:
        if requested not in offered:
            host_problems.append('profile %s is not offered by any MIG GPU on this node (GPU models: %s)'
                                 % (requested, ', '.join(sorted({r.model or r.name for r in reports})) or 'none'))

    problems = tuple(host_problems) + tuple(p for r in reports for p in r.problems)
    return DriverReport(driver_version=host.driver_version, gpus=tuple(reports), problems=problems, warnings=tuple(warnings))


def _vbios_problems(gpu, model, warnings):
    """The vBIOS minimum for MIG of a Workstation / Max-Q / RTX PRO 5000 board (mig.md 4.10); a problem when below it.

    An unknown vBIOS (NVML does not report one) or one that cannot be read as hex fields is a warning: the board may be fine.
    """
    if model.min_vbios is None:
        return []
    needs = 'MIG on %s needs vBIOS %s or newer (NVIDIA MIG user guide)' % (model.key, model.min_vbios)
    if gpu.vbios_version is None:
        warnings.append('%s: NVML does not report its vBIOS version, so it was not checked; %s' % (_label(gpu), needs))
        return []
    try:
        new_enough = _catalog.vbios_at_least(gpu.vbios_version, model.min_vbios)
    except ValueError as exc:
        warnings.append('%s: %s, so it was not checked; %s' % (_label(gpu), exc, needs))
        return []
    if new_enough:
        return []
    return ['%s has vBIOS %s; %s (update the board firmware)' % (_label(gpu), gpu.vbios_version, needs)]


def _display(minimum):
    """Show a bare branch floor ('470') the way NVIDIA writes it (R470)."""
    return 'R%s' % minimum if '.' not in minimum else minimum
