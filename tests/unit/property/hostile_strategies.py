# Copyright (c) 2026 gpufleet.mig contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hypothesis strategies for hostile input: layouts, mig-parted configs, device plugin configs.

Most strategies build a valid-looking input and then plant one or two *poisons*: a value that is invalid by the
documented format (README "Layouts", reference mig.md 1.1-1.3, k8s.md 1.1), chosen here without asking the code
under test. Each poison says what a correct error must contain (:class:`Poison`), so a property can check that the
error names the bad value and says what would be valid. Other strategies produce plain junk (any JSON/YAML-shaped
value at any place), where only the kind of failure is checked.

"Names the bad value" means, here: the problem text contains ``repr(value)`` when that is at most
``SHORT`` characters long (or, for a key, the key itself), and otherwise the path of the value
(``layout[0].devices``); long or nested values are named by where they are.
"""

from __future__ import annotations

import dataclasses
import string
import typing as t

from hypothesis import strategies as st

from ansible_collections.gpufleet.mig.plugins.module_utils import _catalog

SHORT = 60

INLINE_KEYS = ('devices', 'device-filter', 'mig-enabled', 'mig-devices', 'placements', 'device-selector')
ENTRY_KEYS = INLINE_KEYS[:4]
PLACEMENT_KEYS = ('profile', 'start', 'compute_instances')
MIG_MODELS = tuple(m.key for m in _catalog.MODELS if m.mig_capable)


@dataclasses.dataclass(frozen=True)
class Poison:
    """One planted invalid value: ``level`` is 'parse' (found by parsing alone) or 'target' (needs the node's GPUs).

    A correct error has a problem that contains one of ``tokens`` (the value or its path) and one of ``hints``
    (what would be valid).
    """

    level: str
    kind: str
    tokens: t.Tuple[str, ...]
    hints: t.Tuple[str, ...]


# What a message about a bad profile name says is valid (the grammar, or the rule the name breaks).
NAME_HINTS = ('expected', 'cannot exceed', 'only', 'known attributes', 'repeated')


def name_of(value, where):
    """The tokens that name ``value`` found at ``where``: its repr when short, else only its path."""
    text = repr(value)
    return (text, where) if len(text) <= SHORT else (where,)


def problem_names(problems, poison):
    """True when one problem names the poison and says what is valid."""
    return any(any(tok in p for tok in poison.tokens) and any(h in p for h in poison.hints) for p in problems)


# --------------------------------------------------------------------------------------------------
# Junk: anything JSON or YAML can carry
# --------------------------------------------------------------------------------------------------

# Unicode, control characters and long strings are all fair game; surrogates cannot travel as UTF-8 JSON.
texts = st.text(st.characters(blacklist_categories=('Cs',)), max_size=20) | st.text(max_size=3).map(lambda s: s * 400)
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2 ** 63 - 2, max_value=2 ** 200)
           | st.integers(max_value=-1) | st.floats(allow_nan=True, allow_infinity=True) | texts)
keys = st.one_of(texts, st.integers(-3, 10 ** 12), st.booleans(), st.none())


def junk(max_leaves=10):
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                        max_leaves=max_leaves)


def nested(value, depth):
    for dummy in range(depth):
        value = [value]
    return value


deep = st.builds(nested, scalars, st.integers(20, 150))   # deeper than any layout, shallower than ansible-core's own limit
anything = junk() | deep


def not_in(values, strategy):
    return strategy.filter(lambda v: not any(type(v) is type(x) and v == x for x in values))


# --------------------------------------------------------------------------------------------------
# Profile names
# --------------------------------------------------------------------------------------------------

# Invalid by the grammar of mig.md 1.3 ('<G>g.<GB>gb', '<C>c.<G>g.<GB>gb', '+attr[,attr]' or '-me'), whatever the GPU.
BAD_NAMES = ('', '3g', '3g.40', '3g40gb', '0g.5gb', '3g.0gb', '4c.3g.20gb', '1g.5gb+foo', '1g.5gb-gfx', '1g.5gb+me+me',
             '1g.5gb+me,me', '1g.5GB', ' 1g.5gb', '1g.5gb ', 'g.5gb', '1c.1c.1g.5gb', '1g.5gb+', 'MIG 1g.5gb', '1g.5gb\n',
             '１g.5gb', '1g.5gb+me-me', '01g.5gb', 'mig-1g.5gb', '1g.5gb.me', 'c.1g.5gb')
bad_names = (st.sampled_from(BAD_NAMES)
             | st.builds(lambda a, b: a + '!' + b, st.text(max_size=6), st.text(max_size=6))   # '!' is never in a name
             | st.integers() | st.booleans() | st.none() | st.floats() | st.lists(st.text(max_size=3), max_size=2))
# Well-formed names that no catalog GPU offers: there are no 5g or 6g profiles, and no GI has 900 GB or more.
unknown_names = (st.builds('{}g.{}gb'.format, st.sampled_from([5, 6]), st.integers(1, 300))
                 | st.builds('{}g.{}gb'.format, st.sampled_from([1, 2, 3, 4, 7]), st.integers(900, 10 ** 6)))


def model(key):
    return _catalog.model_by_key(key)


def gi_names(key):
    return model(key).profile_names


def ci_names(key, gi=None):
    return tuple(c.name for p in model(key).gi_profiles if gi is None or p.name == gi for c in p.compute_profiles)


def drifted_names(key):
    """(drifted, canonical) pairs NVIDIA's drivers are documented to report for this model (_catalog.DOCUMENTED_DRIFT)."""
    return tuple(sorted(model(key).name_aliases.items()))


def near_names(key):
    """(name, profile) pairs: the GB figure of a profile off by one, and neither a profile nor a documented drift.

    Such a name is usually another board's (GH200 144G 3g.72gb next to H200 3g.71gb) and must be refused; only GB >= 10.
    """
    found = []
    names = set(gi_names(key)) | set(model(key).name_aliases)
    for profile in model(key).gi_profiles:
        head, dummy, tail = profile.name.partition('.')
        gb, sep, attrs = tail.partition('gb')
        if int(gb) < 10:
            continue
        for delta in (-1, 1):
            name = '%s.%dgb%s' % (head, int(gb) + delta, attrs)
            if name not in names:
                found.append((name, profile.name))
    return tuple(found)


# --------------------------------------------------------------------------------------------------
# Valid-looking layout entries for a node of known GPU models
# --------------------------------------------------------------------------------------------------

@st.composite
def mig_devices(draw, key):
    names = draw(st.lists(st.sampled_from(gi_names(key) + ci_names(key)), min_size=0, max_size=3, unique=True))
    return dict((name, draw(st.integers(1, 3))) for name in names)


@st.composite
def placements(draw, key, min_size=1):
    result = []
    for dummy in range(draw(st.integers(min_size, 3))):
        profile = model(key).profile(draw(st.sampled_from(gi_names(key))))
        item = {'profile': profile.name}
        if draw(st.booleans()):
            item['start'] = draw(st.sampled_from(profile.starts))
        if draw(st.booleans()):
            item['compute_instances'] = draw(st.lists(st.sampled_from(ci_names(key, profile.name)), min_size=1, max_size=3))
        result.append(item)
    return result


@st.composite
def entry(draw, models, inline=True, enabled=None):
    """One entry for the node whose GPU i is of model ``models[i]``, aimed at a single GPU (or all of one model)."""
    index = draw(st.sampled_from([i for i, k in enumerate(models) if model(k).mig_capable]))
    key = models[index]
    data = {}
    if len(set(models)) == 1 and draw(st.booleans()):
        if not inline or draw(st.booleans()):
            data['devices'] = 'all'
    else:
        data['devices'] = [index]
    if draw(st.integers(0, 4)) == 0:
        data['device-filter'] = '0x%04X10DE' % model(key).pci_device_ids[0]
    data['mig-enabled'] = enabled if enabled is not None else draw(st.integers(0, 5)) > 0
    if data['mig-enabled']:
        if inline and draw(st.integers(0, 2)) == 0:
            data['placements'] = draw(placements(key))
        else:
            data['mig-devices'] = draw(mig_devices(key))
        if inline and draw(st.integers(0, 5)) == 0:
            data['device-selector'] = draw(st.sampled_from(['[?mig_capable]', '[?index==`%d`]' % index, "[?model=='%s']" % key]))
    elif draw(st.booleans()):
        data['mig-devices'] = {}
    return data


# --------------------------------------------------------------------------------------------------
# Poisons for one entry; each returns (entry, Poison) and leaves the rest of the entry valid
# --------------------------------------------------------------------------------------------------

@st.composite
def poison_unknown_key(draw, data, where, inline, json_safe):
    valid = INLINE_KEYS if inline else ENTRY_KEYS
    key = draw(not_in(valid, texts if json_safe else keys))
    data = dict(data)
    data[key] = draw(junk(4))
    hints = ('valid keys',)
    return data, Poison('parse', 'unknown-key', (str(key),), hints)


@st.composite
def poison_inline_only_key(draw, data, where):
    key = draw(st.sampled_from(['placements', 'device-selector']))
    data = dict(data)
    data[key] = draw(junk(3))
    return data, Poison('parse', 'inline-only-key', (key,), ('only allowed in inline layouts',))


@st.composite
def poison_devices(draw, data, where, inline):
    at = where + '.devices'
    kind = draw(st.sampled_from(['int', 'str', 'element', 'other', 'missing' if not inline else 'int']))
    data = dict(data)
    if kind == 'missing':
        data.pop('devices', None)
        return data, Poison('parse', 'devices-missing', (at,), ('required',))
    if kind == 'int':
        value = draw(st.integers(0, 2 ** 70))
        hints = ('write [',)
    elif kind == 'str':
        value = draw(not_in(['all'], texts))
        hints = ("'all'",)
    elif kind == 'element':
        bad = draw(st.integers(max_value=-1) | st.booleans() | st.floats() | texts | st.none() | st.lists(st.integers(0, 3), max_size=2))
        good = draw(st.lists(st.integers(0, 7), max_size=2))
        value = good + [bad] + good
        data['devices'] = value
        return data, Poison('parse', 'devices-element', name_of(bad, at), ('GPU index',))
    else:
        value = draw(st.floats() | st.booleans() | st.dictionaries(texts, st.integers(), max_size=2))
        hints = ('expected',)
    data['devices'] = value
    return data, Poison('parse', 'devices-' + kind, name_of(value, at), hints)


@st.composite
def poison_filter(draw, data, where):
    at = where + '.device-filter'
    data = dict(data)
    value = draw(st.sampled_from(['20B010DE', '0x20B0', '0x20B010DEX', '0x20B010DE:', '0x20B010DE:0x1', '0x20B010DE:0x134F10DE:0x0',
                                  '0x20B010D', '0xGGGG10DE', '0x20B0_10DE'])
                 | st.builds(lambda s: '0x' + s + '%', st.text(max_size=8))      # '%' is never in a PCI id
                 | st.integers() | st.floats() | st.booleans() | st.dictionaries(texts, texts, max_size=2))
    bad = value
    if isinstance(value, str) and draw(st.booleans()):
        value = ['0x20B010DE', value]
    data['device-filter'] = value
    return data, Poison('parse', 'device-filter', name_of(bad, at), ('0xDDDDVVVV',))


@st.composite
def poison_enabled(draw, data, where):
    at = where + '.mig-enabled'
    data = dict(data)
    if draw(st.integers(0, 3)) == 0:
        data.pop('mig-enabled')
        return data, Poison('parse', 'mig-enabled-missing', (at,), ('required',))
    value = draw(not_in([True, False], scalars | st.lists(st.booleans(), max_size=2)))
    data['mig-enabled'] = value
    return data, Poison('parse', 'mig-enabled', name_of(value, at), ('true or false',))


def _enabled_with_devices(data):
    """The entry turned into mig-enabled: true with mig-devices (so that mig-devices is what gets checked)."""
    data = dict(data)
    data['mig-enabled'] = True
    data.pop('placements', None)
    data.setdefault('mig-devices', {})
    if not isinstance(data['mig-devices'], dict):
        data['mig-devices'] = {}
    return data


@st.composite
def poison_mig_devices(draw, data, where, key, json_safe):
    at = where + '.mig-devices'
    data = _enabled_with_devices(data)
    kind = draw(st.sampled_from(['type', 'missing', 'count', 'name']))
    if kind == 'type':
        value = draw(st.lists(scalars, max_size=3) | texts | st.integers() | st.booleans() | st.floats())
        data['mig-devices'] = value
        return data, Poison('parse', 'mig-devices-type', name_of(value, at), ('expected a mapping',))
    if kind == 'missing':
        del data['mig-devices']
        return data, Poison('parse', 'mig-devices-missing', (at,), ('required',))
    devices = dict(data['mig-devices'])
    if kind == 'count':
        name = draw(st.sampled_from(gi_names(key) + ci_names(key)))
        count = draw(st.integers(max_value=-1) | st.booleans() | st.floats() | texts | st.none() | st.lists(st.integers(), max_size=2))
        devices[name] = count
        data['mig-devices'] = devices
        return data, Poison('parse', 'count', name_of(count, at), ('integer >= 0',))
    name = draw(bad_names.filter(lambda n: isinstance(n, str) if json_safe else not isinstance(n, list)))   # a key is hashable
    devices[name] = draw(st.integers(1, 3))
    data['mig-devices'] = devices
    return data, Poison('parse', 'profile-name', name_of(name, at), NAME_HINTS)


def _enabled_with_placements(data, key, draw):
    data = dict(data)
    data['mig-enabled'] = True
    data.pop('mig-devices', None)
    if not isinstance(data.get('placements'), list) or not data['placements']:
        data['placements'] = draw(placements(key))
    return data


@st.composite
def poison_placements(draw, data, where, key, json_safe):
    data = _enabled_with_placements(data, key, draw)
    items = [dict(item) for item in data['placements']]
    number = draw(st.integers(0, len(items) - 1))
    at = '%s.placements[%d]' % (where, number)
    kind = draw(st.sampled_from(['type', 'item', 'key', 'profile-missing', 'profile', 'start', 'ci-type', 'ci-name']))
    if kind == 'type':
        value = draw(texts | st.integers() | st.booleans() | st.floats() | st.dictionaries(texts, st.integers(), max_size=2))
        data['placements'] = value
        return data, Poison('parse', 'placements-type', name_of(value, where + '.placements'), ('expected a list',))
    if kind == 'item':
        value = draw(scalars | st.lists(st.integers(), max_size=2))
        items[number] = value
        poison = Poison('parse', 'placement-item', name_of(value, at), ('expected a mapping',))
    elif kind == 'key':
        bad = draw(not_in(PLACEMENT_KEYS, texts if json_safe else keys))
        items[number][bad] = draw(scalars)
        poison = Poison('parse', 'placement-key', (str(bad),), ('valid keys',))
    elif kind == 'profile-missing':
        items[number].pop('profile')
        poison = Poison('parse', 'placement-profile-missing', (at + '.profile',), ('required',))
    elif kind == 'profile':
        value = draw(bad_names.filter(lambda n: n is not None))    # null is a missing profile, its own message
        items[number]['profile'] = value
        items[number].pop('compute_instances', None)
        poison = Poison('parse', 'placement-profile', name_of(value, at + '.profile'), NAME_HINTS)
    elif kind == 'start':
        value = draw(st.integers(max_value=-1) | st.booleans() | st.floats() | texts | st.lists(st.integers(0, 6), max_size=2))
        items[number]['start'] = value
        poison = Poison('parse', 'placement-start', name_of(value, at + '.start'), ('memory-slice index',))
    elif kind == 'ci-type':
        value = draw(texts | st.integers() | st.booleans() | st.dictionaries(texts, texts, max_size=2))
        items[number]['compute_instances'] = value
        poison = Poison('parse', 'placement-ci-type', name_of(value, at + '.compute_instances'), ('expected a list',))
    else:
        value = draw(bad_names)
        cis = list(items[number].get('compute_instances') or [items[number]['profile']])
        cis.insert(draw(st.integers(0, len(cis))), value)
        items[number]['compute_instances'] = cis
        poison = Poison('parse', 'placement-ci-name', name_of(value, at + '.compute_instances'), NAME_HINTS)
    data['placements'] = items
    return data, poison


JMESPATH_SYNTAX_ERRORS = ('[?', '|', '.', '==', '&&', '(', '`', '[?index==', 'foo[', '!', ']', '{a:', '@@', 'a.b.', "'")


@st.composite
def poison_selector(draw, data, where):
    at = where + '.device-selector'
    data = dict(data)
    kind = draw(st.sampled_from(['type', 'blank', 'syntax', 'nesting']))
    if kind == 'type':
        value = draw(not_in([None], scalars.filter(lambda v: not isinstance(v, str))) | st.lists(st.integers(), max_size=2))
    elif kind == 'blank':
        value = draw(st.text(' \t\n\r', max_size=5))
    elif kind == 'syntax':
        value = draw(st.sampled_from(['', 'gpus', '[?mig_capable]', 'length(@)', '[0]'])) + draw(st.sampled_from(JMESPATH_SYNTAX_ERRORS))
    else:
        # Valid at any depth, but the parser recurses per level: accepted, or refused by name, never a RecursionError.
        depth = draw(st.integers(100, 5000))
        data['device-selector'] = '(' * depth + 'index' + ')' * depth
        return data, None
    data['device-selector'] = value
    return data, Poison('parse', 'selector-' + kind, name_of(value, at), ('JMESPath',))


@st.composite
def poison_entry_type(draw, data, where, inline):
    value = draw(scalars | st.lists(scalars, max_size=3))
    return value, Poison('parse', 'entry-type', name_of(value, where), ('expected a mapping',))


@st.composite
def parse_poison(draw, data, where, key, inline=True, json_safe=False):
    """Plant one parse-level poison in entry ``data`` (for a GPU of model ``key``).

    ``json_safe``: only string keys, so that the input and its tokens survive the JSON trip of module arguments.
    """
    choices = ['unknown-key', 'devices', 'filter', 'enabled', 'mig-devices', 'entry-type']
    if inline:
        choices += ['placements', 'selector']
    else:
        choices += ['inline-only']
    kind = draw(st.sampled_from(choices))
    if kind == 'unknown-key':
        return draw(poison_unknown_key(data, where, inline, json_safe))
    if kind == 'inline-only':
        return draw(poison_inline_only_key(data, where))
    if kind == 'devices':
        return draw(poison_devices(data, where, inline))
    if kind == 'filter':
        return draw(poison_filter(data, where))
    if kind == 'enabled':
        return draw(poison_enabled(data, where))
    if kind == 'mig-devices':
        return draw(poison_mig_devices(data, where, key, json_safe))
    if kind == 'placements':
        return draw(poison_placements(data, where, key, json_safe))
    if kind == 'selector':
        return draw(poison_selector(data, where))
    return draw(poison_entry_type(data, where, inline))


# Selectors that compile but cannot be evaluated over the GPU list, or return something that is not a GPU.
JMESPATH_RUNTIME_ERRORS = ('abs(`"x"`)', 'sum(@)', 'sort(@)', 'avg(@)', 'ceil(@)', 'not_null()', 'length(`1`)', 'keys(@)',
                           'max(@)', 'join(`","`, @)', 'to_array(@)[0].name', '`"0"`', '`[true]`', '`{"index": "0"}`', '[].uuid')


@st.composite
def target_poison(draw, data, where, key, number, gpu_count):
    """Plant one poison that only the node's GPUs reveal; ``number`` is the entry's position (from 1)."""
    kind = draw(st.sampled_from(['unknown-profile', 'unknown-placement', 'too-many', 'bad-start', 'missing-gpu', 'wrong-ci', 'selector']))
    if kind == 'unknown-profile':
        data = _enabled_with_devices(data)
        name = draw(unknown_names)
        data['mig-devices'] = dict(data['mig-devices'], **{name: draw(st.integers(1, 2))})
        return data, Poison('target', kind, (repr(name),), ('valid profiles',))
    if kind == 'unknown-placement':
        data = _enabled_with_placements(data, key, draw)
        name = draw(unknown_names)
        data['placements'] = data['placements'] + [{'profile': name}]
        return data, Poison('target', kind, (repr(name),), ('valid profiles',))
    if kind == 'too-many':
        data = _enabled_with_devices(data)
        name = draw(st.sampled_from(gi_names(key) + ci_names(key)))
        count = draw(st.integers(model(key).max_mig_devices + 1, 10 ** 30))
        data['mig-devices'] = dict(data['mig-devices'], **{name: count})
        return data, Poison('target', kind, (str(count),), ('at most',))
    if kind == 'bad-start':
        data = _enabled_with_placements(data, key, draw)
        profile = model(key).profile(draw(st.sampled_from(gi_names(key))))
        start = draw(st.integers(0, 2 ** 40).filter(lambda s: s not in profile.starts))
        data['placements'] = data['placements'] + [{'profile': profile.name, 'start': start}]
        return data, Poison('target', kind, ('memory slice %d' % start,), ('valid starts',))
    if kind == 'missing-gpu':
        data = dict(data)
        index = draw(st.integers(gpu_count, 2 ** 64))
        data['devices'] = [index]
        return data, Poison('target', kind, (str(index),), ('GPU indices',))
    if kind == 'wrong-ci':
        data = _enabled_with_placements(data, key, draw)
        gi = draw(st.sampled_from(gi_names(key)))
        others = [c for c in ci_names(key) if c not in ci_names(key, gi) and c.split('.', 1)[-1] != gi]
        if not others:
            return draw(target_poison(data, where, key, number, gpu_count))
        ci = draw(st.sampled_from(others))
        data['placements'] = data['placements'] + [{'profile': gi, 'compute_instances': [ci]}]
        return data, Poison('target', kind, (repr(ci),), ('valid',))
    data = dict(data)
    selector = draw(st.sampled_from(JMESPATH_RUNTIME_ERRORS))
    data['device-selector'] = selector
    return data, Poison('target', 'selector-runtime', (repr(selector),), ('must return', 'JMESPath'))


# --------------------------------------------------------------------------------------------------
# Whole inline layouts and mig-parted configs
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    """A generated input and the poisons planted in it (none for a layout that may well be valid)."""

    value: t.Any
    poisons: t.Tuple[Poison, ...] = ()
    label: t.Optional[str] = None


@st.composite
def inline_case(draw, models, mode=None, json_safe=False):
    """An inline layout for a node with GPUs of ``models``; ``mode``: 'clean', 'parse' (1-2 poisons), 'target' (one)."""
    mode = mode or draw(st.sampled_from(['clean', 'parse', 'parse', 'target']))
    count = draw(st.integers(1, 3))
    entries = [draw(entry(models)) for dummy in range(count)]
    poisons = []
    if mode == 'parse':
        for number in sorted(set(draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=2)))):
            key = _key_of(entries[number], models)
            entries[number], poison = draw(parse_poison(entries[number], 'layout[%d]' % number, key, json_safe=json_safe))
            poisons.extend([poison] if poison else [])
    elif mode == 'target':
        # The last entry wins for a GPU it selects (mig-parted semantics), so the poison goes there.
        number = count - 1
        key = _key_of(entries[number], models)
        entries[number], poison = draw(target_poison(entries[number], 'entry %d' % (number + 1), key, number + 1, len(models)))
        poisons.append(poison)
    value = entries
    if count == 1 and not poisons and draw(st.booleans()):
        value = entries[0]      # one entry may be given without the list
    return Case(value, tuple(poisons))


