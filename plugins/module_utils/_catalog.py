# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""GPU catalog: which GPUs support MIG, and with which GPU-instance and compute-instance profiles.

Pure data plus small pure helpers, shared by the planner, the modules and the driver checks.
It runs on managed nodes (Python 3.8+, standard library only).

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
)

ARCH_VOLTA = 'volta'
ARCH_AMPERE = 'ampere'
ARCH_ADA = 'ada'
ARCH_HOPPER = 'hopper'
ARCH_BLACKWELL = 'blackwell'

# nvmlDeviceArchitecture_t values (nvml.md 4.3).
_NVML_ARCHITECTURE = {ARCH_VOLTA: 5, ARCH_AMPERE: 7, ARCH_ADA: 8, ARCH_HOPPER: 9, ARCH_BLACKWELL: 10}

NOTE_INFERRED = '[INF]'
NOTE_UNCERTAIN = '[UNC]'
NOTE_UNVERIFIED = '[UNVERIFIED]'

# NVML_GPU_INSTANCE_PROFILE_* (nvml.md 4.2, mig.md 4.2).
NVML_GPU_INSTANCE_PROFILE = types.MappingProxyType({
    '1_SLICE': 0x0,
    '2_SLICE': 0x1,
    '3_SLICE': 0x2,
    '4_SLICE': 0x3,
    '7_SLICE': 0x4,
    '8_SLICE': 0x5,
    '6_SLICE': 0x6,
    '1_SLICE_REV1': 0x7,   # +me
    '2_SLICE_REV1': 0x8,   # 2g+me (A30)
    '1_SLICE_REV2': 0x9,   # 1 compute slice, twice the memory
    '1_SLICE_GFX': 0xA,
    '2_SLICE_GFX': 0xB,
    '4_SLICE_GFX': 0xC,
    '1_SLICE_NO_ME': 0xD,
    '2_SLICE_NO_ME': 0xE,
    '1_SLICE_ALL_ME': 0xF,
    '2_SLICE_ALL_ME': 0x10,
    '3_SLICE_GFX': 0x11,
})

# NVML_COMPUTE_INSTANCE_PROFILE_* (nvml.md 4.2). Observed CI profile ids equal these values (nvml.md 5.3).
NVML_COMPUTE_INSTANCE_PROFILE = types.MappingProxyType({
    '1_SLICE': 0x0,
    '2_SLICE': 0x1,
    '3_SLICE': 0x2,
    '4_SLICE': 0x3,
    '7_SLICE': 0x4,
    '8_SLICE': 0x5,
    '6_SLICE': 0x6,
    '1_SLICE_REV1': 0x7,
    '7_SLICE_NVL': 0x8,
})

_GI = NVML_GPU_INSTANCE_PROFILE
_CI_ENUM_BY_SLICES = {1: 0x0, 2: 0x1, 3: 0x2, 4: 0x3, 7: 0x4, 8: 0x5, 6: 0x6}

_KNOWN_ATTRIBUTES = ('me', 'me.all', 'gfx')
_KNOWN_NEGATIVE_ATTRIBUTES = ('me',)


class CatalogError(Exception):
    """Base class of the catalog's errors."""


class UnknownProfileError(CatalogError, LookupError):
    """A MIG profile (name, id or enum) that the GPU model does not offer; the message lists the valid ones."""


class UnknownModelError(CatalogError, LookupError):
    """A GPU model key that is not in the catalog; the message lists the valid keys."""


def _note(field, tag, reason):
    return '%s: %s %s' % (field, tag, reason)


def _inf(fields, reason):
    """Notes marking each of ``fields`` (a name or a tuple of names) as inferred."""
    if isinstance(fields, str):
        fields = (fields,)
    return tuple(_note(f, NOTE_INFERRED, reason) for f in fields)


def _unc(fields, reason):
    """Notes marking each of ``fields`` as uncertain (conflicting or missing sources)."""
    if isinstance(fields, str):
        fields = (fields,)
    return tuple(_note(f, NOTE_UNCERTAIN, reason) for f in fields)


def _unv(fields, reason):
    """Notes marking identity values that come from the project table, not from the references."""
    if isinstance(fields, str):
        fields = (fields,)
    return tuple(_note(f, NOTE_UNVERIFIED, reason) for f in fields)


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
        return data


# Drifted names: GI profile names that NVIDIA's drivers are documented to have reported for the same profile of the same
# board (a name is computed from driver-reported memory, mig.md 1.3). Only these resolve (``GpuModel.resolve_profile``);
# a name of the same slice class on another board is refused: H200 1g.18gb/3g.71gb vs GH200 144G 1g.18gb/3g.72gb, H100
# 80GB 1g.10gb vs H100 NVL 1g.12gb, B200 3g.90gb vs GB200 3g.93gb are different boards, not drift (mig.md 4.7-4.9).
# NVIDIA/mig-parted#227 (PR #228) documents GB200 boards reporting 1g.24gb, later 1g.23gb: add the row with the GB200
# model. Each row: (model keys, drifted name, catalog name, source).
DOCUMENTED_DRIFT = (
    (('A100-SXM4-80GB', 'A100-PCIE-80GB'), '3g.39gb', '3g.40gb',
     'NVIDIA/mig-parted#31: drivers 535.x and 545.x named the A100 80GB 3g profile 3g.39gb; mig.md 4.6, 5.3'),
)


