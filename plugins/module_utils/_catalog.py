# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""GPU catalog: which GPUs support MIG, and with which GPU-instance and compute-instance profiles.

The types and pure helpers, shared by the planner, the modules and the driver checks; the per-model data they are built
from (identity, layouts, profile rows, notes, documented drift) is in ``_catalog_data``. It runs on managed nodes
(Python 3.8+, standard library only).

Sources are the project references ``mig.md`` (section 4 profile tables, 4.11 compute instances,
5.1 minimum drivers, 1.3 profile-name grammar, 6 drifted names) and ``nvml.md`` (4.2 enums,
5.3 profile index vs id, 5.5 compute instances, 6 device data).

Conventions:

* Whatever the references mark inferred ([INF]) or uncertain ([UNC]), and identity values that come
  from the project's own model table rather than from the references ([UNVERIFIED]), is recorded as
  data in the ``notes`` tuple of the profile or model that holds it. Each note reads
  ``'<field>: <tag> <reason>'`` so callers (and tests) can see which field it qualifies; a model note
  about a field of all its profiles names it ``gi_profiles.<field>``.
* ``memory_mib`` of a profile is NVML's ``memorySizeMB`` where NVML's own figure is known (an ``int`` in the profile
  rows: the A100-40GB figures of go-nvml's dgxa100 mock, which match real ``-lgip`` output). Elsewhere only
  ``nvidia-smi mig -lgip``'s two-decimal GiB figure is known (a ``float`` in the rows); ``memory_mib`` is then
  ``round(GiB * 1024)``, which can differ from NVML's figure by up to 5 MiB (A100-40GB ``1g.10gb``: 9.62 GiB gives
  9851, NVML says 9856), and the profile carries an [UNC] ``memory_mib`` note. It also changes slightly between drivers:
  do not compare it for equality with what a driver reports.
* ``nvml_enum`` is the NVML_GPU_INSTANCE_PROFILE_* value passed to ``GetGpuInstanceProfileInfo``;
  ``profile_id`` is the device-specific id that every other GI call and ``nvidia-smi -cgi`` take.
  The enum/id pairing is inferred from names and attributes (mig.md 4.2, high confidence).
* Minimum drivers come from the versioned MIG user guide (``.../mig-user-guide/620/...``).
  [UNC] The unversioned ``getting-started-with-mig.html`` / ``deployment-considerations.html`` pages
  list "A100/A30: R525 (>= 525.53)" and "H100/H200: R450 (>= 450.80.02)", rows that look swapped;
  the 620 table is used here. A bare branch such as ``'470'`` means "the R470 branch or newer".
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing as t

# The per-model data (what NVIDIA documents) lives in _catalog_data; this module holds the types and the code.
from ansible_collections.gpufleet.mig.plugins.module_utils._catalog_data import (
    ARCH_ADA,
    ARCH_AMPERE,
    ARCH_BLACKWELL,
    ARCH_HOPPER,
    ARCH_VOLTA,
    CI_ENUM_BY_SLICES,
    CI_HEURISTIC,
    CI_STARTS,
    CI_STARTS_NOTES,
    DOCUMENTED_DRIFT,
    ENUM_PAIRING,
    HOPPER_REV1_SM,
    MEMORY_FROM_LGIP,
    MODEL_SPECS,
    NOTE_INFERRED,
    NOTE_UNCERTAIN,
    NOTE_UNVERIFIED,
    NVML_ARCHITECTURE,
    NVML_COMPUTE_INSTANCE_PROFILE,
    NVML_GPU_INSTANCE_PROFILE,
    inferred,
    uncertain,
)

__all__ = (
    'ARCH_ADA',
    'ARCH_AMPERE',
    'ARCH_BLACKWELL',
    'ARCH_HOPPER',
    'ARCH_VOLTA',
    'CatalogError',
    'ComputeProfile',
    'DOCUMENTED_DRIFT',
    'GpuInstanceProfile',
    'GpuModel',
    'MODELS',
    'NOTE_INFERRED',
    'NOTE_UNCERTAIN',
    'NOTE_UNVERIFIED',
    'NVML_COMPUTE_INSTANCE_PROFILE',
    'NVML_GPU_INSTANCE_PROFILE',
    'UnknownModelError',
    'UnknownProfileError',
    'drift_source',
    'driver_at_least',
    'find_model',
    'model_by_key',
    'parse_driver_version',
    'parse_profile_name',
    'parse_vbios_version',
    'unknown_model_hint',
    'vbios_at_least',
)


_GI = NVML_GPU_INSTANCE_PROFILE
# The one table of compute-instance placements (in _catalog_data; the simulator's model data is generated from it).
_CI_STARTS = CI_STARTS