def _key_of(data, models):
    devices = data.get('devices')
    if isinstance(devices, list) and devices and isinstance(devices[0], int) and 0 <= devices[0] < len(models):
        return models[devices[0]]
    return [k for k in models if model(k).mig_capable][0]


@st.composite
def top_level_junk_case(draw):
    value = draw(not_in([None], scalars) | st.just([]) | st.just({}))
    if isinstance(value, dict):
        return Case(value)      # {} is one entry with nothing in it: its own problems
    return Case(value, (Poison('parse', 'layout-type', name_of(value, 'the layout'), ('non-empty list',)),))


@st.composite
def junk_layout(draw):
    """Entries made of valid keys and junk values, junk keys, or junk altogether."""
    value_for = st.one_of(anything, st.sampled_from(['all', True, False, {}, [], '3g.20gb', [0], {'1g.5gb': 1}]))
    one = st.dictionaries(st.sampled_from(INLINE_KEYS) | keys, value_for, max_size=6)
    return draw(st.lists(one | anything, min_size=0, max_size=3) | anything)


@st.composite
def mig_parted_case(draw, models, mode=None, json_safe=False):
    """A mig-parted v1 config (as a dict) for a node with GPUs of ``models``, and the label to select."""
    mode = mode or draw(st.sampled_from(['clean', 'parse', 'parse', 'top', 'target']))
    labels = draw(st.lists(st.text(string.ascii_lowercase + string.digits + '-_', min_size=1, max_size=12), min_size=1, max_size=3,
                           unique=True))
    label = draw(st.sampled_from(labels))
    configs = dict((name, [draw(entry(models, inline=False)) for dummy in range(draw(st.integers(1, 2)))]) for name in labels)
    data = {'version': 'v1', 'mig-configs': configs}
    pass_label = label if len(labels) > 1 or draw(st.booleans()) else None
    poisons = []
    entries = configs[label]
    if mode == 'parse':
        number = draw(st.integers(0, len(entries) - 1))
        key = _key_of(entries[number], models)
        entries[number], poison = draw(parse_poison(entries[number], 'mig-configs.%s[%d]' % (label, number), key, inline=False,
                                                    json_safe=json_safe))
        poisons.extend([poison] if poison else [])
    elif mode == 'target':
        number = len(entries) - 1
        key = _key_of(entries[number], models)
        entry_value, poison = draw(target_poison(entries[number], 'entry %d' % (number + 1), key, number + 1, len(models)))
        if poison.kind in ('selector-runtime', 'unknown-placement', 'bad-start', 'wrong-ci'):
            poison = None       # placements and selectors are inline-only
        else:
            entries[number] = entry_value
            poisons.append(poison)
    elif mode == 'top':
        kind = draw(st.sampled_from(['version', 'version-missing', 'unknown-top', 'configs-type', 'configs-missing', 'configs-empty',
                                     'label-unknown', 'label-missing', 'entries']))
        if kind == 'version':
            value = draw(not_in(['v1'], scalars | st.sampled_from(['V1', 'v1 ', 'v2', '1', 'v1.0'])))
            data['version'] = value
            poisons.append(Poison('parse', kind, name_of(value, 'version'), ('only v1',)))
        elif kind == 'version-missing':
            del data['version']
            poisons.append(Poison('parse', kind, ('version',), ('required',)))
        elif kind == 'unknown-top':
            key = draw(not_in(['version', 'mig-configs'], texts if json_safe else keys))
            data[key] = draw(junk(3))
            poisons.append(Poison('parse', kind, (str(key),), ('valid keys',)))
        elif kind == 'configs-type':
            value = draw(not_in([None], scalars) | st.lists(scalars, max_size=2))
            data['mig-configs'] = value
            poisons.append(Poison('parse', kind, name_of(value, 'mig-configs'), ('expected a mapping',)))
        elif kind == 'configs-missing':
            del data['mig-configs']
            poisons.append(Poison('parse', kind, ('mig-configs',), ('required',)))
        elif kind == 'configs-empty':
            data['mig-configs'] = {}
            poisons.append(Poison('parse', kind, ('mig-configs',), ('at least one label',)))
        elif kind == 'label-unknown':
            pass_label = draw(not_in(labels, st.text(max_size=12)))
            poisons.append(Poison('parse', kind, (repr(pass_label),), ('labels:',)))
        elif kind == 'label-missing':
            if len(labels) == 1:
                configs['%s-2' % label] = list(entries)
            pass_label = None
            poisons.append(Poison('parse', kind, ('labels',), ('select one of',)))
        else:
            value = draw(st.just([]) | scalars | st.dictionaries(texts, scalars, max_size=2))
            configs[label] = value
            poisons.append(Poison('parse', kind, ('mig-configs.%s' % label,), ('non-empty list',)))
    return Case(data, tuple(poisons), pass_label)