def drift_source(key, name):
    """The source of the documented drift of profile ``name`` on model ``key`` (a row of DOCUMENTED_DRIFT), else None."""
    for keys, drifted, dummy, source in DOCUMENTED_DRIFT:
        if key in keys and drifted == name:
            return source
    return None


def _drift_aliases(key):
    return dict((drifted, canonical) for keys, drifted, canonical, dummy in DOCUMENTED_DRIFT if key in keys)


# --------------------------------------------------------------------------------------------------
# Geometry shared by GPUs with the same slice layout
# --------------------------------------------------------------------------------------------------

# 7 compute / 8 memory slices (mig.md 4.3). Written once, used by every 8-slice GPU; each model says whether
# its placements were seen as real `nvidia-smi mig -lgipp` output or are inferred.
# Columns: slice class, NVML enum, nvidia-smi profile ID, valid placement starts, placement size (memory slices), max count.
_EIGHT_SLICE_LAYOUT = (
    ('1g'   , _GI['1_SLICE']     , 19, (0, 1, 2, 3, 4, 5, 6), 1, 7),
    ('1g+me', _GI['1_SLICE_REV1'], 20, (0, 1, 2, 3, 4, 5, 6), 1, 1),
    ('1g.2m', _GI['1_SLICE_REV2'], 15, (0, 2, 4, 6)         , 2, 4),
    ('2g'   , _GI['2_SLICE']     , 14, (0, 2, 4)            , 2, 3),
    ('3g'   , _GI['3_SLICE']     , 9 , (0, 4)               , 4, 2),
    ('4g'   , _GI['4_SLICE']     , 5 , (0,)                 , 4, 1),
    ('7g'   , _GI['7_SLICE']     , 0 , (0,)                 , 8, 1),
)

# 4 compute / 4 memory slices: A30 (mig.md 4.4). Note the A30-specific ids (1g -> 14, 2g -> 5, 4g -> 0).
_A30_LAYOUT = (
    ('1g'   , _GI['1_SLICE']     , 14, (0, 1, 2, 3), 1, 4),
    ('1g+me', _GI['1_SLICE_REV1'], 21, (0, 1, 2, 3), 1, 1),
    ('2g'   , _GI['2_SLICE']     , 5 , (0, 2)      , 2, 2),
    ('2g+me', _GI['2_SLICE_REV1'], 6 , (0, 2)      , 2, 1),
    ('4g'   , _GI['4_SLICE']     , 0 , (0,)        , 4, 1),
)

_PLACEMENTS_INFERRED = _inf('starts', 'shared placement table of 8-memory-slice GPUs (mig.md 4.3); not seen as -lgipp output for this model')
_ENUM_PAIRING = _inf('gi_profiles.nvml_enum', 'enum <-> profile-id pairing inferred from names and attributes (mig.md 4.2, high confidence)')
_CI_HEURISTIC = _inf('max_count', 'C < G compute profiles and their counts follow go-nvlib\'s enumeration (C <= G, 2C <= G+1; floor(G/C)); '
                     'observed only on A100-40GB (nvml.md 5.5)')
_HOPPER_CI_REV1 = _unc('gi_profiles.compute_profiles', 'the 1_SLICE_REV1 compute profile of the double-memory 1g GIs (full GI SMs, '
                       'plain 1_SLICE fewer) follows go-nvlib PR #85 and go-nvml#146; its availability per GI and driver is not '
                       'confirmed by real -lcip output')