_KNOWN_ATTRIBUTES = ('me', 'me.all', 'gfx')
_KNOWN_NEGATIVE_ATTRIBUTES = ('me',)


class CatalogError(Exception):
    """Base class of the catalog's errors."""


class UnknownProfileError(CatalogError, LookupError):
    """A MIG profile (name, id or enum) that the GPU model does not offer; the message lists the valid ones."""


class UnknownModelError(CatalogError, LookupError):
    """A GPU model key that is not in the catalog; the message lists the valid keys."""


# --------------------------------------------------------------------------------------------------
# Profile-name grammar (mig.md 1.3)
# --------------------------------------------------------------------------------------------------

# \Z, not $: '$' also matches before a trailing newline, which would let '1g.5gb\n' through.
_PROFILE_NAME_RE = re.compile(
    r'^(?:(?P<c>[1-9][0-9]*)c\.)?(?P<g>[1-9][0-9]*)g\.(?P<gb>[1-9][0-9]*)gb'
    r'(?:\+(?P<attrs>[^+\-]+)|-(?P<neg>[^+\-]+))?\Z'
)
_PROFILE_FORMS = ("'<G>g.<GB>gb' or '<C>c.<G>g.<GB>gb', optionally followed by '+<attr>[,<attr>]' (attributes: %s) or '-me'"
                  % ', '.join(_KNOWN_ATTRIBUTES))


def parse_profile_name(text):
    """Parse a MIG profile name (mig.md 1.3) into its parts.

    Returns ``{'compute_slices': C or None, 'gpu_slices': G, 'memory_gb': GB, 'attributes': (...), 'negative': bool}``.
    ``compute_slices`` is None when the name has no ``<C>c.`` prefix. For ``-me`` the attributes are ``('me',)``
    and ``negative`` is True. Raises ValueError naming the bad text and the expected form.
    """
    if not isinstance(text, str):
        raise ValueError('invalid MIG profile name %r: expected a string such as %s' % (text, _PROFILE_FORMS))
    match = _PROFILE_NAME_RE.match(text)
    if not match:
        raise ValueError('invalid MIG profile name %r: expected %s' % (text, _PROFILE_FORMS))
    gpu_slices = int(match.group('g'))
    compute_slices = None if match.group('c') is None else int(match.group('c'))
    if compute_slices is not None and compute_slices > gpu_slices:
        raise ValueError('invalid MIG profile name %r: the compute slices (%dc) cannot exceed the GPU slices (%dg)'
                         % (text, compute_slices, gpu_slices))
    negative = match.group('neg') is not None
    if negative:
        attributes = (match.group('neg'),)
        if attributes[0] not in _KNOWN_NEGATIVE_ATTRIBUTES:
            raise ValueError('invalid MIG profile name %r: unknown negative attribute %r; only %s is defined'
                             % (text, '-' + attributes[0], ', '.join('-' + a for a in _KNOWN_NEGATIVE_ATTRIBUTES)))
    elif match.group('attrs') is not None:
        attributes = tuple(match.group('attrs').split(','))
        for attribute in attributes:
            if attribute not in _KNOWN_ATTRIBUTES:
                raise ValueError('invalid MIG profile name %r: unknown attribute %r; known attributes: %s'
                                 % (text, attribute, ', '.join(_KNOWN_ATTRIBUTES)))
        if len(set(attributes)) != len(attributes):
            raise ValueError('invalid MIG profile name %r: an attribute is repeated' % (text,))
    else:
        attributes = ()
    return {
        'compute_slices': compute_slices,
        'gpu_slices': gpu_slices,
        'memory_gb': int(match.group('gb')),
        'attributes': attributes,
        'negative': negative,
    }


def _attribute_text(parsed):
    """The attribute string used by GpuInstanceProfile.attribute: '', 'me', 'me.all', 'gfx', '-me', 'me,gfx'."""
    if parsed['negative']:
        return '-' + parsed['attributes'][0]
    return ','.join(sorted(parsed['attributes']))


# --------------------------------------------------------------------------------------------------
# Driver versions
# --------------------------------------------------------------------------------------------------

_DRIVER_RE = re.compile(r'^[0-9]+(?:\.[0-9]+){0,3}$')
_BRANCH_RE = re.compile(r'^[Rr]([0-9]+)$')
_DRIVER_FORMS = "a driver version such as '550.54.15' or '550.120', or a branch such as 'R470' or '470'"