# --------------------------------------------------------------------------------------------------
# Device plugin configs (k8s.md 1.1)
# --------------------------------------------------------------------------------------------------

PLUGIN_CHOICES = {
    'flags.migStrategy': ('none', 'single', 'mixed'),
    'flags.deviceDiscoveryStrategy': ('auto', 'nvml', 'tegra'),
    'flags.plugin.deviceListStrategy': ('envvar', 'volume-mounts', 'cdi-annotations', 'cdi-cri'),
    'flags.plugin.deviceIDStrategy': ('uuid', 'index'),
    'flags.plugin.sharedDevicesAllocationPolicy': ('distributed', 'packed'),
}
PLUGIN_BOOLS = ('flags.failOnInitError', 'flags.gdrcopyEnabled', 'flags.gdsEnabled', 'flags.mofedEnabled', 'flags.useNodeFeatureAPI',
                'flags.plugin.passDeviceSpecs', 'flags.gfd.oneshot', 'flags.gfd.noTimestamp', 'imex.required')
PLUGIN_STRINGS = ('flags.nvidiaDriverRoot', 'flags.nvidiaDevRoot', 'flags.mpsRoot', 'flags.plugin.cdiAnnotationPrefix',
                  'flags.plugin.nvidiaCTKPath', 'flags.plugin.containerDriverRoot', 'flags.gfd.sleepInterval', 'flags.gfd.outputFile',
                  'flags.gfd.machineTypeFile')