# Compute-instance placements inside one GI: {G (the GI's compute slices): {C: valid starts in compute slices}}. The one
# table of CI placements: the planner, the validator and the restore checks read it through ComputeProfile.starts, and
# the project simulator's model data is generated from it. No real ``nvidia-smi mig -lcipp`` output was found; see
# _CI_STARTS_NOTES for the source of each partial-CI entry. A full CI (C == G) starts at 0.
_CI_STARTS = types.MappingProxyType({
    1: {1: (0,)},
    2: {1: (0, 1), 2: (0,)},
    3: {1: (0, 1, 2), 2: (0,), 3: (0,)},
    4: {1: (0, 1, 2, 3), 2: (0, 2), 4: (0,)},
    7: {1: (0, 1, 2, 3, 4, 5, 6), 2: (0, 2, 4), 3: (0, 4), 4: (0,), 7: (0,)},
})
_GO_NVML_CI = 'from the ComputeInstancePlacements of go-nvml\'s mock GPUs (NVIDIA; synthetic B200/H100/A30 data); no real -lcipp seen'
_CI_STARTS_NOTES = {
    (2, 1): _unc('starts', _GO_NVML_CI),
    (3, 1): _unc('starts', _GO_NVML_CI),
    (3, 2): _unc('starts', _GO_NVML_CI),
    (4, 1): _unc('starts', _GO_NVML_CI),
    (4, 2): _unc('starts', _GO_NVML_CI),
    (7, 1): _unc('starts', _GO_NVML_CI),
    (7, 2): _unc('starts', _GO_NVML_CI),
    # D2: {0, 4}, not {0, 3}: the mock's placements, and an A100 site (ALCF Polaris) documents 4c.7g.40gb + 3c.7g.40gb.
    (7, 3): _unc('starts', _GO_NVML_CI + '; fits 4c.7g.40gb + 3c.7g.40gb, documented as valid by ALCF for A100'),
    (7, 4): _inf('starts', 'not in the go-nvml mock; 0 is the only start that leaves room for the 3c at 4 that 4c + 3c needs'),
}
_HOPPER_REV1_SM = _unc('sm', 'a 1g double-memory GI offers 1_SLICE_REV1 with the GI\'s full SM count and plain 1_SLICE with those of '
                       'a 1g GI (go-nvlib PR #85, merged then reverted; go-nvml#146); not seen in real -lcip output')


def _compute_profiles(gi_name, g, gi_sm, gi_sm_noted, ci_sm_per_slice, ci_sm_note, ci_observed, rev1=False, rev1_plain_sm=None):
    """Derive the CI profiles of one GI: C <= G and (C == G or 2C <= G+1), as go-nvlib enumerates them.

    ``rev1`` (Hopper 1g double-memory GIs): the GI also offers CI profile 1_SLICE_REV1, which gets the GI's full SMs while
    plain 1_SLICE gets ``rev1_plain_sm`` (those of a 1g GI; None when unknown). The REV1 profile comes first and is the default, the one created.
    """
    result = []
    for c in range(1, g + 1):
        if c < g and 2 * c > g + 1:
            continue
        notes = tuple(_CI_STARTS_NOTES.get((g, c), ()))
        if c == g:
            sm = gi_sm
            if gi_sm is None:
                notes += _unc('sm', 'unknown, as for the GPU-instance profile')
            elif gi_sm_noted:
                notes += _inf('sm', 'copied from the GPU-instance profile, whose SM count is not verified')
            name = gi_name
        else:
            sm = None if ci_sm_per_slice is None else ci_sm_per_slice * c
            if ci_sm_per_slice is None:
                notes += _unc('sm', 'SM count of a partial compute instance not found for this model')
            elif ci_sm_note:
                notes += ci_sm_note
            if not ci_observed:
                notes += _CI_HEURISTIC
            name = '%dc.%s' % (c, gi_name)
        if c == g and rev1:
            result.append(ComputeProfile(nvml_enum=NVML_COMPUTE_INSTANCE_PROFILE['1_SLICE_REV1'], slices=1, max_count=1, sm=sm, name=name,
                                         is_default=True, starts=_CI_STARTS[g][c], notes=notes + _HOPPER_REV1_SM))
            result.append(ComputeProfile(nvml_enum=_CI_ENUM_BY_SLICES[c], slices=1, max_count=1, sm=rev1_plain_sm, name=name,
                                         is_default=False, starts=_CI_STARTS[g][c], notes=notes + _HOPPER_REV1_SM))
            continue
        result.append(ComputeProfile(nvml_enum=_CI_ENUM_BY_SLICES[c], slices=c, max_count=g // c, sm=sm, name=name,
                                     is_default=(c == g), starts=_CI_STARTS[g][c], notes=notes))
    return tuple(result)


_MEMORY_FROM_LGIP = _unc('memory_mib', 'round(GiB x 1024) of the two-decimal nvidia-smi -lgip figure; NVML\'s memorySizeMB is not '
                                       'known for this profile and can differ by up to 5 MiB')


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
            profile_notes += _MEMORY_FROM_LGIP
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


# --------------------------------------------------------------------------------------------------
# Per-model profile rows
# --------------------------------------------------------------------------------------------------

# A100 40GB (mig.md 4.5, nvml.md 6.1): SM and engines observed; memory is NVML's memorySizeMB from go-nvml's dgxa100 mock
# (real data: it matches the -lgip GiB figures 4.75 / 9.62 / 19.50 / 39.25).
# Row columns: slice class, profile name, memory (int: NVML MiB; float: -lgip GiB; None: no figure), SM, CE, DEC, ENC, JPEG, OFA
# (None: unknown).
_A100_40GB_ROWS = (
    ('1g'   , '1g.5gb'   , 4864 , 14, 1, 0, 0, 0, 0),
    ('1g+me', '1g.5gb+me', 4864 , 14, 1, 1, 0, 1, 1),
    ('1g.2m', '1g.10gb'  , 9856 , 14, 1, 1, 0, 0, 0),
    ('2g'   , '2g.10gb'  , 9856 , 28, 2, 1, 0, 0, 0),
    ('3g'   , '3g.20gb'  , 19968, 42, 3, 2, 0, 0, 0),
    ('4g'   , '4g.20gb'  , 19968, 56, 4, 2, 0, 0, 0),
    ('7g'   , '7g.40gb'  , 40192, 98, 7, 5, 0, 1, 1),
)
_A100_40GB_NOTES = {
    '1g.2m': _unc('memory_slices', 'the MIG guide table prints a 1/8 memory fraction for 1g.10gb (likely a typo); -lgipp shows size 2, used here'),
}
_A100_40GB_MIN_DRIVERS = {'1g+me': '470', '1g.2m': '525'}