def parse_driver_version(text):
    """Parse an NVIDIA driver version into a tuple of ints.

    ``'550.54.15'`` -> ``(550, 54, 15)``, ``'550.120'`` -> ``(550, 120)``, ``'R470'`` / ``'470'`` -> ``(470,)``.
    A tuple of ints is returned unchanged. Raises ValueError naming the bad text and the expected form.
    """
    if isinstance(text, tuple) and text and all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in text):
        return text
    if isinstance(text, bytes):
        text = text.decode('ascii', 'replace')
    if not isinstance(text, str):
        raise ValueError('invalid driver version %r: expected %s' % (text, _DRIVER_FORMS))
    stripped = text.strip()
    branch = _BRANCH_RE.match(stripped)
    if branch:
        return (int(branch.group(1)),)
    if not _DRIVER_RE.match(stripped):
        raise ValueError('invalid driver version %r: expected %s' % (text, _DRIVER_FORMS))
    return tuple(int(part) for part in stripped.split('.'))


def driver_at_least(version, minimum):
    """True when driver ``version`` is at or above ``minimum`` (strings or parsed tuples).

    The comparison is on the parsed tuples, so a bare branch minimum ``'470'`` accepts every 470.x driver
    and ``'525.85.12'`` rejects ``'525.60.13'``. A ``minimum`` of None (no requirement) is always met.
    """
    if minimum is None:
        return True
    return parse_driver_version(version) >= parse_driver_version(minimum)


# --------------------------------------------------------------------------------------------------
# vBIOS versions
# --------------------------------------------------------------------------------------------------

_VBIOS_RE = re.compile(r'^[0-9A-Fa-f]{1,4}(?:\.[0-9A-Fa-f]{1,4})*\Z')


def parse_vbios_version(text):
    """Parse a vBIOS version (NVML's ``98.02.6A.00.00``) into a tuple of ints, each field read as hexadecimal.

    The fields are hex (``6A`` follows ``55``, mig.md 4.10), so they are compared as numbers field by field, never as text.
    Raises ValueError naming the bad text and the expected form.
    """
    if isinstance(text, bytes):
        text = text.decode('ascii', 'replace')
    if not isinstance(text, str) or not _VBIOS_RE.match(text.strip()):
        raise ValueError('invalid vBIOS version %r: expected dot-separated hexadecimal fields such as 98.02.6A.00.00' % (text,))
    return tuple(int(field, 16) for field in text.strip().split('.'))


def vbios_at_least(version, minimum):
    """True when vBIOS ``version`` is at or above ``minimum`` (field by field as hex numbers); None minimum: always."""
    if minimum is None:
        return True
    return parse_vbios_version(version) >= parse_vbios_version(minimum)


# --------------------------------------------------------------------------------------------------
# Data classes
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ComputeProfile:
    """A compute-instance (CI) profile inside a GPU-instance profile (mig.md 4.11, nvml.md 5.5)."""

    nvml_enum: int          # NVML_COMPUTE_INSTANCE_PROFILE_*; observed to equal the CI profile id
    slices: int             # C
    max_count: int          # how many fit in one GI of the parent profile
    sm: t.Optional[int]     # None when unknown
    name: str               # '1c.3g.20gb', or the GI name when C == G
    is_default: bool        # the full-GI CI that this collection creates for a whole GI
    starts: t.Tuple[int, ...]   # valid placement starts, in compute slices of the GI (``_CI_STARTS``)
    notes: t.Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class GpuInstanceProfile:
    """A GPU-instance (GI) profile of one GPU model."""

    name: str                       # '3g.20gb', '1g.5gb+me'
    nvml_enum: int                  # NVML_GPU_INSTANCE_PROFILE_* (argument of GetGpuInstanceProfileInfo)
    profile_id: int                 # device-specific id (nvidia-smi 'ID'; argument of every other GI call)
    compute_slices: int             # G
    memory_slices: int              # placement size in memory slices
    starts: t.Tuple[int, ...]       # valid placement starts
    max_count: int
    memory_mib: t.Optional[int]
    sm: t.Optional[int]
    ce: t.Optional[int]
    dec: t.Optional[int]
    enc: t.Optional[int]
    jpeg: t.Optional[int]
    ofa: t.Optional[int]
    min_driver: t.Optional[str]     # profile-specific minimum beyond the GPU's, e.g. '470' (branch R470)
    compute_profiles: t.Tuple[ComputeProfile, ...]
    notes: t.Tuple[str, ...]

    @property
    def attribute(self):
        """'' / 'me' / 'me.all' / 'gfx' / '-me' (several positive attributes are joined by ',')."""
        return _attribute_text(parse_profile_name(self.name))

    @property
    def slice_class(self):
        """The identity that survives drift of the GB part: '1g', '1g+me', '1g.2m' (double-memory 1g), '2g', '4g', ..."""
        text = '%dg' % self.compute_slices
        if self.nvml_enum == _GI['1_SLICE_REV2']:
            text += '.%dm' % self.memory_slices
        attribute = self.attribute
        if attribute.startswith('-'):
            return text + attribute
        if attribute:
            return text + '+' + attribute
        return text

    @property
    def placements(self):
        """Valid placements as ``(start, size)`` tuples in memory slices."""
        return tuple((start, self.memory_slices) for start in self.starts)

    def to_dict(self):
        """JSON-friendly data, including the derived ``slice_class``, ``attribute`` and ``placements``."""
        data = dataclasses.asdict(self)
        data['starts'] = list(self.starts)
        data['notes'] = list(self.notes)
        data['compute_profiles'] = [dict(c, notes=list(c['notes']), starts=list(c['starts'])) for c in data['compute_profiles']]
        data['slice_class'] = self.slice_class
        data['attribute'] = self.attribute
        data['placements'] = [list(p) for p in self.placements]
        return data

    @property
    def compute_profile_names(self):
        """The distinct names of the compute profiles (two Hopper 1-slice profiles share one), in catalog order."""
        return tuple(dict.fromkeys(c.name for c in self.compute_profiles))

    @property
    def default_compute_profile(self):
        """The full-GI compute profile this collection creates (on Hopper double-memory 1g GIs, 1_SLICE_REV1; see D3)."""
        for compute in self.compute_profiles:
            if compute.is_default:
                return compute
        raise UnknownProfileError('GPU-instance profile %s has no default compute profile' % self.name)

    def compute_starts(self, compute):
        """Valid starts, in compute slices, of a CI of ``compute`` (a ComputeProfile of this GI) inside this GI.

        From the one CI placement table ``_CI_STARTS`` (which the project simulator is generated from); its uncertain
        entries carry a ``starts`` note on the compute profile.
        """
        return compute.starts