PLUGIN_MAPPINGS = ('flags', 'flags.plugin', 'flags.gfd', 'resources', 'sharing', 'sharing.timeSlicing', 'sharing.mps', 'imex')
RESOURCE_NAMES = ('nvidia.com/gpu', 'nvidia.com/mig-1g.10gb', 'nvidia.com/mig-3g.40gb', 'gpu')


def _put(data, path, value):
    parts = path.split('.')
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def _get(data, path):
    for part in path.split('.'):
        data = data[part]
    return data


@st.composite
def replicated(draw):
    resources = []
    for dummy in range(draw(st.integers(1, 2))):
        item = {'name': draw(st.sampled_from(RESOURCE_NAMES)), 'replicas': draw(st.integers(2, 64))}
        if draw(st.integers(0, 3)) == 0:
            item['devices'] = draw(st.just('all') | st.integers(1, 8) | st.lists(st.sampled_from([0, 1, '0:1', 'GPU-x', 'MIG-y']), max_size=2))
        if draw(st.integers(0, 3)) == 0:
            item['rename'] = draw(st.sampled_from(['shared-gpu', 'nvidia.com/gpu-shared']))
        resources.append(item)
    data = {'resources': resources}
    if draw(st.booleans()):
        data['renameByDefault'] = draw(st.booleans())
    if draw(st.booleans()):
        data['failRequestsGreaterThanOne'] = draw(st.booleans())
    return data