# A100 80GB (mig.md 4.6): the 1g, 1g+me, 2g and 3g rows observed on an A100 80GB PCIe (mig-parted#97); the rest inferred.
_A100_80GB_ROWS = (
    ('1g'   , '1g.10gb'   , 9.50 , 14, 1, 0, 0, 0, 0),
    ('1g+me', '1g.10gb+me', 9.50 , 14, 1, 1, 0, 1, 1),
    ('1g.2m', '1g.20gb'   , 19.50, 14, 1, 1, 0, 0, 0),
    ('2g'   , '2g.20gb'   , 19.50, 28, 2, 1, 0, 0, 0),
    ('3g'   , '3g.40gb'   , 39.25, 42, 3, 2, 0, 0, 0),
    ('4g'   , '4g.40gb'   , 39.25, 56, 4, 2, 0, 0, 0),
    ('7g'   , '7g.80gb'   , 79.00, 98, 7, 5, 0, 1, 1),
)
_A100_80GB_INFERRED = 'no -lgip output seen for this profile on an 80GB A100; taken from the A100-40GB pattern (mig.md 4.6)'
_A100_80GB_NOTES = {
    '1g+me': _inf('min_driver', 'R470 is documented for the A100 1g.5gb+me; assumed for the 80GB 1g.10gb+me'),
    '1g.2m': (_inf(('sm', 'memory_mib', 'dec', 'jpeg', 'ofa'), _A100_80GB_INFERRED)
              + _inf('min_driver', 'R525 is documented for the A100-40GB 1g.10gb (same 1_SLICE_REV2 enum, first in NVML 11.525); '
                                   'assumed for the 80GB 1g.20gb')),
    '4g': _inf(('sm', 'memory_mib', 'dec', 'jpeg', 'ofa'), _A100_80GB_INFERRED),
    '7g': (_inf(('sm', 'memory_mib', 'dec', 'jpeg', 'ofa'), _A100_80GB_INFERRED + '; ~79 GiB')
           + _unc('memory_mib', 'go-nvml\'s mock says 80384 MiB, but its 80GB figures are not real data (its 1g.10gb 9856 MiB '
                                'contradicts the 9.50 GiB of real -lgip output), so it is not used')),
}
_A100_80GB_MIN_DRIVERS = {'1g+me': '470', '1g.2m': '525'}
_A100_SXM4_80GB_NOTES = dict(_A100_80GB_NOTES)
for _cls in ('1g', '1g+me', '2g', '3g'):
    _A100_SXM4_80GB_NOTES[_cls] = _A100_SXM4_80GB_NOTES.get(_cls, ()) + _inf(
        ('memory_mib', 'sm'), '-lgip figure observed on an A100 80GB PCIe (mig-parted#97); assumed identical on SXM4')
del _cls

# A30 24GB (mig.md 4.4, nvml.md 6.3).
_A30_ROWS = (
    ('1g'   , '1g.6gb'    , 5.81 , 14, 1, 1, None, 0, 0),
    ('1g+me', '1g.6gb+me' , 5.81 , 14, 1, 1, None, 1, 1),
    ('2g'   , '2g.12gb'   , 11.69, 28, 2, 2, None, 0, 0),
    ('2g+me', '2g.12gb+me', 11.69, 28, 2, 2, None, 1, 1),
    ('4g'   , '4g.24gb'   , 23.44, 56, 4, 4, None, 1, 1),
)
_A30_NOTES = {
    '1g': _unc('dec', 'the MIG guide lists 0 decoders for 1g.6gb, real -lgip shows 1 (used here)'),
    '4g': _unc('memory_mib', '-lgip shows 23.44 to 23.69 GiB depending on the driver; the lowest figure is used'),
}
_A30_MIN_DRIVERS = {'1g+me': '470', '2g+me': '525'}