@dataclasses.dataclass(frozen=True)
class GpuModel:
    """One GPU model: identity, MIG geometry, minimum drivers and profiles."""

    key: str
    names: t.Tuple[str, ...]                # NVML device names
    pci_device_ids: t.Tuple[int, ...]       # 16-bit device ids; the first is the primary one
    architecture: str                       # ARCH_*
    nvml_architecture: int                  # nvmlDeviceArchitecture_t
    compute_capability: t.Tuple[int, int]
    memory_mib: t.Optional[int]
    mig_capable: bool
    memory_slices: int                      # 8 or 4; 0 when not MIG capable
    compute_slices: int                     # 7 or 4; 0 when not MIG capable
    max_mig_devices: int                    # 7 / 4 / 0
    mode_persistent: bool                   # MIG mode survives a reboot (Ampere) or not (Hopper and later)
    min_driver: t.Optional[str]             # minimum driver for MIG on this GPU; None when not MIG capable
    gi_profiles: t.Tuple[GpuInstanceProfile, ...]
    name_aliases: t.Mapping[str, str] = dataclasses.field(compare=False)   # DOCUMENTED_DRIFT: drifted name -> catalog name (read-only)
    combination_min_drivers: t.Tuple[t.Tuple[t.Tuple[str, ...], str], ...] = ()   # ((slice classes), minimum driver)
    notes: t.Tuple[str, ...] = ()
    # [low, high) MiB of the memory total NVML reports, for a board that shares its PCI id with another (RTX PRO 5000 48GB
    # and 72GB, 0x2BB3): ``find_model`` matches it only for a total in this range. None: the id alone identifies the board.
    memory_range_mib: t.Optional[t.Tuple[int, int]] = None
    min_vbios: t.Optional[str] = None       # minimum vBIOS for MIG ('98.02.55.00.00', mig.md 4.10); None: none known

    def matches_memory(self, memory_total_mib):
        """Whether a GPU reporting ``memory_total_mib`` (None: not known) can be this model (see ``memory_range_mib``)."""
        if self.memory_range_mib is None:
            return True
        return memory_total_mib is not None and self.memory_range_mib[0] <= memory_total_mib < self.memory_range_mib[1]

    @property
    def profile_names(self):
        """Names of the GI profiles, in catalog order."""
        return tuple(p.name for p in self.gi_profiles)

    def _unknown(self, what, value, valid):
        if not self.mig_capable:
            return UnknownProfileError('%s %r: GPU model %s is not MIG capable and has no MIG profiles' % (what, value, self.key))
        return UnknownProfileError('unknown %s %r for GPU model %s; valid: %s' % (what, value, self.key, ', '.join(valid)))

    def profile(self, name):
        """The GI profile with exactly this name; UnknownProfileError lists the valid names otherwise."""
        for profile in self.gi_profiles:
            if profile.name == name:
                return profile
        raise self._unknown('MIG profile', name, self.profile_names)

    def profile_by_id(self, profile_id):
        """The GI profile with this device-specific profile id (nvidia-smi 'ID')."""
        for profile in self.gi_profiles:
            if profile.profile_id == profile_id:
                return profile
        raise self._unknown('MIG profile id', profile_id, ['%d (%s)' % (p.profile_id, p.name) for p in self.gi_profiles])

    def profile_by_enum(self, nvml_enum):
        """The GI profile with this NVML_GPU_INSTANCE_PROFILE_* value."""
        for profile in self.gi_profiles:
            if profile.nvml_enum == nvml_enum:
                return profile
        raise self._unknown('NVML GPU-instance profile enum', nvml_enum, ['%d (%s)' % (p.nvml_enum, p.name) for p in self.gi_profiles])

    def resolve_profile(self, name):
        """Resolve a GI profile name: the exact name, or a drifted name that ``DOCUMENTED_DRIFT`` lists for this model.

        Returns ``(profile, warning)``: ``warning`` is None for an exact name, else a sentence naming both names and the
        source. Any other name is refused with UnknownProfileError listing the valid names - a name of the same slice class
        on another board too (``3g.72gb``, a GH200 144G name, on an H200): adapting it would give the node a layout whose
        Kubernetes resource names (``nvidia.com/mig-3g.71gb``) are not the ones written for that name, and a label that
        ``mig-parted assert`` does not find applied. Compute-instance names ('1c.3g.20gb') are refused here; use
        ``compute_profile``.
        """
        for profile in self.gi_profiles:
            if profile.name == name:
                return profile, None
        canonical = self.name_aliases.get(name)
        if canonical is not None:
            profile = self.profile(canonical)
            return profile, ("MIG profile %s is a documented driver name for %s on %s (%s); using %s. Profile names are derived from "
                             "driver-reported memory." % (name, canonical, self.key, drift_source(self.key, name), canonical))
        try:
            parsed = parse_profile_name(name)
        except ValueError as exc:
            raise UnknownProfileError('%s (GPU model %s; valid profiles: %s)' % (exc, self.key, ', '.join(self.profile_names) or 'none')) from exc
        if parsed['compute_slices'] not in (None, parsed['gpu_slices']):
            raise UnknownProfileError('%r is a compute-instance profile name, not a GPU-instance profile (GPU model %s; valid profiles: %s)'
                                      % (name, self.key, ', '.join(self.profile_names) or 'none'))
        error = self._unknown('MIG profile', name, self.profile_names)
        hint = self.unknown_profile_hint(name)
        if hint:
            error = UnknownProfileError('%s (%s)' % (error, hint))
        raise error

    def unknown_profile_hint(self, name):
        """For a GI profile name this model does not offer: a sentence naming its profiles of the same size, else None.

        Says that such a name is not adapted, because a name of the same slice class usually comes from another board
        (GH200 144G's ``3g.72gb`` on an H200, whose ``3g`` profile is ``3g.71gb``); ``DOCUMENTED_DRIFT`` lists the only
        renames that resolve.
        """
        try:
            parsed = parse_profile_name(name)
        except ValueError:
            return None
        if not self.mig_capable or parsed['compute_slices'] not in (None, parsed['gpu_slices']) or name in self.profile_names:
            return None
        attribute = _attribute_text(parsed)
        same = [p.name for p in self.gi_profiles if p.compute_slices == parsed['gpu_slices'] and p.attribute == attribute]
        if not same:
            return None
        return ("%s's %dg%s profile%s %s; names of other boards and undocumented renames are not adapted"
                % (self.key, parsed['gpu_slices'], '+' + attribute if attribute and not attribute.startswith('-') else attribute,
                   's are' if len(same) > 1 else ' is', ', '.join(same)))

    def compute_profile(self, name):
        """Return ``(gi_profile, compute_profile)`` for a CI profile name such as '1c.3g.20gb' or '3g.20gb' (exact names)."""
        valid = [name for p in self.gi_profiles for name in p.compute_profile_names]
        try:
            parsed = parse_profile_name(name)
        except ValueError as exc:
            raise UnknownProfileError('%s (GPU model %s; valid compute profiles: %s)' % (exc, self.key, ', '.join(valid) or 'none')) from exc
        slices = parsed['compute_slices'] or parsed['gpu_slices']
        gi_name = name.split('.', 1)[1] if parsed['compute_slices'] is not None else name
        for profile in self.gi_profiles:
            if profile.name == gi_name:
                for compute in profile.compute_profiles:
                    if compute.slices == slices:
                        return profile, compute
        raise self._unknown('MIG compute profile', name, valid)

    def instance_problems(self, profile_names):
        """Why GI profiles (exact names, repeats allowed) cannot all exist on one GPU of this model, whatever their placements.

        Checks each profile's max count, and the media engines: the GPU has as many JPEG decoders and optical-flow
        accelerators (OFA) as its full-GPU profile reports, and each GI that reports one holds it (A30: one of each, so at
        most one ``+me`` GI, D1 of the 2026-12 fidelity check). Returns a list of sentences, empty when nothing is wrong.
        """
        counts = {}
        for name in profile_names:
            counts[name] = counts.get(name, 0) + 1
        problems = []
        for name in sorted(counts):
            profile = self.profile(name)
            if counts[name] > profile.max_count:
                problems.append('%d instances of %s requested; at most %d fit on %s' % (counts[name], name, profile.max_count, self.key))
        if problems:
            return problems   # the engine sums below would only repeat a count problem
        full = max(self.gi_profiles, key=lambda p: p.compute_slices, default=None)
        users, needs, haves = set(), [], []
        for engine, label in (('jpeg', 'JPEG'), ('ofa', 'OFA')):
            budget = None if full is None else getattr(full, engine)
            if budget is None:
                continue   # unknown for this model: nothing to check against
            holders = [name for name in sorted(counts) if getattr(self.profile(name), engine)]
            needed = sum(counts[name] * getattr(self.profile(name), engine) for name in holders)
            if needed > budget:
                users.update(holders)
                needs.append('%d %s' % (needed, label))
                haves.append('%d %s' % (budget, label))
        if needs:
            problems.append('GPU instances %s need %s; %s has %s in all, and each of these GPU instances holds its own'
                            % (' + '.join(name for name in sorted(profile_names) if name in users), ' and '.join(needs), self.key,
                               ' and '.join(haves)))
        return problems

    def driver_requirements(self, profile_names=()):
        """Every minimum driver that applies to MIG on this model with these GI profiles.

        Returns a tuple of ``(minimum, reason)``: the model's MIG minimum, each profile's own minimum and each
        combination rule whose slice classes are all present. Names are resolved with ``resolve_profile``
        (UnknownProfileError for names the model does not offer).
        """
        requirements = []
        if self.min_driver is not None:
            requirements.append((self.min_driver, 'MIG on %s' % self.key))
        classes = set()
        for name in profile_names:
            profile = self.resolve_profile(name)[0]
            classes.add(profile.slice_class)
            requirement = (profile.min_driver, 'profile %s on %s' % (profile.name, self.key))
            if profile.min_driver is not None and requirement not in requirements:
                requirements.append(requirement)
        for combination, minimum in self.combination_min_drivers:
            if set(combination) <= classes:
                requirements.append((minimum, 'profiles %s together on one %s' % (' + '.join(combination), self.key)))
        return tuple(requirements)

    def to_dict(self):
        """JSON-friendly data (built-in types only; use this rather than ``dataclasses.asdict``, which cannot copy ``name_aliases``)."""
        data = dict((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))
        data['gi_profiles'] = [p.to_dict() for p in self.gi_profiles]
        data['name_aliases'] = dict(self.name_aliases)
        data['combination_min_drivers'] = [[list(classes), minimum] for classes, minimum in self.combination_min_drivers]
        for name in ('names', 'pci_device_ids', 'compute_capability', 'notes'):
            data[name] = list(data[name])
        if self.memory_range_mib is not None:
            data['memory_range_mib'] = list(self.memory_range_mib)
        return data