@st.composite
def plugin_config(draw):
    """A valid device plugin v1 config."""
    data = {}
    version = draw(st.sampled_from(['v1', '', None]))
    if version is not None:
        data['version'] = version
    for path, choices in PLUGIN_CHOICES.items():
        if draw(st.integers(0, 2)) == 0 or path == 'flags.migStrategy':
            value = draw(st.sampled_from(choices))
            if path == 'flags.plugin.deviceListStrategy' and draw(st.booleans()):
                value = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=2))
            _put(data, path, value)
    for path in PLUGIN_BOOLS:
        if draw(st.integers(0, 4)) == 0:
            _put(data, path, draw(st.booleans()))
    for path in PLUGIN_STRINGS:
        if draw(st.integers(0, 4)) == 0:
            _put(data, path, draw(st.sampled_from(['/', '/run/nvidia/driver', '60s', 'x'])))
    if draw(st.integers(0, 3)) == 0:
        _put(data, 'imex.channelIDs', draw(st.sampled_from([[], [0]])))
    if draw(st.integers(0, 3)) == 0:
        _put(data, 'resources.' + draw(st.sampled_from(['gpus', 'mig'])),
             [{'pattern': draw(st.sampled_from(['*', 'A100*', '1g.10gb'])), 'name': draw(st.sampled_from(['gpu', 'mig-small']))}])
    if draw(st.booleans()):
        _put(data, 'sharing.timeSlicing', draw(replicated()))
    if draw(st.integers(0, 3)) == 0 and data['flags']['migStrategy'] != 'mixed':
        _put(data, 'sharing.mps', draw(replicated()))
    return data