# Hopper 132-SM parts (mig.md 4.7): SM 16/16/26/32/60/64/132; guide engine counts (ENC 0).
# H100 80GB (SXM5 -lgip from jbarrow.ai/field_notes/nvidia-mig).
_H100_80GB_ROWS = (
    ('1g'   , '1g.10gb'   , 9.75 , 16 , 1, 1, 0, 1, 0),
    ('1g+me', '1g.10gb+me', 9.75 , 16 , 1, 1, 0, 1, 1),
    ('1g.2m', '1g.20gb'   , 19.62, 26 , 1, 1, 0, 1, 0),
    ('2g'   , '2g.20gb'   , 19.62, 32 , 2, 2, 0, 2, 0),
    ('3g'   , '3g.40gb'   , 39.50, 60 , 3, 3, 0, 3, 0),
    ('4g'   , '4g.40gb'   , 39.50, 64 , 4, 4, 0, 4, 0),
    ('7g'   , '7g.80gb'   , 79.25, 132, 8, 7, 0, 7, 1),
)
# H100 PCIe 80GB: same names (mig.md 4.7); 114 SMs, per-profile SM counts not found.
_H100_PCIE_ROWS = tuple(row[:3] + (None,) + row[4:] for row in _H100_80GB_ROWS)
_H100_PCIE_NOTES = dict(
    (row[0], _unc('sm', 'per-profile SM counts of the 114-SM H100 PCIe not found (mig.md 4.7)')
     + _inf('memory_mib', '-lgip figure of the H100 80GB SXM5; not seen on the PCIe board'))
    for row in _H100_80GB_ROWS
)

# H100 NVL 94GB (-lgip from NVIDIA/gpu-operator PR #900).
_H100_NVL_ROWS = (
    ('1g'   , '1g.12gb'   , 10.75, 16 , 1, 1, 0, 1, 0),
    ('1g+me', '1g.12gb+me', 10.75, 16 , 1, 1, 0, 1, 1),
    ('1g.2m', '1g.24gb'   , 21.62, 26 , 1, 1, 0, 1, 0),
    ('2g'   , '2g.24gb'   , 21.62, 32 , 2, 2, 0, 2, 0),
    ('3g'   , '3g.47gb'   , 46.38, 60 , 3, 3, 0, 3, 0),
    ('4g'   , '4g.47gb'   , 46.38, 64 , 4, 4, 0, 4, 0),
    ('7g'   , '7g.94gb'   , 93.12, 132, 8, 7, 0, 7, 1),
)

# GH200 with the 96GB Hopper profile set. Memory seen on "a 96GB Hopper part (host not identified)".
_GH200_96GB_ROWS = (
    ('1g'   , '1g.12gb'   , None , 16 , 1, 1, 0, 1, 0),
    ('1g+me', '1g.12gb+me', None , 16 , 1, 1, 0, 1, 1),
    ('1g.2m', '1g.24gb'   , 23.00, 26 , 1, 1, 0, 1, 0),
    ('2g'   , '2g.24gb'   , 23.00, 32 , 2, 2, 0, 2, 0),
    ('3g'   , '3g.48gb'   , 46.50, 60 , 3, 3, 0, 3, 0),
    ('4g'   , '4g.48gb'   , 46.50, 64 , 4, 4, 0, 4, 0),
    ('7g'   , '7g.96gb'   , 93.00, 132, 8, 7, 0, 7, 1),
)
_GH200_HOST = 'figure seen on an unidentified 96GB Hopper part (mig.md 4.7); assumed for GH200'
_GH200_96GB_NOTES = {
    '1g': _unc('memory_mib', 'no -lgip figure found for the 96GB 1g profiles'),
    '1g+me': _unc('memory_mib', 'no -lgip figure found for the 96GB 1g profiles'),
    '1g.2m': _inf('memory_mib', 'no figure found; taken equal to 2g.24gb as on every other 8-slice GPU; ' + _GH200_HOST),
    '2g': _inf('memory_mib', _GH200_HOST),
    '3g': _inf('memory_mib', _GH200_HOST),
    '4g': _inf('memory_mib', _GH200_HOST),
    '7g': _inf('memory_mib', _GH200_HOST),
}

# H200 141GB (mig.md 4.8; -lgip from NVIDIA/mig-parted#120).
_H200_ROWS = (
    ('1g'   , '1g.18gb'   , 16.00 , 16 , 1, 1, 0, 1, 0),
    ('1g+me', '1g.18gb+me', 16.00 , 16 , 1, 1, 0, 1, 1),
    ('1g.2m', '1g.35gb'   , 32.25 , 26 , 1, 1, 0, 1, 0),
    ('2g'   , '2g.35gb'   , 32.25 , 32 , 2, 2, 0, 2, 0),
    ('3g'   , '3g.71gb'   , 69.50 , 60 , 3, 3, 0, 3, 0),
    ('4g'   , '4g.71gb'   , 69.50 , 64 , 4, 4, 0, 4, 0),
    ('7g'   , '7g.141gb'  , 139.75, 132, 8, 7, 0, 7, 1),
)
_H200_NOTES = dict((row[0], _inf('enc', 'the reference gives DEC/JPEG/OFA "as H100" for H200 but no encoder count; 0 as on H100'))
                   for row in _H200_ROWS)