def drift_source(key, name):
    """The source of the documented drift of profile ``name`` on model ``key`` (a row of DOCUMENTED_DRIFT), else None."""
    for keys, drifted, dummy, source in DOCUMENTED_DRIFT:
        if key in keys and drifted == name:
            return source
    return None


def _drift_aliases(key):
    return dict((drifted, canonical) for keys, drifted, canonical, dummy in DOCUMENTED_DRIFT if key in keys)


def _compute_profiles(gi_name, g, gi_sm, gi_sm_noted, ci_sm_per_slice, ci_sm_note, ci_observed, rev1=False, rev1_plain_sm=None):
    """Derive the CI profiles of one GI: C <= G and (C == G or 2C <= G+1), as go-nvlib enumerates them.

    ``rev1`` (Hopper 1g double-memory GIs): the GI also offers CI profile 1_SLICE_REV1, which gets the GI's full SMs while
    plain 1_SLICE gets ``rev1_plain_sm`` (those of a 1g GI; None when unknown). The REV1 profile comes first and is the default, the one created.
    """
    result = []
    for c in range(1, g + 1):
        if c < g and 2 * c > g + 1:
            continue
        notes = tuple(CI_STARTS_NOTES.get((g, c), ()))
        if c == g:
            sm = gi_sm
            if gi_sm is None:
                notes += uncertain('sm', 'unknown, as for the GPU-instance profile')
            elif gi_sm_noted:
                notes += inferred('sm', 'copied from the GPU-instance profile, whose SM count is not verified')
            name = gi_name
        else:
            sm = None if ci_sm_per_slice is None else ci_sm_per_slice * c
            if ci_sm_per_slice is None:
                notes += uncertain('sm', 'SM count of a partial compute instance not found for this model')
            elif ci_sm_note:
                notes += ci_sm_note
            if not ci_observed:
                notes += CI_HEURISTIC
            name = '%dc.%s' % (c, gi_name)
        if c == g and rev1:
            result.append(ComputeProfile(nvml_enum=NVML_COMPUTE_INSTANCE_PROFILE['1_SLICE_REV1'], slices=1, max_count=1, sm=sm, name=name,
                                         is_default=True, starts=_CI_STARTS[g][c], notes=notes + HOPPER_REV1_SM))
            result.append(ComputeProfile(nvml_enum=CI_ENUM_BY_SLICES[c], slices=1, max_count=1, sm=rev1_plain_sm, name=name,
                                         is_default=False, starts=_CI_STARTS[g][c], notes=notes + HOPPER_REV1_SM))
            continue
        result.append(ComputeProfile(nvml_enum=CI_ENUM_BY_SLICES[c], slices=c, max_count=g // c, sm=sm, name=name,
                                     is_default=(c == g), starts=_CI_STARTS[g][c], notes=notes))
    return tuple(result)