def _paths(data, prefix=''):
    """Every mapping path of ``data`` ('' for the top)."""
    yield prefix
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _paths(value, '%s.%s' % (prefix, key) if prefix else key)


@st.composite
def plugin_case(draw):
    """A device plugin config (dict) with one poison, or none."""
    data = draw(plugin_config())
    kind = draw(st.sampled_from(['clean', 'unknown-key', 'bool', 'string', 'choice', 'mapping', 'replicas', 'resource-name',
                                 'resource-key', 'pattern', 'version', 'mps-mixed', 'channel-ids', 'rename', 'devices']))
    shared = [p for p in ('sharing.timeSlicing', 'sharing.mps') if p in _paths_set(data)]
    if kind == 'clean':
        return Case(data)
    if kind == 'unknown-key':
        paths = list(_paths(data))
        path = draw(st.sampled_from(paths))
        valid = set(_get(data, path)) if path else set()
        key = draw(st.text(string.ascii_letters + '-_', min_size=1, max_size=12).filter(lambda k: k not in valid and k not in _SCHEMA_KEYS))
        target = _get(data, path) if path else data
        target[key] = draw(junk(3))
        where = '%s.%s' % (path, key) if path else key
        return Case(data, (Poison('parse', kind, (where + ': unknown key',), ('valid keys',)),))
    if kind == 'bool':
        path = draw(st.sampled_from(PLUGIN_BOOLS))
        # null is left out: the plugin reads it as unset, which is not an error there.
        value = draw(not_in([True, False, None], scalars | st.sampled_from(['true', 'yes', 'on', 0, 1])))
        _put(data, path, value)
        tokens = ('%s: %r' % (path, value),) if len(repr(value)) <= SHORT else (path + ':',)
        return Case(data, (Poison('parse', kind, tokens, ('must be a boolean',)),))
    if kind == 'string':
        path = draw(st.sampled_from(PLUGIN_STRINGS))
        value = draw(not_in([None], scalars.filter(lambda v: not isinstance(v, str))) | st.lists(texts, max_size=2))
        _put(data, path, value)
        return Case(data, (Poison('parse', kind, (path + ':',), ('must be a string',)),))
    if kind == 'choice':
        path = draw(st.sampled_from(sorted(PLUGIN_CHOICES)))
        value = draw(not_in(PLUGIN_CHOICES[path], texts | st.sampled_from(['Mixed', 'MIXED', ' none', 'single ', 'auto,nvml'])))
        _put(data, path, value)
        if path == 'flags.migStrategy':
            data.get('sharing', {}).pop('mps', None)
        return Case(data, (Poison('parse', kind, ('%s: %r' % (path, value),) if len(repr(value)) <= SHORT else (path + ':',), ('valid values',)),))
    if kind == 'mapping':
        path = draw(st.sampled_from(PLUGIN_MAPPINGS))
        value = draw(not_in([None], scalars) | st.lists(scalars, max_size=2))
        _put(data, path, value)
        if path.startswith('flags'):
            data.get('sharing', {}).pop('mps', None)
        return Case(data, (Poison('parse', kind, (path + ':',), ('must be a mapping',)),))
    if kind == 'version':
        value = draw(not_in(['v1', ''], scalars | st.sampled_from(['V1', 'v2', 'v1 ', 'v0'])))
        data['version'] = value
        return Case(data, (Poison('parse', kind, name_of(value, 'version'), ('valid: v1',)),))
    if kind == 'mps-mixed':
        _put(data, 'flags.migStrategy', 'mixed')
        _put(data, 'sharing.mps', draw(replicated()))
        return Case(data, (Poison('parse', kind, ('sharing.mps',), ('not supported',)),))
    if kind == 'channel-ids':
        value = draw(not_in([[], [0]], scalars | st.lists(st.integers(-2, 3) | texts, min_size=1, max_size=3)))
        _put(data, 'imex.channelIDs', value)
        return Case(data, (Poison('parse', kind, ('imex.channelIDs:',), ('must be [] or [0]',)),))
    if kind == 'pattern':
        group = draw(st.sampled_from(['gpus', 'mig']))
        item = {'pattern': '*', 'name': 'gpu'}
        field = draw(st.sampled_from(['pattern', 'name']))
        value = draw(st.sampled_from(['', None]) | st.integers() | st.booleans() | st.lists(texts, max_size=2)
                     | st.dictionaries(texts, texts, max_size=1))
        item[field] = value
        _put(data, 'resources.' + group, [item])
        return Case(data, (Poison('parse', kind, ('resources.%s[0]' % group,), ('must be', 'must have')),))
    if not shared:
        path = 'sharing.timeSlicing'
        _put(data, path, draw(replicated()))
        if data['flags']['migStrategy'] == 'mixed':
            data['sharing'].pop('mps', None)
    else:
        path = draw(st.sampled_from(shared))
    item = _get(data, path)['resources'][0]
    at = '%s.resources[0]' % path
    if kind == 'replicas':
        value = draw(st.integers(max_value=1) | st.booleans() | st.floats() | texts | st.lists(st.integers(), max_size=1) | st.none())
        if value is None:
            del item['replicas']
            return Case(data, (Poison('parse', kind, (at + '.replicas',), ('give', '>= 2')),))
        item['replicas'] = value
        return Case(data, (Poison('parse', kind, (at + '.replicas: ' + repr(value),) if len(repr(value)) <= SHORT else (at + '.replicas',),
                                  ('>= 2',)),))
    if kind == 'resource-name':
        value = draw(st.sampled_from(['', None]) | st.integers() | st.booleans() | st.lists(texts, max_size=2) | st.floats())
        if value is None:
            del item['name']
        else:
            item['name'] = value
        return Case(data, (Poison('parse', kind, (at + '.name',), ('give', 'must be')),))
    if kind == 'resource-key':
        key = draw(not_in(['name', 'replicas', 'rename', 'devices'], st.text(string.ascii_letters, min_size=1, max_size=10) | st.integers()))
        item[key] = draw(scalars)
        return Case(data, (Poison('parse', kind, ('%s.%s: unknown key' % (at, key),), ('valid keys',)),))
    if kind == 'rename':
        value = draw(st.integers() | st.booleans() | st.lists(texts, min_size=1, max_size=2) | st.dictionaries(texts, texts, min_size=1, max_size=1))
        item['rename'] = value
        return Case(data, (Poison('parse', kind, (at + '.rename',), ('must be',)),))
    value = draw(st.integers(max_value=0) | st.booleans() | st.floats() | st.dictionaries(texts, texts, min_size=1, max_size=1)
                 | not_in(['all'], texts) | st.lists(st.floats() | st.booleans() | st.none() | st.integers(max_value=-1), min_size=1, max_size=2))
    item['devices'] = value
    return Case(data, (Poison('parse', kind, (at + '.devices',), ('must be',)),))