# B200 180GB (mig.md 4.9). Real -lgip for the 1g, 1g+me, 1g.2m and 2g profiles; the guide table looks column-shifted.
_B200_ROWS = (
    ('1g'   , '1g.23gb'   , 22.00, 18  , 2   , 1   , None, 1   , 0),
    ('1g+me', '1g.23gb+me', 22.00, 18  , 2   , 1   , None, 1   , 1),
    ('1g.2m', '1g.45gb'   , 44.25, 30  , 2   , 1   , None, 1   , 0),
    ('2g'   , '2g.45gb'   , 44.25, 36  , 4   , 2   , None, 2   , 0),
    ('3g'   , '3g.90gb'   , None , None, None, None, None, None, None),
    ('4g'   , '4g.90gb'   , None , None, None, None, None, None, None),
    ('7g'   , '7g.180gb'  , None , None, None, None, None, None, None),
)
_B200_ENC = _unc('enc', 'no encoder count for B200 in the reference')
_B200_UNKNOWN = (_unc(('memory_mib', 'sm'), 'not captured in any -lgip output (mig.md 4.9)')
                 + _unc(('ce', 'dec', 'jpeg', 'ofa'), 'the MIG guide B200 table looks column-shifted and conflicts with real -lgip output')
                 + _B200_ENC
                 + _inf('profile_id', 'ids 9/5/0 presumed from the other 8-slice GPUs; only 19/20/15/14 seen on B200 (nvml.md 6.2)'))
_B200_NOTES = {
    '1g': _unc('memory_mib', '22.00 GiB on one driver, 20.50 GiB on another') + _inf('ofa', 'guide table value (0)') + _B200_ENC,
    '1g+me': (_inf(('memory_mib', 'sm', 'ce', 'dec', 'jpeg'), 'only the id and OFA 1 were captured for 1g.23gb+me; copied from 1g.23gb')
              + _B200_ENC),
    '1g.2m': (_unc(('ce', 'dec', 'jpeg', 'ofa'), 'from the MIG guide B200 table, which looks column-shifted; not in the captured -lgip')
              + _B200_ENC),
    '2g': (_inf('memory_mib', 'not captured; taken equal to 1g.45gb as on every other 8-slice GPU')
           + _unc('ofa', 'from the MIG guide B200 table, which looks column-shifted') + _B200_ENC),
    '3g': _B200_UNKNOWN,
    '4g': _B200_UNKNOWN,
    '7g': _B200_UNKNOWN,
}


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------

_AMPERE_4G_3G = ((('4g', '3g'), '510'),)   # "Before R510, 4g.20gb + 3g.20gb on one GPU was not supported" (mig.md 3.3)
_COMBINATION_80GB_INFERRED = _inf('combination_min_drivers', 'the R510 4g+3g rule is documented with A100-40GB names; applied to 80GB A100s')


def _model(key, names, pci_device_ids, architecture, compute_capability, memory_mib, gi_profiles=(), min_driver=None,
           combination_min_drivers=(), notes=()):
    mig_capable = bool(gi_profiles)
    memory_slices = max((p.starts[-1] + p.memory_slices for p in gi_profiles), default=0)
    compute_slices = max((p.compute_slices for p in gi_profiles), default=0)
    model_notes = tuple(notes)
    if mig_capable:
        model_notes += _ENUM_PAIRING
    return GpuModel(
        key=key, names=tuple(names), pci_device_ids=tuple(pci_device_ids), architecture=architecture,
        nvml_architecture=_NVML_ARCHITECTURE[architecture], compute_capability=compute_capability, memory_mib=memory_mib,
        mig_capable=mig_capable, memory_slices=memory_slices, compute_slices=compute_slices,
        max_mig_devices=max((p.max_count for p in gi_profiles if p.compute_slices == 1), default=0),
        mode_persistent=mig_capable and architecture == ARCH_AMPERE,
        min_driver=min_driver if mig_capable else None, gi_profiles=tuple(gi_profiles),
        name_aliases=types.MappingProxyType(_drift_aliases(key)),
        combination_min_drivers=tuple(combination_min_drivers), notes=model_notes,
    )


_UNV_NAME = _unv('names', 'NVML device name from the project table; not quoted in the references')
_UNV_MEMORY = _unv('memory_mib', 'board total from the project table; not given in the references')
_A100_MIN = '450.80.02'
_A30_MIN = '460.73.01'
_H100_MIN = '525.85.12'
_H200_MIN = '550.90.07'
_B200_MIN = '570.133.20'