def _mig_profiles(layout, rows, placements_note=(), min_drivers=None, notes=None, ci_sm_per_slice=None, ci_sm_note=(), ci_observed=False,
                  hopper_ci_rev1=False):
    """Build the GI profiles of one model from the shared layout and the model's per-profile rows.

    ``rows``: (slice class, name, memory, SM, CE, DEC, ENC, JPEG, OFA), one per layout entry, same order. The memory is an
    ``int`` for NVML's memorySizeMB, a ``float`` for the -lgip GiB figure (see the module docstring), or None (unknown).
    ``hopper_ci_rev1``: the double-memory 1g GIs offer the 1_SLICE_REV1 compute profile (``_compute_profiles``).
    """
    min_drivers = min_drivers or {}
    notes = notes or {}
    layout_classes = [entry[0] for entry in layout]
    row_classes = [row[0] for row in rows]
    if layout_classes != row_classes:
        raise CatalogError('catalog rows %r do not match the layout %r' % (row_classes, layout_classes))
    sm_of_class = dict((row[0], row[3]) for row in rows)
    profiles = []
    for (slice_class, enum, profile_id, starts, size, max_count), row in zip(layout, rows):
        name, memory, sm, ce, dec, enc, jpeg, ofa = row[1:]
        profile_notes = tuple(notes.get(slice_class, ())) + tuple(placements_note)
        if isinstance(memory, float):
            memory_mib = int(round(memory * 1024))
            profile_notes += MEMORY_FROM_LGIP
        else:
            memory_mib = memory
        noted = set(n.split(':', 1)[0] for n in profile_notes)
        g = int(slice_class.split('g', 1)[0])
        rev1 = hopper_ci_rev1 and enum == _GI['1_SLICE_REV2']
        profiles.append(GpuInstanceProfile(
            name=name, nvml_enum=enum, profile_id=profile_id, compute_slices=g, memory_slices=size, starts=starts,
            max_count=max_count, memory_mib=memory_mib, sm=sm,
            ce=ce, dec=dec, enc=enc, jpeg=jpeg, ofa=ofa, min_driver=min_drivers.get(slice_class),
            compute_profiles=_compute_profiles(name, g, sm, 'sm' in noted, ci_sm_per_slice, ci_sm_note, ci_observed, rev1,
                                               sm_of_class.get('1g')),
            notes=profile_notes,
        ))
    return tuple(profiles)