_SCHEMA_KEYS = {'version', 'flags', 'resources', 'sharing', 'imex', 'migStrategy', 'failOnInitError', 'nvidiaDriverRoot', 'nvidiaDevRoot',
                'mpsRoot', 'gdrcopyEnabled', 'gdsEnabled', 'mofedEnabled', 'useNodeFeatureAPI', 'deviceDiscoveryStrategy', 'plugin', 'gfd',
                'passDeviceSpecs', 'deviceListStrategy', 'deviceIDStrategy', 'cdiAnnotationPrefix', 'nvidiaCTKPath',
                'containerDriverRoot', 'sharedDevicesAllocationPolicy', 'oneshot', 'noTimestamp', 'sleepInterval', 'outputFile',
                'machineTypeFile', 'gpus', 'mig', 'timeSlicing', 'mps', 'channelIDs', 'required', 'renameByDefault',
                'failRequestsGreaterThanOne'}


def _paths_set(data):
    return set(_paths(data))


@st.composite
def junk_plugin_config(draw):
    """Schema keys and junk keys with junk values, at two levels."""
    inner = st.dictionaries(st.sampled_from(sorted(_SCHEMA_KEYS)) | keys, anything, max_size=4)
    return draw(st.dictionaries(st.sampled_from(['version', 'flags', 'resources', 'sharing', 'imex']) | keys, inner | anything, max_size=5))