MODELS = (
    _model(
        'A100-SXM4-40GB', ('NVIDIA A100-SXM4-40GB',), (0x20B0,), ARCH_AMPERE, (8, 0), 40960,
        _mig_profiles(_EIGHT_SLICE_LAYOUT, _A100_40GB_ROWS, min_drivers=_A100_40GB_MIN_DRIVERS, notes=_A100_40GB_NOTES,
                      ci_sm_per_slice=14, ci_observed=True),
        min_driver=_A100_MIN, combination_min_drivers=_AMPERE_4G_3G,
        notes=_unc('memory_mib', 'nvidia-smi shows 40960 MiB; NVML-based tools have reported 40536 MiB (nvml.md 6.1)'),
    ),
    _model(
        'A100-PCIE-40GB', ('NVIDIA A100-PCIE-40GB',), (0x20F1, 0x20B1, 0x20F6), ARCH_AMPERE, (8, 0), 40960,
        _mig_profiles(_EIGHT_SLICE_LAYOUT, _A100_40GB_ROWS, placements_note=_inf(
            'starts', '-lgipp seen on A100-SXM4-40GB only (mig.md 4.3); assumed identical on the PCIe board'),
            min_drivers=_A100_40GB_MIN_DRIVERS, notes=_A100_40GB_NOTES, ci_sm_per_slice=14, ci_observed=True),
        min_driver=_A100_MIN, combination_min_drivers=_AMPERE_4G_3G,
        notes=_UNV_NAME + _UNV_MEMORY + _unv(
            'pci_device_ids', '0x20F1, 0x20B1 and 0x20F6 are in mig-parted\'s 40GB A100/A800 filter group (mig.md 2.1); which id is '
            'which board is not stated there (0x20B1 and 0x20F6 are added to this model as extra ids)'),
    ),
    _model(
        'A100-SXM4-80GB', ('NVIDIA A100-SXM4-80GB',), (0x20B2,), ARCH_AMPERE, (8, 0), 81920,
        _mig_profiles(_EIGHT_SLICE_LAYOUT, _A100_80GB_ROWS, placements_note=_PLACEMENTS_INFERRED, min_drivers=_A100_80GB_MIN_DRIVERS,
                      notes=_A100_SXM4_80GB_NOTES, ci_sm_per_slice=14,
                      ci_sm_note=_inf('sm', '14 SM per compute slice observed on A100-40GB; assumed for the 80GB A100')),
        min_driver=_A100_MIN, combination_min_drivers=_AMPERE_4G_3G,
        notes=_UNV_NAME + _UNV_MEMORY + _COMBINATION_80GB_INFERRED + _unv(
            'pci_device_ids', '0x20B2 is an A100 80GB in mig-parted\'s 80GB filter group and DGX Station config (mig.md 2.1); '
            'the SXM4 board assignment comes from the project table'),
    ),
    _model(
        'A100-PCIE-80GB', ('NVIDIA A100 80GB PCIe',), (0x20B5,), ARCH_AMPERE, (8, 0), 81920,
        _mig_profiles(_EIGHT_SLICE_LAYOUT, _A100_80GB_ROWS, placements_note=_PLACEMENTS_INFERRED, min_drivers=_A100_80GB_MIN_DRIVERS,
                      notes=_A100_80GB_NOTES, ci_sm_per_slice=14,
                      ci_sm_note=_inf('sm', '14 SM per compute slice observed on A100-40GB; assumed for the 80GB A100')),
        min_driver=_A100_MIN, combination_min_drivers=_AMPERE_4G_3G,
        notes=_UNV_NAME + _UNV_MEMORY + _COMBINATION_80GB_INFERRED + _unv(
            'pci_device_ids', '0x20B5 is in mig-parted\'s 80GB filter group (mig.md 2.1); the PCIe board assignment comes from the '
            'project table'),
    ),
    _model(
        'A30', ('NVIDIA A30',), (0x20B7,), ARCH_AMPERE, (8, 0), 24576,
        _mig_profiles(_A30_LAYOUT, _A30_ROWS, min_drivers=_A30_MIN_DRIVERS, notes=_A30_NOTES, ci_sm_per_slice=14,
                      ci_sm_note=_inf('sm', '14 SM per compute slice as for the A30 GI profiles; CI SM counts not seen')),
        min_driver=_A30_MIN,
        notes=_UNV_NAME + _UNV_MEMORY + _unc(
            'gi_profiles.max_count', 'NVML GetGpuInstanceProfileInfo returns wrong instanceCount values on A30 (mig-parted hard-codes the '
            'A30 table); the catalog uses the MIG guide counts, so do not cross-check them against NVML on A30')
        + _unc('gi_profiles.enc', 'no encoder count for A30 in the reference'),
    ),
    _model(
        'H100-SXM5-80GB', ('NVIDIA H100 80GB HBM3',), (0x2330,), ARCH_HOPPER, (9, 0), 81559,
        _mig_profiles(_EIGHT_SLICE_LAYOUT, _H100_80GB_ROWS, hopper_ci_rev1=True),
        min_driver=_H100_MIN,
        notes=_UNV_MEMORY + _HOPPER_CI_REV1 + _unv(
            'pci_device_ids', '0x2330 is in mig-parted\'s 80GB filter group (mig.md 2.1); the SXM5 board assignment comes from the '
            'project table') + _unc(
            'gi_profiles.starts', 'the -lgipp seen for "H100 80GB" (Google Dataproc script, mig.md 4.3) does not name the board; taken as SXM5'),
    ),
    _model(
        'H100-PCIE-80GB', ('NVIDIA H100 PCIe',), (0x2331,), ARCH_HOPPER, (9, 0), 81559,
        _mig_profiles(_EIGHT_SLICE_LAYOUT, _H100_PCIE_ROWS, placements_note=_inf(
            'starts', 'the -lgipp seen for H100 80GB is taken to be an SXM5 board; assumed identical on PCIe'), notes=_H100_PCIE_NOTES, hopper_ci_rev1=True),
        min_driver=_H100_MIN,
        notes=_UNV_NAME + _UNV_MEMORY + _HOPPER_CI_REV1 + _unv(
            'pci_device_ids', '0x2331 is in mig-parted\'s 80GB filter group (mig.md 2.1); the PCIe board assignment comes from the '
            'project table'),
    ),
    _model(
        'H100-NVL', ('NVIDIA H100 NVL',), (0x2321,), ARCH_HOPPER, (9, 0), 95830,
        _mig_profiles(_EIGHT_SLICE_LAYOUT, _H100_NVL_ROWS, hopper_ci_rev1=True),
        min_driver=_H100_MIN,
        notes=_UNV_NAME + _UNV_MEMORY + _HOPPER_CI_REV1 + _unc(
            'gi_profiles.memory_mib', 'profile -lgip figures vary with the driver: another driver shows 21.50 / 46.12 / 92.62 GiB '
            'for 2g (and 1g.24gb) / 3g and 4g / 7g'),
    ),
    _model(
        'H200-141GB', ('NVIDIA H200',), (0x2335, 0x233B), ARCH_HOPPER, (9, 0), 143771,
        _mig_profiles(_EIGHT_SLICE_LAYOUT, _H200_ROWS, placements_note=_PLACEMENTS_INFERRED, notes=_H200_NOTES, hopper_ci_rev1=True),
        min_driver=_H200_MIN,
        notes=_UNV_NAME + _UNV_MEMORY + _HOPPER_CI_REV1 + _unv(
            'pci_device_ids', '0x233B (H200 NVL) shares mig-parted\'s H200 filter with 0x2335 (mig.md 2.1); the NVL board\'s own '
            'NVML name and memory total are not catalogued'),
    ),
    _model(
        'GH200-96GB', ('NVIDIA GH200 480GB',), (0x2342,), ARCH_HOPPER, (9, 0), 97871,
        _mig_profiles(_EIGHT_SLICE_LAYOUT, _GH200_96GB_ROWS, placements_note=_PLACEMENTS_INFERRED, notes=_GH200_96GB_NOTES, hopper_ci_rev1=True),
        min_driver=_H100_MIN,
        notes=_UNV_NAME + _UNV_MEMORY + _HOPPER_CI_REV1
        + _inf('min_driver', 'GH200 is not in the minimum-driver table (mig.md 5.1); the H100 minimum R525 (525.85.12) is assumed')
        + _inf('compute_capability', 'the reference gives 9.0 for H100/H200; GH200 is the same Hopper GPU')
        + _unv('pci_device_ids', '0x2342 is in mig-parted\'s H100-96GB/PG506/GH200/H20 filter group (mig.md 2.1); which id is the '
               'GH200 is not stated there'),
    ),
    _model(
        'B200', ('NVIDIA B200',), (0x2901,), ARCH_BLACKWELL, (10, 0), 183359,
        _mig_profiles(_EIGHT_SLICE_LAYOUT, _B200_ROWS, placements_note=_PLACEMENTS_INFERRED, notes=_B200_NOTES),
        min_driver=_B200_MIN,
        notes=_UNV_NAME + _UNV_MEMORY,
    ),
    _model(
        'L40S', ('NVIDIA L40S',), (0x26B9,), ARCH_ADA, (8, 9), 46068,
        notes=_UNV_NAME + _UNV_MEMORY + _unv(('pci_device_ids', 'compute_capability', 'architecture'),
                                             'identity from the project table; the references only say that L40S has no MIG'),
    ),
    _model(
        'V100-SXM2-32GB', ('Tesla V100-SXM2-32GB',), (0x1DB5,), ARCH_VOLTA, (7, 0), 32768,
        notes=_UNV_NAME + _UNV_MEMORY + _unv(('pci_device_ids', 'compute_capability', 'architecture'),
                                             'identity from the project table; the references only say that V100 has no MIG'),
    ),
)

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


def find_model(pci_device_id=None, name=None):
    """The catalog model of a GPU, or None when the catalog does not know it (callers decide what that means).

    ``pci_device_id`` is the 16-bit device id (0x20B0), NVML's 32-bit pciDeviceId (0x20B010DE) or a hex string of either;
    it is tried first. ``name`` is an NVML device name, compared case-insensitively.
    """
    if pci_device_id is not None:
        device = _device_id(pci_device_id)
        for model in MODELS:
            if device in model.pci_device_ids:
                return model
    if name is not None:
        if isinstance(name, bytes):
            name = name.decode('utf-8', 'replace')
        wanted = name.strip().lower()
        for model in MODELS:
            if wanted in (n.lower() for n in model.names):
                return model
    return None