def _model(key, names, pci_device_ids, architecture, compute_capability, memory_mib, profiles=None, min_driver=None,
           combination_min_drivers=(), notes=(), memory_range_mib=None, min_vbios=None):
    """One GpuModel from a MODEL_SPECS entry; ``profiles`` holds the ``_mig_profiles`` arguments (None: no MIG)."""
    gi_profiles = _mig_profiles(**profiles) if profiles else ()
    mig_capable = bool(gi_profiles)
    memory_slices = max((p.starts[-1] + p.memory_slices for p in gi_profiles), default=0)
    compute_slices = max((p.compute_slices for p in gi_profiles), default=0)
    model_notes = tuple(notes)
    if mig_capable:
        model_notes += ENUM_PAIRING
    return GpuModel(
        key=key, names=tuple(names), pci_device_ids=tuple(pci_device_ids), architecture=architecture,
        nvml_architecture=NVML_ARCHITECTURE[architecture], compute_capability=compute_capability, memory_mib=memory_mib,
        mig_capable=mig_capable, memory_slices=memory_slices, compute_slices=compute_slices,
        max_mig_devices=max((p.max_count for p in gi_profiles if p.compute_slices == 1), default=0),
        mode_persistent=mig_capable and architecture == ARCH_AMPERE,
        min_driver=min_driver if mig_capable else None, gi_profiles=tuple(gi_profiles),
        name_aliases=types.MappingProxyType(_drift_aliases(key)),
        combination_min_drivers=tuple(combination_min_drivers), notes=model_notes,
        memory_range_mib=None if memory_range_mib is None else tuple(memory_range_mib),
        min_vbios=min_vbios if mig_capable else None,
    )


MODELS = tuple(_model(**spec) for spec in MODEL_SPECS)

_NVIDIA_VENDOR_ID = 0x10DE


def model_by_key(key):
    """The catalog model with this key; UnknownModelError lists the valid keys otherwise."""
    for model in MODELS:
        if model.key == key:
            return model
    raise UnknownModelError('unknown GPU model %r; valid models: %s' % (key, ', '.join(m.key for m in MODELS)))


def _device_id(pci_device_id):
    """16-bit device id from a 16-bit id, NVML's 32-bit pciDeviceId ((dev << 16) | 0x10DE) or a hex string; None if not NVIDIA."""
    value = pci_device_id
    if isinstance(value, str):
        try:
            value = int(value.strip(), 16)
        except ValueError:
            return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return None
    if value > 0xFFFF:
        if value & 0xFFFF != _NVIDIA_VENDOR_ID or value > 0xFFFFFFFF:
            return None
        return value >> 16
    return value


def _name_key(name):
    """An NVML device name (text or bytes) as the catalog compares names: stripped, lower case."""
    return (name.decode('utf-8', 'replace') if isinstance(name, bytes) else name).strip().lower()


def find_model(pci_device_id=None, name=None, memory_total_mib=None):
    """The catalog model of a GPU, or None when the catalog does not know it (callers decide what that means).

    ``pci_device_id`` is the 16-bit device id (0x20B0), NVML's 32-bit pciDeviceId (0x20B010DE) or a hex string of either;
    it is tried first. ``name`` is an NVML device name, compared case-insensitively. ``memory_total_mib`` is the memory
    total NVML reports (``GpuState.memory_total_mib``): a model with a ``memory_range_mib`` (one PCI id for two boards) is
    matched only when it is given and in that range, so the RTX PRO 5000 72GB is never taken for the 48GB board.
    """
    if pci_device_id is not None:
        device = _device_id(pci_device_id)
        for model in MODELS:
            if device in model.pci_device_ids and model.matches_memory(memory_total_mib):
                return model
    if name is not None:
        wanted = _name_key(name)
        for model in MODELS:
            if wanted in (n.lower() for n in model.names) and model.matches_memory(memory_total_mib):
                return model
    return None


def unknown_model_hint(pci_device_id=None, name=None, memory_total_mib=None):
    """For a GPU ``find_model`` does not know: a sentence on a catalog model that shares its PCI id or name, else None.

    Such a GPU is another board with the same id (the RTX PRO 5000 72GB shares 0x2BB3 with the 48GB board), whose MIG
    profiles the catalog does not have.
    """
    device = None if pci_device_id is None else _device_id(pci_device_id)
    wanted = None if name is None else _name_key(name)
    for model in MODELS:
        if model.memory_range_mib is None or model.matches_memory(memory_total_mib):
            continue
        if device in model.pci_device_ids or wanted in (n.lower() for n in model.names):
            return ('PCI id 0x%04X is catalogued as %s only for a memory total of %d to %d MiB; this GPU reports %s, so it is '
                    'another board with the same id, whose MIG profiles are not in the catalog'
                    % (model.pci_device_ids[0], model.key, model.memory_range_mib[0], model.memory_range_mib[1] - 1,
                       'no memory total' if memory_total_mib is None else '%d MiB' % memory_total_mib))
    return None
